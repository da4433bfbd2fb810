//! The sync policy: fsync of the active segment at most every `sync_interval`, and the ledger
//! written with it, at most every `LEDGER_EVERY`.

use std::time::{Duration, Instant};

use super::leftover::remove_file;
use super::segment::sync_dir;
use super::{ledger, Spool, SpoolError};

/// The ledger saves duplicates after a crash, never data, so it is rewritten at most this often
/// (and at close, and on an explicit `sync()`): `sync_interval: ZERO` then costs one fsync per
/// append, not three (a ledger rewrite syncs the new file and the directory).
const LEDGER_EVERY: Duration = Duration::from_secs(1);

impl Spool {
  /// When the next sync is due (`None`: nothing to sync, or no sync policy). The writer arms a
  /// timer on it and calls [`Spool::sync_if_due`].
  pub fn next_sync_at(&self) -> Option<Instant> {
    let d = self.sync_interval?;
    let dirty = self.data_dirty || self.dir_dirty || !self.sealed_unsynced.is_empty();
    let data = dirty.then(|| self.last_sync + d);
    let ledger = (self.ledger_dirty).then(|| (self.last_sync + d).max(self.last_ledger + LEDGER_EVERY));
    data.into_iter().chain(ledger).min()
  }

  pub fn sync_if_due(&mut self, now: Instant) -> Result<(), SpoolError> {
    match self.next_sync_at() {
      Some(at) if at <= now => self.sync_now(false),
      _ => Ok(()),
    }
  }

  /// Syncs the active segment and writes the ledger now. Also notices an active segment removed
  /// by someone else ([`SpoolError::Vanished`]; the spool moves on to a new segment).
  pub fn sync(&mut self) -> Result<(), SpoolError> {
    self.sync_now(true)
  }

  /// A sync; the ledger only when `force`d or due.
  pub(super) fn sync_now(&mut self, force: bool) -> Result<(), SpoolError> {
    self.last_sync = Instant::now();
    self.retry_doomed();
    self.sync_sealed()?;
    if let Some(a) = self.active.as_ref() {
      if !a.path.exists() {
        let (path, seq) = (a.path.clone(), a.seq);
        self.active = None;
        let batches = self.tracker.remove(seq).map_or(0, |s| s.pending);
        self.ledger_dirty = true;
        self.write_ledger()?;
        return Err(SpoolError::Vanished { file: path, batches });
      }
      if self.data_dirty && self.sync_interval.is_some() {
        a.sync().map_err(|e| SpoolError::io("sync", &a.path, e))?;
        self.stats.syncs += 1;
      }
    }
    self.data_dirty = false;
    if force || self.last_ledger.elapsed() >= LEDGER_EVERY {
      self.write_ledger()?;
    }
    Ok(())
  }

  /// Syncs the segments sealed since the last sync and, after a new segment file, the directory
  /// (see `seal`). A segment that fails stays for the next sync.
  pub(super) fn sync_sealed(&mut self) -> Result<(), SpoolError> {
    while let Some(segment) = self.sealed_unsynced.last() {
      segment
        .sync()
        .map_err(|e| SpoolError::io("sync", &segment.path, e))?;
      self.stats.syncs += 1;
      self.sealed_unsynced.pop();
    }
    if self.dir_dirty {
      sync_dir(&self.slot.dir).map_err(|e| SpoolError::io("sync", &self.slot.dir, e))?;
      self.dir_dirty = false;
    }
    Ok(())
  }

  pub(super) fn write_ledger(&mut self) -> Result<(), SpoolError> {
    if !self.ledger_dirty {
      return Ok(());
    }
    let l = ledger::Ledger {
      below: self.tracker.below(self.next_seq),
      starts: self.tracker.starts(),
      settled: self.tracker.settled_beyond(),
      // A leftover not opened yet keeps the length recorded before, so a cut is still found.
      lengths: (self.tracker.lengths().into_iter())
        .map(|(seq, len)| (seq, self.recorded.get(&seq).map_or(len, |r| len.max(*r))))
        .collect(),
    };
    ledger::write(&self.slot.dir, &l, self.sync_interval.is_some())
      .map_err(|e| SpoolError::io("write ledger in", &self.slot.dir, e))?;
    self.ledger_dirty = false;
    self.last_ledger = Instant::now();
    Ok(())
  }

  pub(super) fn retry_doomed(&mut self) {
    self.doomed.retain(|p| remove_file(p).is_err());
  }
}
