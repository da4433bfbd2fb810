//! zstd frames for CompressedPackedForward (`compressed: "zstd"`, accepted by Fluent Bit's in_forward
//! since v4.1.0 and fluentd's since v1.19), built with a reused compression context so compressing a
//! batch allocates nothing once the buffers have grown.

use std::io::Cursor;

use zstd::bulk::Compressor;

/// The levels `compressionLevel` may take with `compress: 'zstd'`. 20-22 ("ultra") are left out:
/// they trade tens of MiB of window per context for a ratio a log batch of at most 64 MiB hardly
/// shows, and a receiver may refuse their windows. Negative ("fast") levels are left out too: level
/// 1 already sent half or less of gzip 1's bytes for 0.7-1.3x its writer CPU on every record shape
/// of bench/compression.ts (bench/results/compression.md).
pub const LEVELS: std::ops::RangeInclusive<u32> = 1..=19;

pub struct ZstdWriter {
  ctx: Compressor<'static>,
}

impl ZstdWriter {
  pub fn new(level: u32) -> Self {
    let level = level.clamp(*LEVELS.start(), *LEVELS.end()) as i32;
    Self {
      ctx: Compressor::new(level).expect("zstd accepts every level in LEVELS"),
    }
  }

  /// Appends one complete zstd frame holding `input` to `out`: one frame per entries blob, with
  /// its content size in the header (what both servers' decoders expect).
  pub fn compress_into(&mut self, input: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    // The bound is what zstd promises a frame of `input` never exceeds: one call always fits.
    out.reserve(zstd::zstd_safe::compress_bound(input.len()));
    let mut at = Cursor::new(&mut *out);
    at.set_position(start as u64);
    self
      .ctx
      .compress_to_buffer(input, &mut at)
      .expect("zstd of an in-memory buffer into its compress bound cannot fail");
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn round_trips_through_a_standard_decoder_and_appends() {
    let data: Vec<u8> = (0..200_000u32).flat_map(|i| (i % 251).to_le_bytes()).collect();
    for level in [*LEVELS.start(), 3, *LEVELS.end()] {
      let mut z = ZstdWriter::new(level);
      let mut out = b"prefix".to_vec();
      z.compress_into(&data, &mut out);
      assert_eq!(&out[..6], b"prefix");
      assert_eq!(&out[6..10], &[0x28, 0xb5, 0x2f, 0xfd], "zstd frame magic");
      assert!(out.len() < data.len() / 4, "level {level}: {} bytes", out.len());
      assert_eq!(zstd::stream::decode_all(&out[6..]).unwrap(), data);
      // The context is reused: a second frame is independent of the first.
      let mut second = Vec::new();
      z.compress_into(b"second", &mut second);
      assert_eq!(zstd::stream::decode_all(&second[..]).unwrap(), b"second");
    }
  }

  #[test]
  fn empty_input_is_a_valid_frame() {
    let mut out = Vec::new();
    ZstdWriter::new(3).compress_into(&[], &mut out);
    assert!(zstd::stream::decode_all(&out[..]).unwrap().is_empty());
  }
}
