//! Records leaving for the failure handler and coming back from it: the kept batches JS takes,
//! what is left at close, entries pushed or requeued by the handler, and records lost before the
//! queue.

use super::Client;
use crate::codec::event_time::EventTime;
use crate::codec::validate::record_len;
use crate::error::Error;
use crate::event::Event;
use crate::stats::Counters;
use std::sync::Arc;

impl Client {
  /// With `keep_undelivered`: the batches waiting for the failure handler (see `undelivered.rs`),
  /// each returned once. Retriable ones leave the cap now: the embedding owns them from here.
  pub fn take_undelivered(&self) -> Vec<crate::undelivered::Kept> {
    let kept = {
      let mut q = self.shared.queue.lock();
      let Some(store) = q.undelivered.as_mut() else {
        return Vec::new();
      };
      let kept = store.take();
      for k in kept.iter().filter(|k| k.in_cap) {
        q.release(&k.chunk);
      }
      kept
    };
    let n: u64 = kept.iter().map(|k| k.chunk.records() as u64).sum();
    Counters::add(&self.shared.counters.handed_over, n);
    // Room was freed: a producer waiting for it (NDJSON, `'drain'`) looks again on its own.
    kept
  }

  /// With `keep_undelivered`, once the writer has stopped: the batches it still held, as
  /// `(tag, entries, records)`, for the failure handler. Each is returned once.
  pub fn take_leftovers(&self) -> Vec<(Arc<str>, Vec<u8>, u64)> {
    let left: Vec<_> = std::mem::take(&mut self.shared.control.lock().leftovers)
      .into_iter()
      .map(|c| {
        let n = c.records() as u64;
        (c.tag, c.entries, n)
      })
      .collect();
    let n: u64 = left.iter().map(|(_, _, n)| n).sum();
    Counters::add(&self.shared.counters.handed_over, n);
    left
  }

  /// Buffers msgpack entries (`[time, record]` each, as on the wire: what a failure handler or a
  /// delivery report carries) under `tag`, keeping their times. Each entry is validated. Returns
  /// how many were accepted; an invalid entry stops the call with an error, and the entries
  /// before it stay buffered.
  pub fn push_entries(&self, tag: u32, entries: &[u8]) -> Result<u64, Error> {
    self.entries(tag, entries, false)
  }

  /// A failure handler gives records back (`false` on a retriable batch): the same records again,
  /// not new ones. They are buffered only where they fit, without the overflow policy (which would
  /// discard or keep other records for the handler) and without counting them as emitted or
  /// refused; returns how many were taken, and the embedding counts the rest as dropped. Never
  /// fails for a full buffer (REVIEW-0.2 A1): that is a count, not an error.
  pub fn requeue_entries(&self, tag: u32, entries: &[u8]) -> Result<u64, Error> {
    self.entries(tag, entries, true)
  }

  fn entries(&self, tag: u32, entries: &[u8], requeue: bool) -> Result<u64, Error> {
    let mut at = 0;
    let mut accepted = 0;
    while at < entries.len() {
      let (time, record, used) = crate::codec::entry::read_entry(&entries[at..])
        .map_err(|e| Error::Encode(format!("entry at byte {at}: {e}")))?;
      let n = record_len(record).map_err(|e| Error::Encode(format!("entry at byte {at}: {e}")))?;
      if n != record.len() {
        return Err(Error::Encode(format!("entry at byte {at}: trailing bytes")));
      }
      let taken = if requeue {
        self.requeue_one(tag, time, record)?
      } else {
        self.push(tag, Some(time), record)?
      };
      if taken {
        accepted += 1;
      }
      at += used;
    }
    Ok(accepted)
  }
}

impl Client {
  fn requeue_one(&self, tag: u32, time: EventTime, record: &[u8]) -> Result<bool, Error> {
    let max = self.shared.config.max_record_bytes;
    if record.len() > max {
      return Err(Error::RecordTooLarge {
        size: record.len(),
        max,
      });
    }
    let wake = {
      let mut q = self.shared.queue.lock();
      if !q.has_tag(tag) {
        return Err(Error::InvalidTag(format!("unknown tag id {tag}")));
      }
      match q.requeue(tag, time, record, &self.shared.limits) {
        Some(wake) => wake,
        None => return Ok(false),
      }
    };
    if wake {
      self.shared.wake.notify_one();
    }
    Ok(true)
  }
}

impl Client {
  /// Counts records lost before they reached the queue as refused (in `stats().dropped`) and
  /// reports them through the event sink, with their count.
  pub fn report_lost(&self, error: Error, records: u64) {
    self.shared.queue.lock().refused += records;
    self.shared.emit(Event::Error {
      error,
      records,
      tag: None,
    });
  }
}
