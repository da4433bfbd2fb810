//! The hand-over store: batches waiting for the embedding's failure handler, under the queue lock.
//!
//! Why a store and not an event carrying the records: the event queue to JS is bounded and the JS
//! thread may be busy for seconds, so an event can be refused. Records must never leave every
//! count because of that (REVIEW-0.2 A2). So the records stay here, counted as pending, until the
//! embedding takes them (`Client::take_undelivered`); the writer only rings a doorbell
//! (`Event::HandOver`), at most one outstanding at a time, so this store can never fill the event
//! queue either. A doorbell the queue refused is rung again by the writer.
//!
//! Two kinds of batch, with different budgets:
//! - retriable ones (the server rejected them, or every server is unavailable): they were accepted
//!   into the buffer and they stay counted against `maxBufferBytes` (as held by the writer) until
//!   taken, so a JS thread that never comes back cannot make memory grow past the cap.
//! - dropped ones (the overflow policy refused them at emit, or `dropOldest` discarded them): they
//!   are outside the cap by nature (there was no room), so they have their own cap,
//!   `undelivered_max_bytes`; beyond it records are only counted (`overflow`) and are dropped.
//!
//! Refused records of one tag are appended to that tag's open kept batch, whatever came between,
//! so alternating tags make one batch per tag, not one per tag change.

use crate::chunk::Chunk;
use crate::codec::entry::write_entry;
use crate::codec::event_time::{EventTime, TimeFormat};
use crate::error::Error;
use crate::event::Reason;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

/// A kept batch grows to this size at most, so that one handler call is never huge.
const MAX_KEPT_BATCH: usize = 512 << 10;

/// One batch waiting for the failure handler.
pub struct Kept {
  pub chunk: Chunk,
  pub reason: Reason,
  /// The records were accepted by emit (in `emitted`), not refused at the door (in `refused`).
  pub accepted: bool,
  /// Its footprint still counts against the cap, as held (released when taken).
  pub in_cap: bool,
  /// For `Reason::Unavailable`: how many servers were unavailable.
  pub servers: usize,
}

impl Kept {
  /// The error the handler is called with.
  pub fn error(&self) -> Error {
    let n = self.chunk.records() as u64;
    match self.reason {
      Reason::Dropped => Error::QueueFull { dropped: n },
      Reason::Rejected => Error::Rejected { records: n },
      Reason::Unavailable => Error::Unavailable {
        servers: self.servers,
      },
    }
  }
}

pub struct Undelivered {
  kept: VecDeque<Kept>,
  /// Tag -> index in `kept` of that tag's batch of refused records still growing. By name, not
  /// id: an id may be reused for another tag once its tag was forgotten (see `tags`).
  growing: HashMap<Arc<str>, usize>,
  /// Bytes of the dropped batches (the ones outside the cap).
  bytes: usize,
  cap: usize,
  /// Records in `kept`, by whether they were accepted at emit.
  pub accepted_records: u64,
  pub refused_records: u64,
  /// Of those, records of `in_cap` batches (also in the queue's `held_records`).
  pub in_cap_records: u64,
  /// Records that were dropped while the store was full: never seen by the handler.
  pub overflow: u64,
  /// Accepted records (discarded by `dropOldest`) that went to `overflow`: dropped.
  pub overflow_accepted: u64,
  /// Records ever kept here from refusals and `dropOldest` discards (they left `dropped` for the
  /// handler's hands).
  pub kept_dropped: u64,
  /// A doorbell is on its way to the embedding: no other is rung until it takes the store.
  pub bell: bool,
}

impl Undelivered {
  pub fn new(cap: usize) -> Self {
    Self {
      kept: VecDeque::new(),
      growing: HashMap::new(),
      bytes: 0,
      cap,
      accepted_records: 0,
      refused_records: 0,
      in_cap_records: 0,
      overflow: 0,
      overflow_accepted: 0,
      kept_dropped: 0,
      bell: false,
    }
  }

