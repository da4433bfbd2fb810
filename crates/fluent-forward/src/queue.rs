//! The bounded buffer between the producer (the JS thread) and the writer thread.
//!
//! Records are appended, already framed as `[time, record]` entries, to one open batch per tag;
//! a batch is sealed when it reaches `batch_bytes` or when its first record has waited
//! `flush_interval`, and sealed batches wait in FIFO order for the writer. One uncontended mutex
//! guards it: a producer holds it for one memcpy, the writer only to move whole batches, so the
//! lock is never held across I/O. Emptied batches come back through a pool (16 buffers, or one per
//! tag with more tags), so the steady state allocates nothing per record or per batch.
//!
//! Two budgets, both under that lock. The cap: footprints (entry bytes plus a 4-byte index slot)
//! queued here or held by the writer never exceed `max_bytes`; this is what JS predicts, so it
//! counts nothing else. Memory: no batch reserves ahead on its own; buffers grow by doubling, so
//! what is allocated stays within twice the buffered footprint plus `Limits::slack` (shared with the
//! pool), and 10,000 tags allocate no more than their records need.

use crate::codec::entry::{entry_prefix_len, write_entry};
use crate::codec::event_time::{EventTime, TimeFormat};
use crate::config::Overflow;
use crate::prefetch;
use crate::tags::TagTable;
use crate::undelivered::Undelivered;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use crate::tags::MAX_TAGS;
/// Emptied batches the pool keeps at least; with more tags it keeps up to one per tag (see `recycle`).
const POOL_SIZE: usize = 16;
/// What a fresh batch buffer reserves when the memory budget allows.
const INITIAL_BATCH: usize = 64 << 10;

/// A batch of entries for one tag.
#[derive(Debug)]
pub struct Chunk {
  pub tag: Arc<str>,
  pub tag_id: u32,
  /// Concatenated `[time, record]` entries.
  pub entries: Vec<u8>,
  /// Start offset of each entry in `entries` (Message mode sends them one by one).
  pub offsets: Vec<u32>,
  /// When the first record arrived.
  pub since: Instant,
}

/// Memory a buffered record costs beyond its entry bytes: its slot in the offset index.
pub const INDEX_BYTES: usize = 4;

impl Chunk {
  pub fn records(&self) -> usize {
    self.offsets.len()
  }

  /// What this batch counts against the byte cap: its entries and their offset index.
  pub fn footprint(&self) -> usize {
    self.entries.len() + INDEX_BYTES * self.offsets.len()
  }

  /// What this batch has allocated; never less than `footprint`.
  pub fn capacity(&self) -> usize {
    self.entries.capacity() + INDEX_BYTES * self.offsets.capacity()
  }

  pub fn entry(&self, i: usize) -> &[u8] {
    let start = self.offsets[i] as usize;
    let end = self
      .offsets
      .get(i + 1)
      .map_or(self.entries.len(), |e| *e as usize);
    &self.entries[start..end]
  }
}

/// What happened to a pushed record.
#[derive(Debug, PartialEq, Eq)]
pub enum Pushed {
  /// Buffered. `wake` asks the caller to wake the writer (a batch was sealed or a timer must start).
  Accepted {
    wake: bool,
  },
  /// Refused under `dropNewest` (or `dropOldest` when discarding older batches could not make room).
  Dropped,
  /// Refused under the `error` policy.
  Full,
  Closed,
}

/// One tag's open batch, linked into the list of open batches in arrival order so that the writer
/// finds the due ones without scanning every tag.
#[derive(Default)]
struct Slot {
  chunk: Option<Chunk>,
  prev: Option<u32>,
  next: Option<u32>,
}

