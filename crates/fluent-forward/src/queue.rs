//! The bounded buffer between the producer (the JS thread) and the writer thread.
//!
//! Records are appended, already framed as `[time, record]` entries, to one open batch per tag;
//! a batch is sealed when it reaches `batch_bytes` or when its first record has waited
//! `flush_interval`, and sealed batches wait in FIFO order for the writer. One uncontended mutex
//! guards it: a producer holds it for one memcpy, the writer only to move whole batches, so the
//! lock is never held across I/O. Emptied batches come back through a small pool, so the steady
//! state allocates nothing per record or per batch.

use crate::codec::entry::{entry_prefix_len, write_entry};
use crate::codec::event_time::{EventTime, TimeFormat};
use crate::config::Overflow;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Distinct tags one client will track; more is almost always a tag built from unbounded data.
pub const MAX_TAGS: usize = 65_536;
const POOL_SIZE: usize = 16;

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
  /// Refused under `dropNewest` (or `dropOldest` when nothing older could make room).
  Dropped,
  /// Refused under the `error` policy.
  Full,
  Closed,
}

#[derive(Default)]
pub struct Queue {
  tag_ids: HashMap<Arc<str>, u32>,
  tags: Vec<Arc<str>>,
  open: Vec<Option<Chunk>>,
  open_count: usize,
  sealed: VecDeque<Chunk>,
  pool: Vec<Chunk>,
  /// Entry bytes and records in open and sealed batches (the writer counts its own separately).
  pub bytes: usize,
  pub records: usize,
  pub emitted: u64,
  /// Records refused at the door: overflow policy `dropNewest`/`error`, or a closed client.
  pub refused: u64,
  /// Records accepted, then discarded by `dropOldest` to make room.
  pub discarded: u64,
  /// Dropped records not yet reported through the error sink.
  pub unreported_drops: u64,
  pub closed: bool,
}

pub struct Limits {
  pub max_bytes: usize,
  pub batch_bytes: usize,
  pub overflow: Overflow,
  pub time_format: TimeFormat,
}

impl Queue {
  pub fn tag_id(&mut self, tag: &str) -> Option<u32> {
    if let Some(id) = self.tag_ids.get(tag) {
      return Some(*id);
    }
    if self.tags.len() >= MAX_TAGS {
      return None;
    }
    let id = self.tags.len() as u32;
    let tag: Arc<str> = Arc::from(tag);
    self.tag_ids.insert(tag.clone(), id);
    self.tags.push(tag);
    self.open.push(None);
    Some(id)
  }

  pub fn has_tag(&self, id: u32) -> bool {
    (id as usize) < self.tags.len()
  }

  /// Appends one entry. `held` is what the writer holds, so the cap covers every buffered byte.
  pub fn push(&mut self, tag_id: u32, time: EventTime, record: &[u8], held: usize, lim: &Limits) -> Pushed {
    if self.closed {
      self.refused += 1;
      return Pushed::Closed;
    }
    let len = entry_prefix_len(time, lim.time_format) + record.len() + INDEX_BYTES;
    if self.bytes + held + len > lim.max_bytes {
      match lim.overflow {
        Overflow::Error => {
          self.refused += 1;
          return Pushed::Full;
        }
        Overflow::DropNewest => return self.drop_new(),
        Overflow::DropOldest => {
          while self.bytes + held + len > lim.max_bytes && self.drop_oldest_batch() {}
          if self.bytes + held + len > lim.max_bytes {
            return self.drop_new();
          }
        }
      }
    }
    let mut wake = false;
    let slot = &mut self.open[tag_id as usize];
    let chunk = match slot {
      Some(c) => c,
      None => {
        self.open_count += 1;
        // The writer must start a flush timer for this batch.
        wake = true;
        let mut c = self.pool.pop().unwrap_or_else(|| Chunk {
          tag: self.tags[tag_id as usize].clone(),
          tag_id,
          entries: Vec::with_capacity(lim.batch_bytes.min(64 << 10)),
          offsets: Vec::new(),
          since: Instant::now(),
        });
        c.tag = self.tags[tag_id as usize].clone();
        c.tag_id = tag_id;
        c.since = Instant::now();
        slot.insert(c)
      }
    };
    chunk.offsets.push(chunk.entries.len() as u32);
    write_entry(&mut chunk.entries, time, lim.time_format, record);
    self.bytes += len;
    self.records += 1;
    self.emitted += 1;
    if chunk.entries.len() >= lim.batch_bytes {
      self.seal(tag_id as usize);
      wake = true;
    }
    Pushed::Accepted { wake }
  }

  fn drop_new(&mut self) -> Pushed {
    self.refused += 1;
    self.unreported_drops += 1;
    Pushed::Dropped
  }

