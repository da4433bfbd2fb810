//! Reading segment files back: frame by frame, oldest first, with damaged stretches found,
//! skipped and reported rather than ending the replay.
//!
//! Leftover segments are never appended to again (a new process starts a new segment), so their
//! length is taken once when the reader opens them.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use super::format::{file_header_ok, FrameHeader, FILE_HEADER_LEN, FRAME_HEADER_LEN, FRAME_MARKER};
use super::segment::read_exact_at;

/// How a stretch of a file was damaged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DamageKind {
  /// The file ends inside a frame: a write cut short (crash, full disk) or a truncated file.
  Torn,
  /// Bytes that fail their checksum, or that are not a frame at all.
  Checksum,
  /// A frame whose checksum holds but whose payload is not a batch (a bug or a foreign file).
  Malformed,
  /// The file header is wrong; the frames after it are still read.
  Header,
  /// The file was removed before it was read.
  Missing,
  /// Reading the file failed (an I/O error); the rest of it is given up on.
  Unreadable,
  /// The file is shorter than the ledger recorded: cut, possibly exactly between two frames.
  Truncated,
}

impl DamageKind {
  pub fn as_str(self) -> &'static str {
    match self {
      DamageKind::Torn => "torn write at the end of the file",
      DamageKind::Checksum => "checksum mismatch",
      DamageKind::Malformed => "checksum holds but the payload is not a batch",
      DamageKind::Header => "bad file header",
      DamageKind::Missing => "file removed before it was replayed",
      DamageKind::Unreadable => "read error",
      DamageKind::Truncated => "file shorter than the ledger recorded",
    }
  }
}

/// A damaged stretch of one file: `bytes` skipped from `offset`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
  pub file: PathBuf,
  pub offset: u64,
  pub bytes: u64,
  pub kind: DamageKind,
}

#[derive(Debug)]
pub enum Item {
  Frame { offset: u64, payload: Vec<u8> },
  Damage(Damage),
}

/// Frames of one segment file from `start` to the length it had when opened.
pub struct SegmentReader {
  path: PathBuf,
  file: File,
  pos: u64,
  end: u64,
  header_checked: bool,
  /// The length the ledger recorded, until a shortfall is reported.
  recorded: Option<u64>,
  /// A damaged stretch already ran to the end of the file (a cut is then reported once).
  damaged_to_end: bool,
}

/// How far the reader looks at once when searching for the next frame after damage.
const SCAN_BLOCK: usize = 64 * 1024;

impl SegmentReader {
  pub fn open(path: &Path, start: u64, recorded: Option<u64>) -> io::Result<Self> {
    let file = File::open(path)?;
    let end = file.metadata()?.len();
    Ok(SegmentReader {
      path: path.to_owned(),
      file,
      pos: start.max(FILE_HEADER_LEN),
      end,
      header_checked: false,
      recorded,
      damaged_to_end: false,
    })
  }

  /// Where the next frame would start.
  pub fn pos(&self) -> u64 {
    self.pos
  }

  pub fn next_item(&mut self) -> io::Result<Option<Item>> {
    if !self.header_checked {
      self.header_checked = true;
      if let Some(d) = self.check_header()? {
        return Ok(Some(Item::Damage(d)));
      }
    }
    if self.pos >= self.end {
      return Ok(self.shortfall().map(Item::Damage));
    }
    let at = self.pos;
    if self.end - at < FRAME_HEADER_LEN as u64 {
      return Ok(Some(Item::Damage(self.skip_to(self.end, DamageKind::Torn))));
    }
    let header = self.header_at(at)?;
    if let Some(h) = header {
      if at + h.frame_len() <= self.end {
        let payload = self.payload_at(at, h.len)?;
        if h.matches(&payload) {
          self.pos = at + h.frame_len();
          return Ok(Some(Item::Frame { offset: at, payload }));
        }
        // Only the payload (or the CRC) is hurt when a whole frame follows where the length says.
        let next = at + h.frame_len();
        if next == self.end || self.frame_at(next)?.is_some() {
          return Ok(Some(Item::Damage(self.skip_to(next, DamageKind::Checksum))));
        }
      }
    }
    let damage = match self.scan_from(at + 1)? {
      Some(next) => self.skip_to(next, DamageKind::Checksum),
      None => {
        let runs_past_end = header.is_some_and(|h| at + h.frame_len() > self.end);
        let kind = if runs_past_end {
          DamageKind::Torn
        } else {
          DamageKind::Checksum
        };
        self.skip_to(self.end, kind)
      }
    };
    Ok(Some(Item::Damage(damage)))
  }