pub struct Queue {
  tags: TagTable,
  /// By tag id: its open batch.
  open: Vec<Slot>,
  /// Ends of the open-batch list: the oldest batch is the next to become due.
  oldest: Option<u32>,
  newest: Option<u32>,
  sealed: VecDeque<Chunk>,
  pool: Vec<Chunk>,
  /// Capacity of the open and sealed batches. It stays within `bytes + slack`: without a shared
  /// budget every tag's buffer reserves ahead on its own, and 10,000 tags allocate far past the cap.
  alloc: usize,
  /// Capacity of the pooled batches. The pool lives in whatever the open and sealed batches leave
  /// of `max_bytes + slack` (less what the writer holds), so everything together stays within it.
  pooled: usize,
  slack: usize,
  max_bytes: usize,
  /// Footprint and records in open and sealed batches.
  pub bytes: usize,
  pub records: usize,
  /// Footprint and records the writer has taken and not yet given back with `release`. They count
  /// against the cap, and live under the same lock as `bytes` so that no push can slip between a
  /// `take` and its accounting.
  pub held_bytes: usize,
  pub held_records: usize,
  pub emitted: u64,
  /// Records refused at the door: overflow policy `dropNewest`/`error`, a closed client, a staged
  /// frame that failed its checks.
  pub refused: u64,
  /// Records accepted, then discarded by `dropOldest` to make room.
  pub discarded: u64,
  /// Dropped records not yet reported through the error sink.
  pub unreported_drops: u64,
  pub closed: bool,
  /// Set when the embedding has a failure handler: dropped records are kept for it (bounded).
  pub undelivered: Option<Undelivered>,
}

pub struct Limits {
  pub max_bytes: usize,
  pub batch_bytes: usize,
  pub overflow: Overflow,
  pub time_format: TimeFormat,
}

impl Limits {
  /// Allocation allowed beyond the buffered footprint: one open batch growing towards `batch_bytes`
  /// plus one pooled buffer of that size keep the steady state free of allocations.
  pub fn slack(&self) -> usize {
    2 * self.batch_bytes
  }
}

/// Grows `v` by at least `need` elements: doubling up to `soft_max` elements, as far as `limit`
/// (bytes, for `alloc` after the growth) allows, and exactly beyond that. `alloc` follows the change.
fn reserve<T>(v: &mut Vec<T>, need: usize, soft_max: usize, alloc: &mut usize, limit: usize) {
  let (len, cap) = (v.len(), v.capacity());
  if cap - len >= need {
    return;
  }
  let size = std::mem::size_of::<T>();
  let exact = len + need;
  let amortized = (2 * cap).max(exact).min(soft_max.max(exact));
  let spare = limit.saturating_sub(*alloc + (exact - cap) * size) / size;
  v.reserve_exact(amortized.min(exact + spare) - len);
  *alloc = *alloc + v.capacity() * size - cap * size;
}

impl Queue {
  pub fn new(lim: &Limits) -> Self {
    Self {
      tags: TagTable::default(),
      open: Vec::new(),
      oldest: None,
      newest: None,
      sealed: VecDeque::new(),
      pool: Vec::new(),
      alloc: 0,
      pooled: 0,
      slack: lim.slack(),
      max_bytes: lim.max_bytes,
      bytes: 0,
      records: 0,
      held_bytes: 0,
      held_records: 0,
      emitted: 0,
      refused: 0,
      discarded: 0,
      unreported_drops: 0,
      closed: false,
      undelivered: None,
    }
  }

  /// The id of `tag` for JS (`js`: its caches are cleared only by `forget_idle_tags`) or for a
  /// transcoder, which sweeps the tags only transcoders know when the table is full (see `tags`).
  pub fn tag_id_for(&mut self, tag: &str, js: bool) -> Option<u32> {
    if let Some(id) = self.add_tag(tag, js) {
      return Some(id);
    }
    if !js && self.sweep_tags(false) > 0 {
      return self.add_tag(tag, js);
    }
    None
  }

  /// `tag_id_for` JS.
  pub fn tag_id(&mut self, tag: &str) -> Option<u32> {
    self.tag_id_for(tag, true)
  }

  fn add_tag(&mut self, tag: &str, js: bool) -> Option<u32> {
    let (id, fresh) = self.tags.get_or_add(tag, js)?;
    if fresh {
      self.open.push(Slot::default());
    }
    Some(id)
  }

  /// JS asks (its staged records handed over first, its caches cleared after): forgets every tag
  /// with nothing buffered that no one pinned. Returns how many.
  pub fn forget_idle_tags(&mut self) -> usize {
    self.sweep_tags(true)
  }

