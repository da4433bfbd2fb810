//! The spool's error: what went wrong, with the file it concerns, and a stable code.

use std::fmt;
use std::io;
use std::path::PathBuf;

#[derive(Debug)]
#[non_exhaustive]
pub enum SpoolError {
  /// Another live process (or another open spool in this process) holds the slot.
  Locked { slot: PathBuf, holder: Option<u32> },
  /// Appending would take the spool past `max_bytes`. Settling batches frees space, a whole
  /// segment file at a time.
  Full { needed: u64, used: u64, max: u64 },
  /// A batch larger than `max_bytes` (or than a frame can carry) can never be stored.
  TooLarge { bytes: u64, max: u64 },
  /// A batch the writer handed over that is not well formed (bad entry offsets, huge tag).
  Invalid(&'static str),
  /// A file operation failed; `op` says which, `path` which file.
  Io {
    op: &'static str,
    path: PathBuf,
    source: io::Error,
  },
  /// A stored batch failed its checksum or does not decode.
  Corrupt {
    file: PathBuf,
    offset: u64,
    why: &'static str,
  },
  /// The spool's active segment file was removed by someone else; what it held is gone once
  /// the spool lets go of it. The spool has moved on to a new segment.
  Vanished { file: PathBuf, batches: u64 },
}

impl SpoolError {
  /// Stable, machine-readable name (the binding will prefix `ERR_FLUENT_`).
  pub fn code(&self) -> &'static str {
    match self {
      SpoolError::Locked { .. } => "SPOOL_LOCKED",
      SpoolError::Full { .. } => "SPOOL_FULL",
      SpoolError::TooLarge { .. } => "SPOOL_TOO_LARGE",
      SpoolError::Invalid(_) => "SPOOL_INVALID",
      SpoolError::Io { .. } => "SPOOL_IO",
      SpoolError::Corrupt { .. } => "SPOOL_CORRUPT",
      SpoolError::Vanished { .. } => "SPOOL_VANISHED",
    }
  }

  pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
    SpoolError::Io {
      op,
      path: path.into(),
      source,
    }
  }
}

impl fmt::Display for SpoolError {
  fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match self {
      SpoolError::Locked { slot, holder } => {
        write!(f, "spool slot {} is in use", slot.display())?;
        match holder {
          Some(pid) => write!(f, " by process {pid}")?,
          None => write!(f, " by a process that has not recorded its pid yet")?,
        }
        write!(f, "; each process needs its own slot (a shared spool dir gives one per process)")
      }
      SpoolError::Full { needed, used, max } => write!(
        f,
        "spool full: {needed} more bytes would exceed max_bytes ({used} of {max} used)"
      ),
      SpoolError::TooLarge { bytes, max } => {
        write!(f, "batch of {bytes} bytes can never fit in a spool of at most {max} bytes")
      }
      SpoolError::Invalid(why) => write!(f, "batch not stored: {why}"),
      SpoolError::Io { op, path, source } => write!(f, "spool: cannot {op} {}: {source}", path.display()),
      SpoolError::Corrupt { file, offset, why } => {
        write!(f, "spool: damaged batch in {} at byte {offset}: {why}", file.display())
      }
      SpoolError::Vanished { file, batches } => write!(
        f,
        "spool: segment {} was removed by someone else; its {batches} unsettled batches are only in memory now",
        file.display()
      ),
    }
  }
}

impl std::error::Error for SpoolError {
  fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
    match self {
      SpoolError::Io { source, .. } => Some(source),
      _ => None,
    }
  }
}
