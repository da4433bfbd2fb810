//! Segment files: their names, and the one segment being appended to.
//!
//! A slot holds numbered segment files. The number (`seq`) orders them; names are never reused,
//! so a file removed from under us cannot come back as another. A segment adopted from a dead
//! process whose oldest batches were already settled carries where replay starts in its name,
//! because that process's ledger stays behind in its own slot.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use super::format::{file_header, FILE_HEADER_LEN};

const SUFFIX: &str = ".seg";

/// What a segment file name says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentName {
  pub seq: u64,
  /// Where replay starts; the file header's length unless a ledger said more was settled.
  pub start: u64,
}

impl SegmentName {
  pub fn new(seq: u64) -> Self {
    SegmentName {
      seq,
      start: FILE_HEADER_LEN,
    }
  }

  pub fn file_name(&self) -> String {
    if self.start == FILE_HEADER_LEN {
      format!("{:016x}{SUFFIX}", self.seq)
    } else {
      format!("{:016x}-{:x}{SUFFIX}", self.seq, self.start)
    }
  }

  pub fn parse(name: &str) -> Option<Self> {
    let stem = name.strip_suffix(SUFFIX)?;
    let (seq, start) = match stem.split_once('-') {
      Some((seq, start)) => (seq, u64::from_str_radix(start, 16).ok()?),
      None => (stem, FILE_HEADER_LEN),
    };
    if seq.len() != 16 || start < FILE_HEADER_LEN {
      return None;
    }
    Some(SegmentName {
      seq: u64::from_str_radix(seq, 16).ok()?,
      start,
    })
  }
}

/// The segment files in `dir`, oldest first.
pub fn list(dir: &Path) -> io::Result<Vec<(SegmentName, PathBuf)>> {
  let mut out = Vec::new();
  for entry in std::fs::read_dir(dir)? {
    let entry = entry?;
    if let Some(name) = entry.file_name().to_str().and_then(SegmentName::parse) {
      out.push((name, entry.path()));
    }
  }
  out.sort_by_key(|(n, _)| n.seq);
  Ok(out)
}

/// The segment being appended to. Writes are positional, so reading a batch back through the same
/// handle (Windows moves the cursor on a positional read) never disturbs the next append.
pub struct ActiveSegment {
  pub seq: u64,
  pub path: PathBuf,
  file: File,
  /// Bytes known good: everything after a failed write is cut off again.
  pub len: u64,
  /// Set when a failed write could not be cut off: nothing more may follow it in this file.
  pub broken: bool,
}

impl ActiveSegment {
  pub fn create(dir: &Path, seq: u64) -> io::Result<Self> {
    let path = dir.join(SegmentName::new(seq).file_name());
    let file = OpenOptions::new()
      .read(true)
      .write(true)
      .create_new(true)
      .open(&path)?;
    let mut seg = ActiveSegment {
      seq,
      path,
      file,
      len: 0,
      broken: false,
    };
    if let Err(e) = write_all_at(&seg.file, &file_header(), 0) {
      drop(seg.file);
      let _ = std::fs::remove_file(&seg.path);
      return Err(e);
    }
    seg.len = FILE_HEADER_LEN;
    Ok(seg)
  }

  /// Writes one or more whole frames at the end; returns where they start. On failure (a full
  /// disk mid-frame) the file is cut back so no torn frame is left behind.
  pub fn append(&mut self, frames: &[u8]) -> io::Result<u64> {
    let at = self.len;
    match write_all_at(&self.file, frames, at) {
      Ok(()) => {
        self.len += frames.len() as u64;
        Ok(at)
      }
      Err(e) => {
        if self.file.set_len(at).is_err() {
          self.broken = true;
        }
        Err(e)
      }
    }
  }

  pub fn sync(&self) -> io::Result<()> {
    self.file.sync_data()
  }

  pub fn file(&self) -> &File {
    &self.file
  }
}

/// Makes a new or removed directory entry durable (a no-op where directories cannot be opened).
/// A filesystem that cannot sync a directory (EINVAL, ENOTSUP: some network and FUSE filesystems,
/// F_FULLFSYNC on some macOS volumes) is not an error: it is a durability hint there.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
  #[cfg(unix)]
  {
    match File::open(dir)?.sync_all() {
      Err(e) if matches!(e.kind(), io::ErrorKind::InvalidInput | io::ErrorKind::Unsupported) => Ok(()),
      other => other,
    }
  }
  #[cfg(not(unix))]
  {
    let _ = dir;
    Ok(())
  }
}

#[cfg(unix)]
pub fn write_all_at(file: &File, buf: &[u8], offset: u64) -> io::Result<()> {
  std::os::unix::fs::FileExt::write_all_at(file, buf, offset)
}

#[cfg(windows)]
pub fn write_all_at(file: &File, mut buf: &[u8], mut offset: u64) -> io::Result<()> {
  use std::os::windows::fs::FileExt;
  while !buf.is_empty() {
    match file.seek_write(buf, offset) {
      Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
      Ok(n) => {
        buf = &buf[n..];
        offset += n as u64;
      }
      Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
      Err(e) => return Err(e),
    }
  }
  Ok(())
}

#[cfg(unix)]
pub fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
  std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(windows)]
pub fn read_exact_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
  use std::os::windows::fs::FileExt;
  while !buf.is_empty() {
    match file.seek_read(buf, offset) {
      Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
      Ok(n) => {
        buf = &mut buf[n..];
        offset += n as u64;
      }
      Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
      Err(e) => return Err(e),
    }
  }
  Ok(())
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn names_round_trip_and_strangers_are_ignored() {
    for n in [SegmentName::new(7), SegmentName { seq: 7, start: 4096 }] {
      assert_eq!(SegmentName::parse(&n.file_name()), Some(n));
    }
    assert_eq!(SegmentName::parse("0000000000000007.seg.tmp"), None);
    assert_eq!(SegmentName::parse("7.seg"), None);
    assert_eq!(SegmentName::parse("0000000000000007-3.seg"), None);
  }
}
