//! Records that left the queue undelivered (the overflow policy refused or discarded them), kept as
//! entry bytes for the embedding's failure handler until the writer hands them over. Its own byte
//! cap, outside `maxBufferBytes`: during an outage drops arrive as fast as records are emitted, and
//! a failure handler that cannot keep up must not make memory grow. Beyond the cap records are only
//! counted (`overflow`), and the drop report says so.

use crate::codec::entry::write_entry;
use crate::codec::event_time::{EventTime, TimeFormat};
use crate::queue::Chunk;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

/// A kept batch grows to this size at most, so that one handler call is never huge.
const MAX_KEPT_BATCH: usize = 512 << 10;

pub struct Undelivered {
  chunks: VecDeque<Chunk>,
  bytes: usize,
  cap: usize,
  /// Records dropped while the store was full: never seen by the handler.
  pub overflow: u64,
}

impl Undelivered {
  pub fn new(cap: usize) -> Self {
    Self {
      chunks: VecDeque::new(),
      bytes: 0,
      cap,
      overflow: 0,
    }
  }

  /// One refused record; appended to the newest kept batch of the same tag when there is one.
  pub fn keep_record(
    &mut self,
    tag: &Arc<str>,
    tag_id: u32,
    time: EventTime,
    format: TimeFormat,
    record: &[u8],
  ) {
    let len = crate::codec::entry::entry_prefix_len(time, format) + record.len();
    if self.bytes + len > self.cap {
      self.overflow += 1;
      return;
    }
    let fresh = match self.chunks.back() {
      Some(c) => c.tag_id != tag_id || c.entries.len() + len > MAX_KEPT_BATCH,
      None => true,
    };
    if fresh {
      self.chunks.push_back(Chunk {
        tag: tag.clone(),
        tag_id,
        entries: Vec::with_capacity(len.max(4096)),
        offsets: Vec::new(),
        since: Instant::now(),
      });
    }
    let c = self.chunks.back_mut().expect("pushed above");
    c.offsets.push(c.entries.len() as u32);
    write_entry(&mut c.entries, time, format, record);
    self.bytes += len;
  }

  /// A whole batch discarded by `dropOldest`. Returns it when there is no room (the caller recycles it).
  pub fn keep_chunk(&mut self, chunk: Chunk) -> Option<Chunk> {
    if self.bytes + chunk.entries.len() > self.cap {
      self.overflow += chunk.records() as u64;
      return Some(chunk);
    }
    self.bytes += chunk.entries.len();
    self.chunks.push_back(chunk);
    None
  }

  /// Everything kept so far, for the writer to hand over.
  pub fn take(&mut self) -> Vec<Chunk> {
    self.bytes = 0;
    self.chunks.drain(..).collect()
  }

  pub fn is_empty(&self) -> bool {
    self.chunks.is_empty()
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn keeps_within_its_cap_and_counts_the_rest() {
    let tag: Arc<str> = Arc::from("t");
    let mut u = Undelivered::new(100);
    let t = EventTime::new(1, 2).unwrap();
    for _ in 0..10 {
      u.keep_record(&tag, 0, t, TimeFormat::EventTime, &[0x80]);
    }
    // Each entry: array header 1 + EventTime ext 10 + record 1 = 12 bytes; 8 fit in 100.
    assert_eq!(u.overflow, 2);
    let kept = u.take();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].records(), 8);
    assert!(u.is_empty());
    u.keep_record(&Arc::from("u"), 1, t, TimeFormat::EventTime, &[0x80]);
    u.keep_record(&tag, 0, t, TimeFormat::EventTime, &[0x80]);
    assert_eq!(u.take().len(), 2, "a new batch per tag change");
  }
}