  fn sweep_tags(&mut self, js_too: bool) -> usize {
    let open = &self.open;
    // A tag with an open batch is busy; sealed and held batches carry their tag by name.
    self.tags.sweep(js_too, |id| open[id as usize].chunk.is_none())
  }

  /// Moves whenever tags were forgotten: caches of ids outside JS clear themselves when it does.
  pub fn tag_epoch(&self) -> u64 {
    self.tags.epoch
  }

  /// Live tags (with an open batch, pinned, or known since the last sweep).
  pub fn live_tags(&self) -> usize {
    self.tags.live()
  }

  pub fn pin_tag(&mut self, id: u32) {
    self.tags.pin(id);
  }

  pub fn unpin_tag(&mut self, id: u32) {
    self.tags.unpin(id);
  }

  pub fn has_tag(&self, id: u32) -> bool {
    self.tags.has(id)
  }

  /// With many tags, `push` finds each tag's slot and the ends of its batch's buffers cold: three
  /// cache misses a record, in turn. A caller that knows which tags come next asks for them
  /// ahead: the slot some records ahead (`prefetch_slot`), then, once the slot has arrived, the
  /// buffer ends it points at (`prefetch_tail`), so the misses overlap. Unknown tags are ignored.
  pub fn prefetch_slot(&self, tag_id: u32) {
    if let Some(slot) = self.open.get(tag_id as usize) {
      prefetch::line(slot);
    }
  }

  pub fn prefetch_tail(&self, tag_id: u32) {
    if let Some(Slot { chunk: Some(c), .. }) = self.open.get(tag_id as usize) {
      prefetch::line(c.entries.as_ptr().wrapping_add(c.entries.len()));
      prefetch::line(c.offsets.as_ptr().wrapping_add(c.offsets.len()));
    }
  }

  /// Appends one entry. The cap covers every buffered byte: queued here and held by the writer.
  pub fn push(&mut self, tag_id: u32, time: EventTime, record: &[u8], lim: &Limits) -> Pushed {
    if self.closed {
      self.refused += 1;
      return Pushed::Closed;
    }
    let len = entry_prefix_len(time, lim.time_format) + record.len() + INDEX_BYTES;
    if self.bytes + self.held_bytes + len > lim.max_bytes {
      match lim.overflow {
        Overflow::Error => {
          self.refused += 1;
          return Pushed::Full;
        }
        Overflow::DropNewest => return self.drop_new(tag_id, time, record, lim),
        Overflow::DropOldest => {
          // What the writer holds cannot be discarded from here: if that alone leaves no room,
          // discarding the queue would lose older records and still refuse this one.
          if self.held_bytes + len > lim.max_bytes {
            return self.drop_new(tag_id, time, record, lim);
          }
          while self.bytes + self.held_bytes + len > lim.max_bytes && self.drop_oldest_batch() {}
          if self.bytes + self.held_bytes + len > lim.max_bytes {
            return self.drop_new(tag_id, time, record, lim);
          }
        }
      }
    }
    let id = tag_id as usize;
    let mut wake = false;
    // What the open and sealed batches may have allocated once this record is in.
    // Doubling growth keeps a buffer within twice its contents, so allowing that (plus the slack)
    // never forces exact growth, which would copy a whole batch for every record; what is reserved
    // beyond the records still cannot exceed the records themselves, whatever the number of tags.
    let limit = 2 * (self.bytes + len) + self.slack;
    if self.open[id].chunk.is_none() {
      // One clock read per batch: with many tags a batch opens every few records.
      let now = Instant::now();
      // A pooled buffer is all spare capacity, so it is taken only while the budget has room for it.
      // Counted with what it must still grow for this record: its capacity is split between entries
      // and index, and a short entries part grows exactly, past `limit`.
      let need = len - INDEX_BYTES;
      let grows = |c: &Chunk| {
        need.saturating_sub(c.entries.capacity()) + if c.offsets.capacity() == 0 { INDEX_BYTES } else { 0 }
      };
      let pooled = match self.pool.last() {
        Some(c) if self.alloc + c.capacity() + grows(c) <= limit => self.pool.pop(),
        _ => None,
      };
      let chunk = match pooled {
        Some(c) => {
          self.pooled -= c.capacity();
          self.alloc += c.capacity();
          c
        }
        None => {
          let mut c = Chunk {
            tag: self.tags.name(tag_id).clone(),
            tag_id,
            entries: Vec::new(),
            offsets: Vec::new(),
            since: now,
          };
          // A fresh buffer starts at a working size while the budget has room for it (a writer
          // that lags empties the pool; growing from nothing would take a dozen reallocations per
          // batch), and from nothing once it has not (many tags share what is left).
          // Only within the doubling allowance, not the slack: reservations then stay within what is
          // buffered, whatever the batch size.
          let initial = lim.batch_bytes.min(INITIAL_BATCH);
          if self.alloc + initial + initial / 8 <= 2 * (self.bytes + len) {
            reserve(&mut c.entries, initial, lim.batch_bytes, &mut self.alloc, limit);
            reserve(&mut c.offsets, initial / 32, usize::MAX, &mut self.alloc, limit);
          }
          c
        }
      };
      self.open_batch(tag_id, chunk, now);
      // The writer must start a flush timer for this batch.
      wake = true;
    }
    let chunk = self.open[id].chunk.as_mut().expect("opened above");
    let need = len - INDEX_BYTES;
    // The index first, leaving the entry's own bytes for its buffer, so that both fit the limit.
    reserve(&mut chunk.offsets, 1, usize::MAX, &mut self.alloc, limit - need);
    reserve(&mut chunk.entries, need, lim.batch_bytes, &mut self.alloc, limit);
    chunk.offsets.push(chunk.entries.len() as u32);
    write_entry(&mut chunk.entries, time, lim.time_format, record);
    let full = chunk.entries.len() >= lim.batch_bytes;
    self.bytes += len;
    self.records += 1;
    self.emitted += 1;
    self.trim_pool();
    if full {
      self.seal(tag_id);
      wake = true;
    }
    Pushed::Accepted { wake }
  }