  /// Discards the oldest batch not yet taken by the writer. Returns false when there is none.
  fn drop_oldest_batch(&mut self) -> bool {
    if self.sealed.is_empty() {
      let oldest = self
        .open
        .iter()
        .enumerate()
        .filter_map(|(i, c)| c.as_ref().map(|c| (c.since, i)))
        .min();
      match oldest {
        Some((_, i)) => self.seal(i),
        None => return false,
      }
    }
    let chunk = self.sealed.pop_front().expect("just checked or sealed");
    let n = chunk.records();
    self.bytes -= chunk.footprint();
    self.records -= n;
    self.discarded += n as u64;
    self.unreported_drops += n as u64;
    self.recycle(chunk, usize::MAX);
    true
  }

  fn seal(&mut self, i: usize) {
    if let Some(chunk) = self.open[i].take() {
      self.open_count -= 1;
      self.sealed.push_back(chunk);
    }
  }

  /// Seals every open batch whose first record is at least `age` old (all of them for `Duration::ZERO`).
  pub fn seal_older_than(&mut self, now: Instant, age: Duration) {
    if self.open_count == 0 {
      return;
    }
    let mut due: Vec<(Instant, usize)> = Vec::new();
    for (i, c) in self.open.iter().enumerate() {
      if let Some(c) = c {
        if now.saturating_duration_since(c.since) >= age {
          due.push((c.since, i));
        }
      }
    }
    // Oldest first, so the FIFO order follows emission order across tags as closely as it can.
    due.sort_unstable();
    for (_, i) in due {
      self.seal(i);
    }
  }

  /// When the oldest open batch becomes due, if there is one.
  pub fn next_seal(&self, age: Duration) -> Option<Instant> {
    if self.open_count == 0 {
      return None;
    }
    self.open.iter().flatten().map(|c| c.since + age).min()
  }

  /// Hands the next sealed batch to the writer.
  pub fn take(&mut self) -> Option<Chunk> {
    let chunk = self.sealed.pop_front()?;
    self.bytes -= chunk.footprint();
    self.records -= chunk.records();
    Some(chunk)
  }

  pub fn has_sealed(&self) -> bool {
    !self.sealed.is_empty()
  }

  /// Takes everything still buffered, open or sealed (for the close deadline).
  pub fn take_all(&mut self) -> Vec<Chunk> {
    self.seal_older_than(Instant::now(), Duration::ZERO);
    let all: Vec<Chunk> = self.sealed.drain(..).collect();
    self.bytes = 0;
    self.records = 0;
    all
  }

  /// Returns an emptied batch to the pool; oversized buffers are freed rather than kept.
  pub fn recycle(&mut self, mut chunk: Chunk, keep_capacity: usize) {
    if self.pool.len() < POOL_SIZE && chunk.entries.capacity() <= keep_capacity {
      chunk.entries.clear();
      chunk.offsets.clear();
      self.pool.push(chunk);
    }
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

  #[test]
  fn seals_at_batch_size_and_keeps_order() {
    let mut q = Queue::default();
    let t = q.tag_id("a").unwrap();
    let lim = limits(10_000, Overflow::DropNewest);
    let t0 = EventTime::new(1, 0).unwrap();
    let mut sealed_at = None;
    for i in 0..7 {
      if q.push(t, t0, REC, 0, &lim) == (Pushed::Accepted { wake: true }) && i > 0 {
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
    let t0 = EventTime::new(1, 0).unwrap();
    for (policy, want) in [
      (Overflow::DropNewest, Pushed::Dropped),
      (Overflow::Error, Pushed::Full),
    ] {
      let mut q = Queue::default();
      let t = q.tag_id("a").unwrap();
      let lim = limits(57, policy);
      for _ in 0..3 {
        assert!(matches!(q.push(t, t0, REC, 0, &lim), Pushed::Accepted { .. }));
      }
      assert_eq!(q.push(t, t0, REC, 0, &lim), want);
      assert_eq!((q.records, q.refused), (3, 1));
    }
    let mut q = Queue::default();
    let t = q.tag_id("a").unwrap();
    let lim = limits(57, Overflow::DropOldest);
    for _ in 0..4 {
      assert!(matches!(q.push(t, t0, REC, 0, &lim), Pushed::Accepted { .. }));
    }
    // The open batch of three was dropped whole to fit the fourth.
    assert_eq!((q.records, q.discarded, q.emitted), (1, 3, 4));
    // Bytes held by the writer cannot be dropped from here: the new record goes.
    assert_eq!(q.push(t, t0, REC, 50, &lim), Pushed::Dropped);
  }
}
