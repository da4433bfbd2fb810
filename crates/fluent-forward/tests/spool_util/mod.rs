//! Helpers for the spool tests: temporary directories, batches with checkable content, replay.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use fluent_forward::spool::{Batch, Damage, Replayed, Spool, SpoolId, SpoolOptions};

/// A directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
  pub fn new(name: &str) -> Self {
    static N: AtomicU64 = AtomicU64::new(0);
    let path = std::env::temp_dir().join(format!(
      "ff-spool-{name}-{}-{}",
      std::process::id(),
      N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&path);
    std::fs::create_dir_all(&path).unwrap();
    TempDir(path)
  }

  pub fn path(&self) -> &Path {
    &self.0
  }
}

impl Drop for TempDir {
  fn drop(&mut self) {
    let _ = std::fs::remove_dir_all(&self.0);
  }
}

/// Batch `i`: `records` entries of `entry` bytes each, every byte derived from `i` and the entry,
/// so a batch read back from the wrong place or with a flipped byte does not compare equal.
pub fn batch(i: u32, records: usize, entry: usize) -> Batch {
  let mut entries = Vec::with_capacity(records * entry);
  let mut offsets = Vec::with_capacity(records);
  for r in 0..records {
    offsets.push(entries.len() as u32);
    for b in 0..entry.max(1) {
      entries.push((i as usize * 31 + r * 7 + b) as u8);
    }
  }
  Batch {
    tag: format!("app.t{}", i % 5),
    entries,
    offsets,
  }
}

/// Options without fsync (tests check what the spool does, not what the device does).
pub fn opts(dir: &Path, max_bytes: u64) -> SpoolOptions {
  let mut o = SpoolOptions::new(dir, max_bytes);
  o.sync_interval = None;
  o
}

/// Replays everything left: batches in order and damaged stretches.
pub fn replay_all(spool: &mut Spool) -> (Vec<(SpoolId, Batch)>, Vec<Damage>) {
  let mut batches = Vec::new();
  let mut damage = Vec::new();
  for _ in 0..1_000_000 {
    match spool.replay_next() {
      Some(Replayed::Batch(id, b)) => batches.push((id, b)),
      Some(Replayed::Damaged(d)) => damage.push(d),
      None => return (batches, damage),
    }
  }
  panic!("replay did not end");
}

/// Every segment file under `dir`, sorted by path.
pub fn segment_files(dir: &Path) -> Vec<PathBuf> {
  let mut out = Vec::new();
  for slot in std::fs::read_dir(dir).unwrap() {
    let slot = slot.unwrap().path();
    if slot.is_dir() {
      for f in std::fs::read_dir(&slot).unwrap() {
        let f = f.unwrap().path();
        if f.extension().is_some_and(|e| e == "seg") {
          out.push(f);
        }
      }
    }
  }
  out.sort();
  out
}
