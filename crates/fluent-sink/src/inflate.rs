//! Gzip for CompressedPackedForward.

use std::io::Read;

use flate2::read::MultiGzDecoder;

use crate::memory::Memory;

/// The first step of the output buffer; it doubles from there while the stream lasts.
const FIRST_STEP: usize = 64 << 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InflateError {
  Corrupt,
  TooLarge,
}

/// Decompresses every gzip member of `data` into `out` (cleared first). The spec allows a payload
/// made of several concatenated members, hence the multi-member decoder.
///
/// `out` grows with what the stream yields (never past `limit + 1` bytes plus one step), each
/// growth recorded in `memory`; the caller gives the buffer back with [`release`].
pub fn gunzip(data: &[u8], out: &mut Vec<u8>, limit: usize, memory: &Memory) -> Result<(), InflateError> {
  out.clear();
  let mut reader = MultiGzDecoder::new(data);
  let mut len = 0;
  loop {
    if len == out.len() {
      let step = out.len().max(FIRST_STEP).min(limit + 1 - len);
      let before = out.capacity();
      out.reserve_exact(step);
      out.resize(len + step, 0);
      memory.resized(before, out.capacity());
    }
    let n = match reader.read(&mut out[len..]) {
      Ok(n) => n,
      Err(_) => {
        out.truncate(len);
        return Err(InflateError::Corrupt);
      }
    };
    if n == 0 {
      break;
    }
    len += n;
    if len > limit {
      out.truncate(len);
      return Err(InflateError::TooLarge);
    }
  }
  out.truncate(len);
  Ok(())
}

/// Frees an inflate buffer after its request: one bomb must not pin its size on an idle connection.
pub fn release(out: &mut Vec<u8>, memory: &Memory) {
  memory.resized(out.capacity(), 0);
  *out = Vec::new();
}

#[cfg(test)]
mod tests {
  use std::io::Write;

  use flate2::{write::GzEncoder, Compression};

  use super::*;

  fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
  }

  #[test]
  fn concatenated_members() {
    let mut data = gzip(b"hello ");
    data.extend(gzip(b"world"));
    let mut out = Vec::new();
    let m = Memory::default();
    gunzip(&data, &mut out, 100, &m).unwrap();
    assert_eq!(out, b"hello world");
    assert_eq!(m.now(), out.capacity() as u64);
    release(&mut out, &m);
    assert_eq!((m.now(), out.capacity()), (0, 0));
  }

  #[test]
  fn limits_and_corruption() {
    let data = gzip(&[0u8; 1000]);
    let mut out = Vec::new();
    let m = Memory::default();
    assert_eq!(gunzip(&data, &mut out, 999, &m), Err(InflateError::TooLarge));
    assert_eq!(gunzip(&data, &mut out, 1000, &m), Ok(()));
    assert_eq!(
      gunzip(&data[..data.len() - 3], &mut out, 1000, &m),
      Err(InflateError::Corrupt)
    );
    assert_eq!(
      gunzip(b"not gzip", &mut out, 1000, &m),
      Err(InflateError::Corrupt)
    );
  }

  #[test]
  fn a_bomb_stops_at_the_limit_not_at_its_size() {
    // 64 MiB of zeros inflate from about 64 KiB; a 1 MiB limit must hold the buffer near 1 MiB.
    let mut enc = GzEncoder::new(Vec::new(), Compression::best());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..64 {
      enc.write_all(&zeros).unwrap();
    }
    let bomb = enc.finish().unwrap();
    let mut out = Vec::new();
    let m = Memory::default();
    assert_eq!(gunzip(&bomb, &mut out, 1 << 20, &m), Err(InflateError::TooLarge));
    assert!(m.peak() <= (1 << 20) + 1 + FIRST_STEP as u64, "peak {}", m.peak());
  }
}
