//! The spool as the client handle sees it: what the writer thread publishes about its spool for
//! `stats()` (the `Spool` itself is the writer's alone), and the counts the accounting identity
//! needs under the queue lock.

use crate::spool::SpoolStats;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

/// `stats().spool`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SpoolView {
  pub dir: String,
  /// The slot directory held; empty when the spool could not be opened.
  pub slot: String,
  /// The spool could not be opened, or its last append failed: new batches stay in memory only.
  pub memory_only: bool,
  /// On disk now: segment bytes and files, records of the batches known and not yet settled.
  pub bytes: u64,
  pub files: u64,
  pub records: u64,
  /// Records appended over the client's life.
  pub appended: u64,
  /// Records read back from leftovers of an earlier process.
  pub replayed: u64,
  /// Batches let go of in memory because they are on disk.
  pub evicted: u64,
  /// Batches kept in memory only because the spool refused them (full, too large, I/O).
  pub not_spooled: u64,
  pub corrupted: u64,
  pub corrupted_bytes: u64,
  pub syncs: u64,
  /// Leftover files of earlier processes that replay has not finished reading: their records are in
  /// no count of this client until read (`replayed`); a close leaves them for the next process.
  pub unread_files: u64,
}

/// Written by the writer, read by `stats()`.
pub struct SpoolShared {
  pub dir: String,
  pub slot: Mutex<String>,
  pub memory_only: AtomicBool,
  /// The engine's figures as of the writer's last step.
  pub engine: Mutex<SpoolStats>,
  pub appended_records: AtomicU64,
  pub evicted: AtomicU64,
  pub not_spooled: AtomicU64,
  /// Records of batches that are only on disk (evicted from memory, waiting to be read back):
  /// pending in the identity. Changed under the queue lock, with the held counts they move
  /// between, so that `stats()` (which reads it under that lock) never counts a record twice.
  pub on_disk_records: AtomicU64,
}

impl SpoolShared {
  pub fn new(dir: String) -> Self {
    Self {
      dir,
      slot: Mutex::new(String::new()),
      memory_only: AtomicBool::new(false),
      engine: Mutex::new(SpoolStats::default()),
      appended_records: AtomicU64::new(0),
      evicted: AtomicU64::new(0),
      not_spooled: AtomicU64::new(0),
      on_disk_records: AtomicU64::new(0),
    }
  }

  pub fn view(&self, replayed: u64) -> SpoolView {
    let e = *self.engine.lock();
    SpoolView {
      dir: self.dir.clone(),
      slot: self.slot.lock().clone(),
      memory_only: self.memory_only.load(Relaxed),
      bytes: e.bytes,
      files: e.files,
      records: e.records,
      appended: self.appended_records.load(Relaxed),
      replayed,
      evicted: self.evicted.load(Relaxed),
      not_spooled: self.not_spooled.load(Relaxed),
      corrupted: e.corrupted,
      corrupted_bytes: e.corrupted_bytes,
      syncs: e.syncs,
      unread_files: e.unread_files,
    }
  }
}
