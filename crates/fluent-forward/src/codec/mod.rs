//! Pure bytes-in, bytes-out encoders for each wire form, writing into reusable buffers.

pub mod ack;
pub mod entry;
pub mod event_time;
pub mod forward;
pub mod gzip;
pub mod message;
pub mod packed_forward;
pub mod primitives;
pub mod validate;
pub mod zstd;

/// Option-map fields a request may carry (PROTOCOL.md §4). `size` is always the event count.
#[derive(Clone, Copy, Debug, Default)]
pub struct RequestOptions<'a> {
  pub size: Option<usize>,
  /// Base64 chunk id asking the server for an ack.
  pub chunk: Option<&'a str>,
  /// The `compressed` value of CompressedPackedForward: `"gzip"` or `"zstd"` (PROTOCOL.md §4).
  pub compressed: Option<&'static str>,
}

impl RequestOptions<'_> {
  fn is_empty(&self) -> bool {
    self.size.is_none() && self.chunk.is_none() && self.compressed.is_none()
  }

  pub(crate) fn write(&self, out: &mut Vec<u8>) {
    let n = self.size.is_some() as usize + self.chunk.is_some() as usize + self.compressed.is_some() as usize;
    primitives::write_map_header(out, n);
    if let Some(size) = self.size {
      primitives::write_str(out, "size");
      primitives::write_uint(out, size as u64);
    }
    if let Some(chunk) = self.chunk {
      primitives::write_str(out, "chunk");
      primitives::write_str(out, chunk);
    }
    if let Some(algorithm) = self.compressed {
      primitives::write_str(out, "compressed");
      primitives::write_str(out, algorithm);
    }
  }

  /// Writes the option map only when it has something in it: never a nil or empty option slot.
  pub(crate) fn array_len_and_write(&self) -> (usize, bool) {
    (if self.is_empty() { 2 } else { 3 }, !self.is_empty())
  }
}