  /// A record given back by the failure handler: buffered only if it fits and the queue is open,
  /// never through the overflow policy, and not counted as emitted again (it was, once). `None`:
  /// no room (the caller counts it as dropped). `Some(wake)` as in `Pushed::Accepted`.
  pub fn requeue(&mut self, tag_id: u32, time: EventTime, record: &[u8], lim: &Limits) -> Option<bool> {
    let len = entry_prefix_len(time, lim.time_format) + record.len() + INDEX_BYTES;
    if self.closed || self.bytes + self.held_bytes + len > lim.max_bytes {
      return None;
    }
    match self.push(tag_id, time, record, lim) {
      Pushed::Accepted { wake } => {
        self.emitted -= 1;
        Some(wake)
      }
      _ => unreachable!("checked for room above"),
    }
  }

  fn drop_new(&mut self, tag_id: u32, time: EventTime, record: &[u8], lim: &Limits) -> Pushed {
    self.refused += 1;
    self.unreported_drops += 1;
    if let Some(u) = self.undelivered.as_mut() {
      u.keep_record(self.tags.name(tag_id), tag_id, time, lim.time_format, record);
    }
    Pushed::Dropped
  }

  /// Discards the oldest batch not yet taken by the writer. Returns false when there is none.
  fn drop_oldest_batch(&mut self) -> bool {
    if self.sealed.is_empty() {
      match self.oldest {
        Some(id) => self.seal(id),
        None => return false,
      }
    }
    let chunk = self.sealed.pop_front().expect("just checked or sealed");
    let n = chunk.records();
    self.bytes -= chunk.footprint();
    self.alloc -= chunk.capacity();
    self.records -= n;
    self.discarded += n as u64;
    self.unreported_drops += n as u64;
    let chunk = match self.undelivered.as_mut() {
      Some(u) => u.keep_chunk(chunk),
      None => Some(chunk),
    };
    if let Some(chunk) = chunk {
      self.recycle(chunk, usize::MAX);
    }
    true
  }

