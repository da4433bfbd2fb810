//! Appending: framing a batch, rotating segments, and the byte cap.

use super::format::{self, FILE_HEADER_LEN, FRAME_HEADER_LEN, FRAME_MARKER, MAX_PAYLOAD};
use super::segment::{sync_dir, ActiveSegment};
use super::{BatchRef, Spool, SpoolError, SpoolId};
use std::time::Duration;

impl Spool {
  /// Stores a batch; it is in the OS when this returns (a crash of the process cannot lose it)
  /// and on the device after the next sync. Never panics: a full spool, an oversized or malformed
  /// batch and a failing disk are errors, and the spool stays usable.
  pub fn append(&mut self, batch: BatchRef<'_>) -> Result<SpoolId, SpoolError> {
    self.encode(batch)?;
    let frame_len = self.frame.len() as u64;
    if frame_len + FILE_HEADER_LEN > self.max_bytes {
      return Err(SpoolError::TooLarge {
        bytes: frame_len,
        max: self.max_bytes - FILE_HEADER_LEN,
      });
    }
    if self
      .active
      .as_ref()
      .is_some_and(|a| a.broken || (a.len > FILE_HEADER_LEN && a.len + frame_len > self.segment_target))
    {
      self.seal()?;
    }
    let new_segment = if self.active.is_none() { FILE_HEADER_LEN } else { 0 };
    if self.used() + new_segment + frame_len > self.max_bytes {
      self.reclaim_active()?;
      let new_segment = if self.active.is_none() { FILE_HEADER_LEN } else { 0 };
      let needed = new_segment + frame_len;
      if self.used() + needed > self.max_bytes {
        return Err(SpoolError::Full {
          needed,
          used: self.used(),
          max: self.max_bytes,
        });
      }
    }
    if self.active.is_none() {
      self.start_segment()?;
    }
    let active = self.active.as_mut().expect("started above");
    let offset = active
      .append(&self.frame)
      .map_err(|e| SpoolError::io("append to", &active.path, e))?;
    let (seq, end) = (active.seq, active.len);
    self.tracker.push(seq, offset, batch.records() as u32, end);
    if let Some(seg) = self.tracker.get_mut(seq) {
      seg.bytes = end;
    }
    self.data_dirty = true;
    if self.sync_interval.is_some_and(|d| self.last_sync.elapsed() >= d) {
      if let Err(e) = self.sync_now(false) {
        // The caller keeps the batch as not stored; the bytes may still be on disk, and a later
        // process would then send them again (at least once, never lost).
        self.tracker.settle(seq, offset);
        return Err(e);
      }
    }
    self.stats.appended += 1;
    Ok(SpoolId {
      seq,
      offset,
      len: (frame_len - FRAME_HEADER_LEN as u64) as u32,
    })
  }

  /// Builds the frame in `self.frame`: header placeholder, payload, then length and CRC.
  fn encode(&mut self, batch: BatchRef<'_>) -> Result<(), SpoolError> {
    self.frame.clear();
    if batch.payload_len() > MAX_PAYLOAD {
      return Err(SpoolError::TooLarge {
        bytes: batch.payload_len() as u64,
        max: MAX_PAYLOAD as u64,
      });
    }
    self.frame.extend_from_slice(&FRAME_MARKER);
    self.frame.extend_from_slice(&[0; 8]);
    batch
      .encode(&mut self.frame)
      .map_err(|m| SpoolError::Invalid(m.as_str()))?;
    let payload = &self.frame[FRAME_HEADER_LEN..];
    let len = (payload.len() as u32).to_le_bytes();
    let crc = format::frame_crc(payload).to_le_bytes();
    self.frame[4..8].copy_from_slice(&len);
    self.frame[8..12].copy_from_slice(&crc);
    if self.frame.capacity() > 4 * self.frame.len().max(1 << 20) {
      // One huge batch does not keep its buffer alive.
      self.frame.shrink_to(1 << 20);
    }
    Ok(())
  }

  fn used(&self) -> u64 {
    self.tracker.totals().1
  }

  fn start_segment(&mut self) -> Result<(), SpoolError> {
    let seq = self.next_seq;
    let seg = ActiveSegment::create(&self.slot.dir, seq)
      .map_err(|e| SpoolError::io("create segment in", &self.slot.dir, e))?;
    self.next_seq += 1;
    match self.sync_interval {
      Some(Duration::ZERO) => {
        sync_dir(&self.slot.dir).map_err(|e| SpoolError::io("sync", &self.slot.dir, e))?
      }
      // At the next sync tick, with the data (`sync_sealed`).
      Some(_) => self.dir_dirty = true,
      None => {}
    }
    self.tracker.add(seq, seg.path.clone(), seg.len, seg.len);
    self.active = Some(seg);
    Ok(())
  }

  /// Closes the active segment for writing; deletes it at once if everything in it is settled. With
  /// a sync policy its data is synced at the next sync tick (`sync_sealed`), with whatever else is
  /// due, not at once: at high rates a segment is sealed every few tens of milliseconds, and an
  /// fsync at each rotation made `syncIntervalMs: 1000` cost nearly what syncing every batch does
  /// (`bench/spool.ts`). `Duration::ZERO` still syncs at once. A failed sync is returned after the
  /// segment is sealed all the same (its batches stay tracked; the file goes once they are settled).
  pub(super) fn seal(&mut self) -> Result<(), SpoolError> {
    let Some(active) = self.active.take() else {
      return Ok(());
    };
    let seq = active.seq;
    let mut synced = Ok(());
    let mut unsynced = None;
    if self.sync_interval.is_some() && self.data_dirty {
      if self.sync_interval == Some(Duration::ZERO) {
        synced = active.sync().map_err(|e| SpoolError::io("sync", &active.path, e));
        self.stats.syncs += synced.is_ok() as u64;
      } else {
        unsynced = Some(active);
      }
      self.data_dirty = false;
    }
    // Its final length goes into the next ledger, so a file later found shorter was cut.
    self.ledger_dirty = true;
    let done = match self.tracker.get_mut(seq) {
      Some(seg) => {
        seg.complete = true;
        seg.done()
      }
      None => false,
    };
    if done {
      // Closed before it is removed (Windows cannot remove an open file); nothing left to sync.
      drop(unsynced);
      self.delete_segment(seq);
    } else if let Some(segment) = unsynced {
      self.sealed_unsynced.push(segment);
    }
    synced
  }

  /// At the cap, an active segment whose batches are all settled is dropped so its space counts
  /// again (otherwise a spool smaller than one segment would never free anything).
  fn reclaim_active(&mut self) -> Result<(), SpoolError> {
    let idle = self
      .active
      .as_ref()
      .is_some_and(|a| self.tracker.get(a.seq).is_some_and(|s| s.pending == 0) && a.len > FILE_HEADER_LEN);
    if idle {
      self.seal()?;
    }
    Ok(())
  }
}
