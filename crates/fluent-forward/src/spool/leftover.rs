//! Finding what a slot left behind, and adopting a dead process's slot into ours.
//!
//! Adoption renames the orphan's segment files into our slot under new numbers (a rename within
//! one directory tree is atomic: a file is in exactly one slot, whatever moment a crash picks).
//! Its ledger is applied on the way: files wholly settled are deleted, the partly settled one
//! carries its replay start in its new name, and its out-of-order settles join our ledger.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::error::SpoolError;
use super::ledger;
use super::lock::SlotLock;
use super::segment::{self, sync_dir, SegmentName};

/// A leftover segment file.
#[derive(Debug)]
pub struct Found {
  pub name: SegmentName,
  pub path: PathBuf,
  pub bytes: u64,
  /// The length the ledger recorded, when it did: a shorter file was cut.
  pub recorded: Option<u64>,
}

#[derive(Debug, Default)]
pub struct SlotContents {
  pub segments: Vec<Found>,
  /// Frames settled out of order, per the ledger.
  pub skip: Vec<(u64, u64)>,
  pub ledger_damaged: bool,
  /// The highest seq this slot ever used (new segments must come after it).
  pub max_seq: u64,
}

/// Reads `slot`'s ledger and segments, deleting the segment files it says are settled.
pub fn scan(slot: &Path) -> Result<SlotContents, SpoolError> {
  let (ledger, ledger_damaged) = ledger::read(slot).map_err(|e| SpoolError::io("read ledger in", slot, e))?;
  let ledger = ledger.unwrap_or_default();
  let starts: HashMap<u64, u64> = ledger.starts.iter().copied().collect();
  let lengths: HashMap<u64, u64> = ledger.lengths.iter().copied().collect();
  let mut out = SlotContents {
    ledger_damaged,
    max_seq: ledger.below,
    ..SlotContents::default()
  };
  let listed = segment::list(slot).map_err(|e| SpoolError::io("list segments in", slot, e))?;
  for (name, path) in listed {
    out.max_seq = out.max_seq.max(name.seq);
    if name.seq < ledger.below {
      // Settled before the last run ended; only the deletion did not happen.
      remove_file(&path)?;
      continue;
    }
    let bytes = match fs::metadata(&path) {
      Ok(m) => m.len(),
      Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
      Err(e) => return Err(SpoolError::io("stat segment", path, e)),
    };
    let start = starts.get(&name.seq).map_or(name.start, |s| name.start.max(*s));
    out.segments.push(Found {
      name: SegmentName { seq: name.seq, start },
      path,
      bytes,
      recorded: lengths.get(&name.seq).copied(),
    });
  }
  out.skip = ledger.settled;
  Ok(out)
}

/// Moves the orphan's unsettled segments into `own`, numbered from `*next_seq` on. On an error,
/// what was moved before it is returned with it (those files are ours now either way).
pub fn adopt(orphan: &SlotLock, own: &Path, next_seq: &mut u64) -> (SlotContents, Option<SpoolError>) {
  let found = match scan(&orphan.dir) {
    Ok(f) => f,
    Err(e) => return (SlotContents::default(), Some(e)),
  };
  let mut renumbered = HashMap::new();
  let mut out = SlotContents {
    ledger_damaged: found.ledger_damaged,
    ..SlotContents::default()
  };
  let mut error = None;
  for f in found.segments {
    let name = SegmentName {
      seq: *next_seq,
      start: f.name.start,
    };
    let to = own.join(name.file_name());
    if let Err(e) = fs::rename(&f.path, &to) {
      error = Some(SpoolError::io("adopt segment", &f.path, e));
      break;
    }
    *next_seq += 1;
    renumbered.insert(f.name.seq, name.seq);
    out.max_seq = name.seq;
    // The recorded length is not carried over (a name has room for the start only).
    out.segments.push(Found {
      name,
      path: to,
      bytes: f.bytes,
      recorded: None,
    });
  }
  out.skip = found
    .skip
    .iter()
    .filter_map(|(seq, off)| renumbered.get(seq).map(|s| (*s, *off)))
    .collect();
  if error.is_some() {
    // The orphan keeps its ledger for the files it still has.
    return (out, error);
  }
  // The renames are made durable before the orphan's ledger goes (its settles are in ours now).
  let done = sync_dir(own)
    .map_err(|e| SpoolError::io("sync", own, e))
    .and_then(|()| sync_dir(&orphan.dir).map_err(|e| SpoolError::io("sync", &orphan.dir, e)))
    .and_then(|()| {
      ledger::remove(&orphan.dir).map_err(|e| SpoolError::io("remove ledger in", &orphan.dir, e))
    });
  (out, done.err())
}

pub fn remove_file(path: &Path) -> Result<(), SpoolError> {
  match fs::remove_file(path) {
    Err(e) if e.kind() != io::ErrorKind::NotFound => Err(SpoolError::io("delete segment", path, e)),
    _ => Ok(()),
  }
}