  fn open_batch(&mut self, id: u32, mut chunk: Chunk, now: Instant) {
    chunk.tag = self.tags.name(id).clone();
    chunk.tag_id = id;
    chunk.since = now;
    let slot = &mut self.open[id as usize];
    slot.chunk = Some(chunk);
    slot.prev = self.newest;
    slot.next = None;
    match self.newest {
      Some(n) => self.open[n as usize].next = Some(id),
      None => self.oldest = Some(id),
    }
    self.newest = Some(id);
  }

  fn seal(&mut self, id: u32) {
    let slot = &mut self.open[id as usize];
    let Some(mut chunk) = slot.chunk.take() else {
      return;
    };
    let (prev, next) = (slot.prev.take(), slot.next.take());
    match prev {
      Some(p) => self.open[p as usize].next = next,
      None => self.oldest = next,
    }
    match next {
      Some(n) => self.open[n as usize].prev = prev,
      None => self.newest = prev,
    }
    // A sealed batch never grows again, so under pressure a large spare capacity goes back to the
    // slack, for the open batches. Not a small one: a batch sealed at `batch_bytes` has less than
    // one record spare, and shrinking a buffer the pool will reuse would only make it grow again.
    if self.alloc > 2 * self.bytes + self.slack / 2
      && 4 * (chunk.capacity() - chunk.footprint()) > chunk.capacity()
    {
      let before = chunk.capacity();
      chunk.entries.shrink_to_fit();
      chunk.offsets.shrink_to_fit();
      self.alloc = self.alloc + chunk.capacity() - before;
    }
    self.sealed.push_back(chunk);
  }

  /// Seals every open batch whose first record is at least `age` old (all of them for
  /// `Duration::ZERO`), oldest first, so the FIFO order follows emission order across tags as
  /// closely as it can. Costs O(batches sealed).
  pub fn seal_older_than(&mut self, now: Instant, age: Duration) {
    while let Some(id) = self.oldest {
      let since = self.open[id as usize]
        .chunk
        .as_ref()
        .expect("linked slots are open")
        .since;
      if now.saturating_duration_since(since) < age {
        break;
      }
      self.seal(id);
    }
  }

  /// When the oldest open batch becomes due, if there is one.
  pub fn next_seal(&self, age: Duration) -> Option<Instant> {
    let id = self.oldest?;
    self.open[id as usize].chunk.as_ref().map(|c| c.since + age)
  }

  /// Hands the next sealed batch to the writer. Its bytes stay counted against the cap, as held,
  /// until the writer gives them back with `release`.
  pub fn take(&mut self) -> Option<Chunk> {
    let chunk = self.sealed.pop_front()?;
    let (bytes, records) = (chunk.footprint(), chunk.records());
    self.bytes -= bytes;
    self.records -= records;
    self.alloc -= chunk.capacity();
    self.held_bytes += bytes;
    self.held_records += records;
    Some(chunk)
  }

  /// The writer is done with a batch it took (settled, rejected or discarded): its space is free.
  /// Any split of a taken batch may be released piece by piece; footprints add up.
  pub fn release(&mut self, chunk: &Chunk) {
    self.release_counts(chunk.footprint(), chunk.records());
  }

  /// Part of a held batch left it (invalid entries removed before sending, see `vet`).
  pub fn release_part(&mut self, bytes: usize, records: usize) {
    self.release_counts(bytes, records);
  }

  fn release_counts(&mut self, bytes: usize, records: usize) {
    debug_assert!(bytes <= self.held_bytes && records <= self.held_records);
    self.held_bytes = self.held_bytes.saturating_sub(bytes);
    self.held_records = self.held_records.saturating_sub(records);
  }

  pub fn has_sealed(&self) -> bool {
    !self.sealed.is_empty()
  }

  /// Takes everything still buffered, open or sealed (for the close deadline). Unlike `take`, this
  /// holds nothing: the writer reports these batches as undelivered at once.
  pub fn take_all(&mut self) -> Vec<Chunk> {
    self.seal_older_than(Instant::now(), Duration::ZERO);
    let all: Vec<Chunk> = self.sealed.drain(..).collect();
    self.alloc -= all.iter().map(Chunk::capacity).sum::<usize>();
    self.bytes = 0;
    self.records = 0;
    all
  }