  /// One record refused at emit; appended to its tag's growing batch when there is one.
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
    let at = match self.growing.get(tag) {
      Some(&i) if self.kept[i].chunk.entries.len() + len <= MAX_KEPT_BATCH => i,
      _ => {
        self.kept.push_back(Kept {
          chunk: Chunk {
            tag: tag.clone(),
            tag_id,
            entries: Vec::with_capacity(len.max(4096)),
            offsets: Vec::new(),
            since: Instant::now(),
          },
          reason: Reason::Dropped,
          accepted: false,
          in_cap: false,
          servers: 0,
        });
        let i = self.kept.len() - 1;
        self.growing.insert(tag.clone(), i);
        i
      }
    };
    let c = &mut self.kept[at].chunk;
    c.offsets.push(c.entries.len() as u32);
    write_entry(&mut c.entries, time, format, record);
    self.bytes += len;
    self.refused_records += 1;
    self.kept_dropped += 1;
  }

  /// A whole batch discarded by `dropOldest`. Returns it when there is no room (the caller
  /// recycles it; its records are counted in `overflow`).
  pub fn keep_chunk(&mut self, chunk: Chunk) -> Option<Chunk> {
    let n = chunk.records() as u64;
    if self.bytes + chunk.entries.len() > self.cap {
      self.overflow += n;
      self.overflow_accepted += n;
      return Some(chunk);
    }
    self.bytes += chunk.entries.len();
    self.accepted_records += n;
    self.kept_dropped += n;
    self.kept.push_back(Kept {
      chunk,
      reason: Reason::Dropped,
      accepted: true,
      in_cap: false,
      servers: 0,
    });
    None
  }

  /// A batch the writer gives up on for now (rejected, or every server unavailable). Its bytes
  /// stay held against the cap until taken.
  pub fn keep_held(&mut self, chunk: Chunk, reason: Reason, servers: usize) {
    self.accepted_records += chunk.records() as u64;
    self.in_cap_records += chunk.records() as u64;
    self.kept.push_back(Kept {
      chunk,
      reason,
      accepted: true,
      in_cap: true,
      servers,
    });
  }

  /// Everything kept so far, for the embedding. The caller releases the `in_cap` ones from the cap.
  pub fn take(&mut self) -> Vec<Kept> {
    self.bytes = 0;
    self.accepted_records = 0;
    self.refused_records = 0;
    self.in_cap_records = 0;
    self.growing.clear();
    self.bell = false;
    self.kept.drain(..).collect()
  }

  /// Records waiting here (both kinds).
  pub fn records(&self) -> u64 {
    self.accepted_records + self.refused_records
  }

  pub fn is_empty(&self) -> bool {
    self.kept.is_empty()
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
    assert_eq!(u.records(), 8);
    let kept = u.take();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].chunk.records(), 8);
    assert!(u.is_empty());
    assert_eq!(u.records(), 0);
  }

  /// REVIEW-0.2 A2: alternating tags made one kept batch (one event) per refused record.
  #[test]
  fn one_kept_batch_per_tag_not_per_tag_change() {
    let (a, b): (Arc<str>, Arc<str>) = (Arc::from("a"), Arc::from("b"));
    let mut u = Undelivered::new(1 << 20);
    let t = EventTime::new(1, 2).unwrap();
    for _ in 0..1000 {
      u.keep_record(&a, 0, t, TimeFormat::EventTime, &[0x80]);
      u.keep_record(&b, 1, t, TimeFormat::EventTime, &[0x80]);
    }
    let kept = u.take();
    assert_eq!(kept.len(), 2);
    assert_eq!(kept.iter().map(|k| k.chunk.records()).sum::<usize>(), 2000);
    // After a take, a tag starts a new batch.
    u.keep_record(&a, 0, t, TimeFormat::EventTime, &[0x80]);
    assert_eq!(u.take().len(), 1);
  }
}
