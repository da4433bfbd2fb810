//! gzip members (RFC 1952) built with a reused deflate state, so compressing a batch allocates nothing
//! once the buffers have grown.

use flate2::{Compress, Compression, Crc, FlushCompress, Status};

pub struct GzipWriter {
  deflate: Compress,
}

/// The fixed 10-byte member header: magic, CM=deflate, no flags, no mtime, XFL=0, OS=unknown.
const HEADER: [u8; 10] = [0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 0xff];

impl GzipWriter {
  pub fn new(level: u32) -> Self {
    Self {
      deflate: Compress::new(Compression::new(level.min(9)), false),
    }
  }

  /// Appends one complete gzip member holding `input` to `out`.
  pub fn compress_into(&mut self, input: &[u8], out: &mut Vec<u8>) {
    self.deflate.reset();
    out.extend_from_slice(&HEADER);
    out.reserve(input.len() / 2 + 64);
    let mut consumed = 0;
    loop {
      let before_in = self.deflate.total_in();
      let status = self
        .deflate
        .compress_vec(&input[consumed..], out, FlushCompress::Finish)
        .expect("deflate of an in-memory buffer cannot fail");
      consumed += (self.deflate.total_in() - before_in) as usize;
      match status {
        Status::StreamEnd => break,
        // Out of room: grow and go on.
        Status::Ok | Status::BufError => out.reserve(out.capacity().max(4096)),
      }
    }
    let mut crc = Crc::new();
    crc.update(input);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&(input.len() as u32).to_le_bytes());
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use std::io::Read;

  #[test]
  fn round_trips_through_a_standard_decoder() {
    let mut gz = GzipWriter::new(6);
    let data: Vec<u8> = (0..200_000u32).flat_map(|i| (i % 251).to_le_bytes()).collect();
    let mut out = Vec::new();
    gz.compress_into(&data, &mut out);
    gz.compress_into(b"second member", &mut out);
    let mut dec = flate2::read::MultiGzDecoder::new(&out[..]);
    let mut back = Vec::new();
    dec.read_to_end(&mut back).unwrap();
    let mut want = data.clone();
    want.extend_from_slice(b"second member");
    assert_eq!(back, want);
  }
}