  /// Room the pool may use. A batch that leaves the queue (taken, discarded) frees at least what it
  /// held, so the pool can always keep it, as long as it has a free place.
  fn pool_room(&self) -> usize {
    (self.max_bytes + self.slack).saturating_sub(self.held_bytes + self.alloc)
  }

  /// Frees pooled buffers there is no longer room for (the open batches grew into it).
  fn trim_pool(&mut self) {
    while self.pooled > self.pool_room() {
      let Some(c) = self.pool.pop() else { break };
      self.pooled -= c.capacity();
    }
  }

  /// Returns an emptied batch to the pool. Oversized buffers, and any there is no room for, are
  /// freed rather than kept. Up to one per tag: with records spread over many tags, every tag's
  /// batch comes back small each flush and would otherwise be freed here and grown again from
  /// nothing on the JS thread, reallocation by reallocation. The bytes stay within `pool_room`.
  pub fn recycle(&mut self, mut chunk: Chunk, keep_capacity: usize) {
    if self.pool.len() < POOL_SIZE.max(self.tags.live())
      && chunk.entries.capacity() <= keep_capacity
      && self.pooled + chunk.capacity() <= self.pool_room()
    {
      chunk.entries.clear();
      chunk.offsets.clear();
      self.pooled += chunk.capacity();
      self.pool.push(chunk);
    }
  }

