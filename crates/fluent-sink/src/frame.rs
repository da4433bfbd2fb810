//! Finds where one request ends in a stream that has no framing.
//!
//! The walk is resumable: when a read stops in the middle of a request, the position and the number
//! of values still owed are kept, so the next read continues from there instead of rescanning the
//! whole (possibly multi-megabyte) prefix.

use crate::decode::{step, Step};
use crate::limits::DEFAULT_MAX_REQUEST_BYTES;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
  /// Not msgpack, or a top-level value that is neither an array nor a `nil` heartbeat.
  Malformed,
  /// The request is certain to be larger than the framer's limit (`max_request_bytes`).
  TooLarge,
}

#[derive(Debug)]
pub struct Framer {
  /// Bytes of the current request already walked.
  pos: usize,
  /// Values still to walk before the request is complete.
  owed: u64,
  /// Smallest total length the request can have, from what has been seen so far. Only a check
  /// against `max`: a declared length reserves nothing (the buffer grows with bytes received).
  need: usize,
  /// Largest request accepted, in wire bytes.
  max: usize,
}

impl Default for Framer {
  fn default() -> Self {
    Framer::new(DEFAULT_MAX_REQUEST_BYTES)
  }
}

impl Framer {
  pub fn new(max: usize) -> Self {
    Framer {
      pos: 0,
      owed: 1,
      need: 1,
      max,
    }
  }

  /// The current request is at least this long.
  pub fn need(&self) -> usize {
    self.need
  }

  /// Whether part of a request has been walked (a request is in progress).
  pub fn started(&self) -> bool {
    self.pos > 0
  }

  /// Continues the walk over `buf`, which starts at the current request and holds every byte
  /// received for it so far. Returns the request length once all of it is present.
  pub fn advance(&mut self, buf: &[u8]) -> Result<Option<usize>, FrameError> {
    if self.pos == 0 {
      match buf.first() {
        None => return Ok(None),
        Some(0x90..=0x9f | 0xdc | 0xdd | 0xc0) => {}
        Some(_) => return Err(FrameError::Malformed),
      }
    }
    while self.owed > 0 {
      match step(buf, self.pos) {
        Ok((size, kids)) => {
          self.pos += size;
          self.owed = self.owed - 1 + kids;
          // Every owed value takes at least one byte, so this also bounds lying element counts.
          if self.pos > self.max || self.owed > (self.max - self.pos) as u64 {
            return Err(FrameError::TooLarge);
          }
        }
        Err(Step::Need(n)) => {
          self.need = self.pos + n;
          if self.need > self.max {
            return Err(FrameError::TooLarge);
          }
          return Ok(None);
        }
        Err(Step::Bad) => return Err(FrameError::Malformed),
      }
    }
    let len = self.pos;
    *self = Framer::new(self.max);
    Ok(Some(len))
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn frames_back_to_back_requests_and_heartbeats() {
    let stream = [0x92, 0xa1, b't', 0x90, 0xc0, 0x91, 0x01];
    let mut f = Framer::default();
    assert_eq!(f.advance(&stream), Ok(Some(4)));
    assert_eq!(f.advance(&stream[4..]), Ok(Some(1)));
    assert_eq!(f.advance(&stream[5..]), Ok(Some(2)));
    assert_eq!(f.advance(&stream[7..]), Ok(None));
  }

  #[test]
  fn resumes_at_every_split() {
    let req = [
      0x93, 0xa1, b't', 0xc4, 0x03, 0x91, 0x01, 0x02, 0x81, 0xa1, b'k', 0xcd, 0x01, 0x00,
    ];
    for cut in 0..req.len() {
      let mut f = Framer::default();
      assert_eq!(f.advance(&req[..cut]), Ok(None), "cut {cut}");
      assert!(f.need() > cut);
      assert_eq!(f.advance(&req), Ok(Some(req.len())), "cut {cut}");
    }
  }

  #[test]
  fn rejects_non_requests_and_oversize() {
    assert_eq!(
      Framer::default().advance(b"{\"a\":1}"),
      Err(FrameError::Malformed)
    );
    assert_eq!(Framer::default().advance(&[0x01]), Err(FrameError::Malformed));
    assert_eq!(
      Framer::default().advance(&[0x91, 0xc1]),
      Err(FrameError::Malformed)
    );
    // bin32 of 100 MiB: refused from its header, before any payload arrives
    let big = [0x92, 0xa1, b't', 0xc6, 0x06, 0x40, 0x00, 0x00];
    assert_eq!(Framer::default().advance(&big), Err(FrameError::TooLarge));
    // the limit is the framer's own: 100 bytes of bin8 under a limit of 64
    let small = [0x92, 0xa1, b't', 0xc4, 100];
    assert_eq!(Framer::new(64).advance(&small), Err(FrameError::TooLarge));
    assert_eq!(Framer::new(200).advance(&small), Ok(None));
    // array32 owing more values than could ever fit
    assert_eq!(
      Framer::default().advance(&[0xdd, 0xff, 0xff, 0xff, 0xff]),
      Err(FrameError::TooLarge)
    );
  }
}
