//! Gzip and zstd for CompressedPackedForward, both decoded as streams into one bounded buffer:
//! neither a gzip trailer's ISIZE nor a zstd frame's declared content size is ever trusted.

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
  fill(MultiGzDecoder::new(data), out, limit, memory)
}

/// The largest zstd window accepted: 2^27, zstd's own default limit for decoders.
const MAX_WINDOW_LOG: u32 = 27;
/// zstd's smallest window (ZSTD_WINDOWLOG_ABSOLUTEMIN).
const MIN_WINDOW_LOG: u32 = 10;

/// The window log a frame of at most `limit` bytes can need: a compressor sizes its window to the
/// input it has (one frame per entries blob), so anything larger is a frame we would refuse anyway.
pub fn zstd_window_log(limit: usize) -> u32 {
  let log = usize::BITS - limit.max(1).saturating_sub(1).leading_zeros();
  log.clamp(MIN_WINDOW_LOG, MAX_WINDOW_LOG)
}

/// Decompresses the zstd frames of `data` into `out` (cleared first), bounded as [`gunzip`] is.
///
/// The decoder's window (what a frame header asks for, allocated before any output) is capped at
/// the power of two at or above `limit` ([`zstd_window_log`]), and accounted in `memory` while the
/// decoder lives: a header asking for more is `Corrupt` before anything is allocated for it.
pub fn unzstd(data: &[u8], out: &mut Vec<u8>, limit: usize, memory: &Memory) -> Result<(), InflateError> {
  out.clear();
  let window_log = zstd_window_log(limit);
  let mut decoder = zstd::stream::read::Decoder::with_buffer(data).map_err(|_| InflateError::Corrupt)?;
  decoder
    .window_log_max(window_log)
    .map_err(|_| InflateError::Corrupt)?;
  let window = 1usize << window_log;
  memory.resized(0, window);
  let res = fill(decoder, out, limit, memory);
  memory.resized(window, 0);
  res
}

/// Reads `reader` to its end into `out`, growing it step by step up to `limit + 1` bytes.
fn fill(mut reader: impl Read, out: &mut Vec<u8>, limit: usize, memory: &Memory) -> Result<(), InflateError> {
  out.clear();
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

  fn zstd(data: &[u8], level: i32) -> Vec<u8> {
    zstd::bulk::compress(data, level).unwrap()
  }

  #[test]
  fn zstd_frames_limits_and_corruption() {
    let mut data = zstd(b"hello ", 3);
    data.extend(zstd(b"world", 3));
    let mut out = Vec::new();
    let m = Memory::default();
    unzstd(&data, &mut out, 100, &m).unwrap();
    assert_eq!(out, b"hello world");
    release(&mut out, &m);
    assert_eq!(m.now(), 0, "the window is given back with the decoder");

    let data = zstd(&[7u8; 1000], 3);
    assert_eq!(unzstd(&data, &mut out, 999, &m), Err(InflateError::TooLarge));
    assert_eq!(unzstd(&data, &mut out, 1000, &m), Ok(()));
    assert_eq!(out, [7u8; 1000]);
    assert_eq!(
      unzstd(&data[..data.len() - 3], &mut out, 1000, &m),
      Err(InflateError::Corrupt)
    );
    assert_eq!(
      unzstd(b"not zstd", &mut out, 1000, &m),
      Err(InflateError::Corrupt)
    );
  }

  #[test]
  fn a_zstd_bomb_stops_at_the_limit_and_its_declared_size_is_not_trusted() {
    // 64 MiB of zeros in one frame of a few KiB, whose header declares the 64 MiB: a 1 MiB limit
    // must hold the buffer near 1 MiB, plus a window of at most 1 MiB.
    let zeros = vec![0u8; 64 << 20];
    let bomb = zstd(&zeros, 19);
    assert!(bomb.len() < 64 << 10, "{} bytes", bomb.len());
    let mut out = Vec::new();
    let m = Memory::default();
    let res = unzstd(&bomb, &mut out, 1 << 20, &m);
    // Refused for its window (a 64 MiB frame wants more than 1 MiB of it) or stopped at the limit.
    assert!(res.is_err(), "{res:?}");
    assert!(
      m.peak() <= 2 * (1 << 20) + 1 + FIRST_STEP as u64,
      "peak {}",
      m.peak()
    );
    assert_eq!(res, Err(InflateError::Corrupt), "refused for the window it asks");
    release(&mut out, &m);
    assert_eq!(m.now(), 0);
  }

  #[test]
  fn a_zstd_frame_with_a_small_window_is_still_bounded_by_the_limit() {
    // A streamed frame (no declared size) with a 1 KiB window that inflates to 8 MiB.
    let mut enc = zstd::stream::write::Encoder::new(Vec::new(), 19).unwrap();
    enc.window_log(10).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..8 {
      std::io::Write::write_all(&mut enc, &zeros).unwrap();
    }
    let bomb = enc.finish().unwrap();
    let mut out = Vec::new();
    let m = Memory::default();
    assert_eq!(unzstd(&bomb, &mut out, 1 << 20, &m), Err(InflateError::TooLarge));
    assert!(
      m.peak() <= 2 * (1 << 20) + 1 + FIRST_STEP as u64,
      "peak {}",
      m.peak()
    );
  }

  #[test]
  fn window_logs() {
    assert_eq!(zstd_window_log(0), MIN_WINDOW_LOG);
    assert_eq!(zstd_window_log(1 << 20), 20);
    assert_eq!(zstd_window_log((1 << 20) + 1), 21);
    assert_eq!(zstd_window_log(usize::MAX), MAX_WINDOW_LOG);
  }
}
