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
//!
//! `pool` holds the emptied batches kept for reuse; the batch itself and its buffer growth are
//! `crate::chunk`, the tag ids `crate::tags`.

use crate::codec::entry::{entry_prefix_len, write_entry};
use crate::codec::event_time::{EventTime, TimeFormat};
use crate::config::Overflow;
use crate::prefetch;
use crate::tags::TagTable;
use crate::undelivered::Undelivered;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

mod pool;
#[cfg(test)]
mod tests;

use crate::chunk::reserve;
pub use crate::chunk::{Chunk, INDEX_BYTES};
pub use crate::tags::MAX_TAGS;
/// Emptied batches the pool keeps at least; with more tags it keeps up to one per tag (see `recycle`).
const POOL_SIZE: usize = 16;
/// What a fresh batch buffer reserves when the memory budget allows.
const INITIAL_BATCH: usize = 64 << 10;

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
  /// Footprint and records of batches the writer read back from the spool (`Chunk::read_back`),
  /// until released. They are outside the cap on purpose: the JS side answers `emit` from its own
  /// count of the room under the cap, on the rule that only its thread adds there; a read-back
  /// counted under the cap would take room JS had already promised (an `emit` answered `true`,
  /// then dropped at the handover). Bounded on their own by the writer's read window.
  pub read_bytes: usize,
  pub read_records: usize,
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
      read_bytes: 0,
      read_records: 0,
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
    if chunk.read_back() {
      self.release_read(chunk.footprint(), chunk.records());
    } else {
      self.release_counts(chunk.footprint(), chunk.records());
    }
  }

  /// A batch read back from the spool leaves the read window (or its reserved room is given back).
  pub fn release_read(&mut self, bytes: usize, records: usize) {
    debug_assert!(bytes <= self.read_bytes && records <= self.read_records);
    self.read_bytes = self.read_bytes.saturating_sub(bytes);
    self.read_records = self.read_records.saturating_sub(records);
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
}
