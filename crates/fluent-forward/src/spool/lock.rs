//! Slots: one directory per live process inside the spool dir, owned through an OS file lock.
//!
//! The lock (flock on Unix, LockFileEx on Windows, through `fs4`) is released by the kernel when
//! its holder dies, however it dies, so a dead process's slot is simply one whose lock can be
//! taken: no pid files to trust, no pid reuse to fear. The `owner` file only names the holder in
//! the error a second opener gets. Slot directories and lock files are never removed: removing a
//! lock file while another process waits on it would let two processes "hold" it.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use fs4::TryLockError;

use super::error::SpoolError;

const LOCK: &str = "lock";
const OWNER: &str = "owner";
const AUTO_PREFIX: &str = "slot-";

/// Which slot a spool takes in its directory.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Slot {
  /// The first slot no live process holds (`slot-0`, `slot-1`, ...), created when all are held;
  /// the leftovers of dead processes' auto slots are adopted. For a shared dir (cluster, PM2).
  #[default]
  Auto,
  /// This slot only; a second opener gets [`SpoolError::Locked`]. Never adopted by others.
  Named(String),
}

/// A slot this process holds; the lock goes with the handle.
#[derive(Debug)]
pub struct SlotLock {
  pub dir: PathBuf,
  _file: File,
}

/// Takes `slot` in `root` (which must exist).
pub fn take(root: &Path, slot: &Slot) -> Result<SlotLock, SpoolError> {
  match slot {
    Slot::Named(name) => {
      if !valid_name(name) {
        return Err(SpoolError::Invalid(
          "slot name must be 1-64 of A-Z a-z 0-9 . _ - and start with neither a dot nor slot-",
        ));
      }
      let dir = root.join(name);
      create_dir(&dir)?;
      try_take(&dir, true)?.ok_or_else(|| SpoolError::Locked {
        holder: holder(&dir),
        slot: dir,
      })
    }
    Slot::Auto => {
      let existing = auto_slots(root)?;
      for (_, dir) in &existing {
        if let Some(lock) = try_take(dir, true)? {
          return Ok(lock);
        }
      }
      // Every slot is held: make the next one. Another process may make it first, so go on.
      let first = existing.last().map_or(0, |(n, _)| n + 1);
      for n in first..first + 1024 {
        let dir = root.join(format!("{AUTO_PREFIX}{n}"));
        match fs::create_dir(&dir) {
          Ok(()) => {}
          Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
          Err(e) => return Err(SpoolError::io("create slot dir", dir, e)),
        }
        if let Some(lock) = try_take(&dir, true)? {
          return Ok(lock);
        }
      }
      Err(SpoolError::Locked {
        slot: root.to_owned(),
        holder: None,
      })
    }
  }
}

/// The auto slots in `root` other than `own` whose holder is gone, locked for adoption.
pub fn orphans(root: &Path, own: &Path) -> Result<Vec<SlotLock>, SpoolError> {
  let mut out = Vec::new();
  for (_, dir) in auto_slots(root)? {
    if dir != own {
      if let Some(lock) = try_take(&dir, false)? {
        out.push(lock);
      }
    }
  }
  Ok(out)
}

/// The pid the holder of `dir` recorded, if it did.
pub fn holder(dir: &Path) -> Option<u32> {
  fs::read_to_string(dir.join(OWNER)).ok()?.trim().parse().ok()
}

fn try_take(dir: &Path, record_owner: bool) -> Result<Option<SlotLock>, SpoolError> {
  let path = dir.join(LOCK);
  let file = OpenOptions::new()
    .read(true)
    .write(true)
    .create(true)
    .truncate(false)
    .open(&path)
    .map_err(|e| SpoolError::io("open lock file", &path, e))?;
  // Called through the trait by name: std has inherent `File::try_lock` from Rust 1.89 on, which
  // would win over the trait method there and has another error type.
  match fs4::FileExt::try_lock(&file) {
    Ok(()) => {}
    Err(TryLockError::WouldBlock) => return Ok(None),
    Err(TryLockError::Error(e)) => return Err(SpoolError::io("lock", path, e)),
  }
  if record_owner {
    let owner = dir.join(OWNER);
    fs::write(&owner, format!("{}\n", std::process::id()))
      .map_err(|e| SpoolError::io("record owner in", owner, e))?;
  }
  Ok(Some(SlotLock {
    dir: dir.to_owned(),
    _file: file,
  }))
}

fn create_dir(dir: &Path) -> Result<(), SpoolError> {
  match fs::create_dir(dir) {
    Err(e) if e.kind() != io::ErrorKind::AlreadyExists => Err(SpoolError::io("create slot dir", dir, e)),
    _ => Ok(()),
  }
}

fn auto_slots(root: &Path) -> Result<Vec<(u64, PathBuf)>, SpoolError> {
  let entries = fs::read_dir(root).map_err(|e| SpoolError::io("list spool dir", root, e))?;
  let mut out = Vec::new();
  for entry in entries {
    let entry = entry.map_err(|e| SpoolError::io("list spool dir", root, e))?;
    let n = entry
      .file_name()
      .to_str()
      .and_then(|n| n.strip_prefix(AUTO_PREFIX))
      .and_then(|n| n.parse::<u64>().ok());
    if let Some(n) = n {
      if entry.path().is_dir() {
        out.push((n, entry.path()));
      }
    }
  }
  out.sort();
  Ok(out)
}

fn valid_name(name: &str) -> bool {
  (1..=64).contains(&name.len())
    && !name.starts_with('.')
    && !name.starts_with(AUTO_PREFIX)
    && name
      .bytes()
      .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}