  /// Bytes allocated by the open, sealed and pooled batches (not those the writer holds). Growth
  /// keeps the open and sealed ones within twice the buffered footprint (plus `Limits::slack`) when
  /// it happens, and batches leaving never push the total past twice `max_bytes` plus the slack.
  pub fn allocated_bytes(&self) -> usize {
    let pooled: usize = self.pool.iter().map(Chunk::capacity).sum();
    debug_assert_eq!(pooled, self.pooled);
    let mut sum: usize = self.sealed.iter().map(Chunk::capacity).sum();
    let mut at = self.oldest;
    while let Some(id) = at {
      let slot = &self.open[id as usize];
      sum += slot.chunk.as_ref().map_or(0, Chunk::capacity);
      at = slot.next;
    }
    debug_assert_eq!(sum, self.alloc);
    sum + pooled
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  fn limits(max: usize, overflow: Overflow) -> Limits {
    Limits {
      max_bytes: max,
      batch_bytes: 100,
      overflow,
      time_format: TimeFormat::EventTime,
    }
  }

  const REC: &[u8] = &[0x81, 0xa1, b'a', 0x01]; // 4 bytes; entry = 1 + 10 + 4 = 15, footprint 19
  const FP: usize = 19;

  fn t0() -> EventTime {
    EventTime::new(1, 0).unwrap()
  }

  fn accepted(p: Pushed) -> bool {
    matches!(p, Pushed::Accepted { .. })
  }

  #[test]
  fn seals_at_batch_size_and_keeps_order() {
    let lim = limits(10_000, Overflow::DropNewest);
    let mut q = Queue::new(&lim);
    let t = q.tag_id("a").unwrap();
    let mut sealed_at = None;
    for i in 0..7 {
      if q.push(t, t0(), REC, &lim) == (Pushed::Accepted { wake: true }) && i > 0 {
        sealed_at.get_or_insert(i);
      }
    }
    assert_eq!(sealed_at, Some(6)); // 7 entries * 15 B >= 100
    let c = q.take().unwrap();
    assert_eq!(c.records(), 7);
    assert_eq!(c.entry(3).len(), 15);
    assert!(q.take().is_none());
  }

  #[test]
  fn overflow_policies() {
    for (policy, want) in [
      (Overflow::DropNewest, Pushed::Dropped),
      (Overflow::Error, Pushed::Full),
    ] {
      let lim = limits(57, policy);
      let mut q = Queue::new(&lim);
      let t = q.tag_id("a").unwrap();
      for _ in 0..3 {
        assert!(accepted(q.push(t, t0(), REC, &lim)));
      }
      assert_eq!(q.push(t, t0(), REC, &lim), want);
      assert_eq!((q.records, q.refused), (3, 1));
    }
    let lim = limits(57, Overflow::DropOldest);
    let mut q = Queue::new(&lim);
    let t = q.tag_id("a").unwrap();
    for _ in 0..4 {
      assert!(accepted(q.push(t, t0(), REC, &lim)));
    }
    // The open batch of three was dropped whole to fit the fourth.
    assert_eq!((q.records, q.discarded, q.emitted), (1, 3, 4));
  }

  /// REVIEW #10: the bytes of a batch the writer takes never leave the cap, not even for the moment
  /// between `take` and the writer's own bookkeeping (before, that moment admitted a batch too many).
  #[test]
  fn taken_bytes_stay_counted_until_released() {
    let lim = limits(4 * FP, Overflow::DropNewest);
    let mut q = Queue::new(&lim);
    let t = q.tag_id("a").unwrap();
    for _ in 0..4 {
      assert!(accepted(q.push(t, t0(), REC, &lim)));
    }
    q.seal_older_than(Instant::now(), Duration::ZERO);
    let c = q.take().unwrap();
    assert_eq!((q.bytes, q.held_bytes, q.held_records), (0, 4 * FP, 4));
    // The queue is empty, but the writer's batch still fills the cap.
    assert_eq!(q.push(t, t0(), REC, &lim), Pushed::Dropped);
    q.release(&c);
    assert_eq!((q.held_bytes, q.held_records), (0, 0));
    assert!(accepted(q.push(t, t0(), REC, &lim)));
  }

  /// A full cap whose space the writer holds: `dropOldest` must not throw away queued records for
  /// a record that could not fit anyway.
  #[test]
  fn drop_oldest_keeps_the_queue_when_discarding_cannot_help() {
    let lim = limits(5 * FP, Overflow::DropOldest);
    let mut q = Queue::new(&lim);
    let t = q.tag_id("a").unwrap();
    for _ in 0..4 {
      assert!(accepted(q.push(t, t0(), REC, &lim)));
    }
    q.seal_older_than(Instant::now(), Duration::ZERO);
    let _held = q.take().unwrap();
    assert!(accepted(q.push(t, t0(), REC, &lim)));
    // Held 4 * FP plus a new record fits; a record of 2 * FP cannot, whatever is discarded.
    let big = [
      0x81, 0xa1, b'a', 0xb3, b'x', b'x', b'x', b'x', b'x', b'x', b'x', b'x', b'x', b'x', b'x', b'x', b'x',
      b'x', b'x', b'x', b'x', b'x', b'x',
    ];
    assert!(big.len() + 15 > FP);
    assert_eq!(q.push(t, t0(), &big, &lim), Pushed::Dropped);
    assert_eq!((q.records, q.discarded, q.refused), (1, 0, 1));
  }

  #[test]
  fn open_batches_become_due_in_arrival_order() {
    let lim = limits(1 << 20, Overflow::DropNewest);
    let mut q = Queue::new(&lim);
    let ids: Vec<u32> = (0..5).map(|i| q.tag_id(&format!("t{i}")).unwrap()).collect();
    let start = Instant::now();
    for &id in &ids {
      assert!(accepted(q.push(id, t0(), REC, &lim)));
    }
    let later = Instant::now();
    // Filling the middle one seals it out of the list's middle.
    for _ in 0..6 {
      q.push(ids[2], t0(), REC, &lim);
    }
    assert_eq!(q.take().unwrap().tag_id, ids[2]);
    let first_due = q.next_seal(Duration::from_secs(1)).unwrap();
    assert!(first_due >= start + Duration::from_secs(1) && first_due <= later + Duration::from_secs(1));
    // Ask at a time between the arrivals: nothing is due, then everything is, oldest first.
    q.seal_older_than(start, Duration::from_secs(1));
    assert!(!q.has_sealed());
    q.seal_older_than(later + Duration::from_secs(1), Duration::from_secs(1));
    let order: Vec<u32> = std::iter::from_fn(|| q.take()).map(|c| c.tag_id).collect();
    assert_eq!(order, vec![ids[0], ids[1], ids[3], ids[4]]);
    assert_eq!(q.next_seal(Duration::ZERO), None);
    // The list is whole again: a new batch is both oldest and newest.
    assert!(accepted(q.push(ids[4], t0(), REC, &lim)));
    q.seal_older_than(Instant::now(), Duration::ZERO);
    assert_eq!(q.take().unwrap().tag_id, ids[4]);
  }

  #[test]
  fn many_tags_reuse_their_emptied_batches() {
    // 200 tags, one small batch each per flush: past the 16 a single tag needs, the pool keeps one
    // per tag, and the next flush's batches come from it instead of growing from nothing.
    let lim = limits(1 << 20, Overflow::Error);
    let mut q = Queue::new(&lim);
    let ids: Vec<u32> = (0..200).map(|i| q.tag_id(&format!("t{i}")).unwrap()).collect();
    let flush = |q: &mut Queue| {
      q.seal_older_than(Instant::now(), Duration::ZERO);
      while let Some(c) = q.take() {
        q.release(&c);
        q.recycle(c, usize::MAX);
      }
    };
    for &id in &ids {
      assert!(accepted(q.push(id, t0(), REC, &lim)));
    }
    flush(&mut q);
    assert_eq!(q.pool.len(), ids.len());
    for &id in &ids {
      assert!(accepted(q.push(id, t0(), REC, &lim)));
    }
    assert_eq!(
      q.pool.len(),
      0,
      "every batch of the second round came from the pool"
    );
    // allocated_bytes checks the running totals against a full count in debug builds.
    assert!(q.allocated_bytes() <= 2 * q.bytes + lim.slack());
    flush(&mut q);
    assert_eq!(q.pool.len(), ids.len());
  }

  #[test]
  fn allocation_stays_within_cap_plus_slack() {
    // Room for about 30 records over 50 tags: a reservation per tag would pass the cap many times.
    let lim = limits(600, Overflow::DropOldest);
    let mut q = Queue::new(&lim);
    let ids: Vec<u32> = (0..50).map(|i| q.tag_id(&format!("t{i}")).unwrap()).collect();
    for round in 0..2000 {
      let id = ids[round * 7 % ids.len()];
      assert!(accepted(q.push(id, t0(), REC, &lim)));
      if round % 13 == 0 {
        if let Some(c) = q.take() {
          q.release(&c);
          q.recycle(c, usize::MAX);
        }
      }
      // allocated_bytes checks the running total against a full count in debug builds.
      let bound = (lim.max_bytes - q.held_bytes).max(2 * q.bytes) + lim.slack();
      assert!(q.allocated_bytes() <= bound, "round {round}");
      assert!(q.alloc <= 2 * q.bytes + lim.slack(), "round {round}");
    }
  }

  /// REVIEW-0.2 A4: a tag with nothing in an open batch can be forgotten and its id reused; a
  /// sealed batch of the forgotten tag keeps its name, and a tag with an open batch stays.
  #[test]
  fn forgotten_tags_free_their_ids_without_relabelling_records() {
    let lim = limits(1 << 20, Overflow::DropNewest);
    let mut q = Queue::new(&lim);
    let a = q.tag_id("a").unwrap();
    let b = q.tag_id("b").unwrap();
    assert!(accepted(q.push(a, t0(), REC, &lim)));
    q.seal_older_than(Instant::now(), Duration::ZERO);
    assert!(accepted(q.push(b, t0(), REC, &lim)));
    // "a" has only a sealed batch: idle. "b" has an open one: busy.
    assert_eq!(q.forget_idle_tags(), 1);
    assert!(!q.has_tag(a) && q.has_tag(b));
    let c = q.tag_id("c").unwrap();
    assert_eq!(c, a, "the freed id is reused");
    assert!(accepted(q.push(c, t0(), REC, &lim)));
    q.seal_older_than(Instant::now(), Duration::ZERO);
    let tags: Vec<String> = std::iter::from_fn(|| q.take())
      .map(|c| c.tag.to_string())
      .collect();
    assert_eq!(tags, ["a", "b", "c"]);
  }
}