  /// Once, at the end: the bytes the file lost since the ledger recorded its length.
  fn shortfall(&mut self) -> Option<Damage> {
    let recorded = self.recorded.take()?;
    (recorded > self.end && !self.damaged_to_end).then(|| Damage {
      file: self.path.clone(),
      offset: self.end,
      bytes: recorded - self.end,
      kind: DamageKind::Truncated,
    })
  }

  fn check_header(&mut self) -> io::Result<Option<Damage>> {
    let len = FILE_HEADER_LEN as usize;
    if self.end < FILE_HEADER_LEN {
      // Cut short before its header was whole (a crash right after the file was created).
      self.pos = self.end;
      self.damaged_to_end = true;
      return Ok(Some(Damage {
        file: self.path.clone(),
        offset: 0,
        bytes: self.end,
        kind: DamageKind::Torn,
      }));
    }
    let mut h = vec![0u8; len];
    read_exact_at(&self.file, &mut h, 0)?;
    Ok((!file_header_ok(&h)).then(|| Damage {
      file: self.path.clone(),
      offset: 0,
      bytes: FILE_HEADER_LEN,
      kind: DamageKind::Header,
    }))
  }

  fn skip_to(&mut self, to: u64, kind: DamageKind) -> Damage {
    self.damaged_to_end |= to == self.end;
    let d = Damage {
      file: self.path.clone(),
      offset: self.pos,
      bytes: to - self.pos,
      kind,
    };
    self.pos = to;
    d
  }

  fn header_at(&self, at: u64) -> io::Result<Option<FrameHeader>> {
    let mut h = [0u8; FRAME_HEADER_LEN];
    read_exact_at(&self.file, &mut h, at)?;
    Ok(FrameHeader::parse(&h))
  }

  fn payload_at(&self, at: u64, len: usize) -> io::Result<Vec<u8>> {
    let mut payload = vec![0u8; len];
    read_exact_at(&self.file, &mut payload, at + FRAME_HEADER_LEN as u64)?;
    Ok(payload)
  }

  /// A whole, intact frame at `at`, or `None`.
  fn frame_at(&self, at: u64) -> io::Result<Option<FrameHeader>> {
    if at + FRAME_HEADER_LEN as u64 > self.end {
      return Ok(None);
    }
    let Some(h) = self.header_at(at)? else {
      return Ok(None);
    };
    if at + h.frame_len() > self.end || !h.matches(&self.payload_at(at, h.len)?) {
      return Ok(None);
    }
    Ok(Some(h))
  }

  /// The first intact frame at or after `from`.
  fn scan_from(&self, from: u64) -> io::Result<Option<u64>> {
    let finder = memchr::memmem::Finder::new(&FRAME_MARKER);
    let mut block = vec![0u8; SCAN_BLOCK];
    let mut base = from;
    while base + FRAME_HEADER_LEN as u64 <= self.end {
      let n = (self.end - base).min(SCAN_BLOCK as u64) as usize;
      read_exact_at(&self.file, &mut block[..n], base)?;
      for i in finder.find_iter(&block[..n]) {
        let at = base + i as u64;
        if self.frame_at(at)?.is_some() {
          return Ok(Some(at));
        }
      }
      if base + n as u64 >= self.end {
        break;
      }
      // Overlap so a marker split across two blocks is still seen.
      base += (n - (FRAME_MARKER.len() - 1)) as u64;
    }
    Ok(None)
  }
}

/// Reads the frame of `len` payload bytes at `offset` through an open handle and checks it.
pub fn read_frame_at(file: &File, offset: u64, len: usize) -> io::Result<Result<Vec<u8>, &'static str>> {
  let mut buf = vec![0u8; FRAME_HEADER_LEN + len];
  match read_exact_at(file, &mut buf, offset) {
    Ok(()) => {}
    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(Err("file ends inside the batch")),
    Err(e) => return Err(e),
  }
  let header: [u8; FRAME_HEADER_LEN] = buf[..FRAME_HEADER_LEN].try_into().expect("header bytes");
  let payload = buf.split_off(FRAME_HEADER_LEN);
  Ok(match FrameHeader::parse(&header) {
    Some(h) if h.matches(&payload) => Ok(payload),
    _ => Err("checksum mismatch"),
  })
}
