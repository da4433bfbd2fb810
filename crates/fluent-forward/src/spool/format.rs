//! The on-disk framing of a segment file: a 16-byte file header, then frames of
//! `marker | length | crc32c | payload`, all integers little-endian.
//!
//! The marker lets a reader find the next frame after a damaged one whose length it cannot trust;
//! the CRC32C covers the length and the payload, so a flipped length is caught like a flipped
//! payload byte (the length alone would otherwise send the reader into the middle of a frame).

/// Starts every segment file; the last byte is the format version.
pub const FILE_MAGIC: [u8; 8] = *b"FNSPOOL\x01";
/// Magic, 4 reserved bytes (zero), CRC32C of the 12 bytes before it.
pub const FILE_HEADER_LEN: u64 = 16;

/// Starts every frame ("SPL" and a version byte), so a reader can resynchronise after damage.
pub const FRAME_MARKER: [u8; 4] = *b"SPL\x01";
/// Marker, payload length, CRC32C.
pub const FRAME_HEADER_LEN: usize = 12;
/// Largest payload a frame may carry. A length above it is damage, not a frame: a reader never
/// allocates for it.
pub const MAX_PAYLOAD: usize = 1 << 30;

pub fn file_header() -> [u8; FILE_HEADER_LEN as usize] {
  let mut h = [0u8; FILE_HEADER_LEN as usize];
  h[..8].copy_from_slice(&FILE_MAGIC);
  let crc = crc32c::crc32c(&h[..12]);
  h[12..].copy_from_slice(&crc.to_le_bytes());
  h
}

pub fn file_header_ok(h: &[u8]) -> bool {
  h.len() >= FILE_HEADER_LEN as usize
    && h[..8] == FILE_MAGIC
    && crc32c::crc32c(&h[..12]).to_le_bytes() == h[12..16]
}

/// The CRC a frame stores: over the little-endian length, then the payload.
pub fn frame_crc(payload: &[u8]) -> u32 {
  let len = (payload.len() as u32).to_le_bytes();
  crc32c::crc32c_append(crc32c::crc32c(&len), payload)
}

/// Appends one frame around `payload` to `out`. The spool builds its frames in place instead
/// (`Spool::encode`, to copy the batch once); this is the reference the tests check that against.
#[cfg(test)]
pub fn push_frame(out: &mut Vec<u8>, payload: &[u8]) {
  debug_assert!(payload.len() <= MAX_PAYLOAD);
  out.extend_from_slice(&FRAME_MARKER);
  out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
  out.extend_from_slice(&frame_crc(payload).to_le_bytes());
  out.extend_from_slice(payload);
}

/// What a frame header says, before its payload is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
  pub len: usize,
  pub crc: u32,
}

impl FrameHeader {
  /// `None` when the marker is wrong or the length is impossible.
  pub fn parse(h: &[u8; FRAME_HEADER_LEN]) -> Option<Self> {
    if h[..4] != FRAME_MARKER {
      return None;
    }
    let len = u32::from_le_bytes(h[4..8].try_into().expect("4 bytes")) as usize;
    let crc = u32::from_le_bytes(h[8..12].try_into().expect("4 bytes"));
    (len <= MAX_PAYLOAD).then_some(FrameHeader { len, crc })
  }

  pub fn frame_len(&self) -> u64 {
    (FRAME_HEADER_LEN + self.len) as u64
  }

  pub fn matches(&self, payload: &[u8]) -> bool {
    payload.len() == self.len && frame_crc(payload) == self.crc
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn a_frame_parses_back_and_a_flipped_length_fails_its_crc() {
    let mut out = Vec::new();
    push_frame(&mut out, b"hello");
    let h = FrameHeader::parse(out[..12].try_into().unwrap()).unwrap();
    assert_eq!(h.len, 5);
    assert!(h.matches(&out[12..]));
    out[4] ^= 1;
    let h = FrameHeader::parse(out[..12].try_into().unwrap()).unwrap();
    assert!(!h.matches(&out[12..12 + 4]));
  }

  #[test]
  fn file_header_round_trips_and_detects_damage() {
    let mut h = file_header();
    assert!(file_header_ok(&h));
    h[3] ^= 0x40;
    assert!(!file_header_ok(&h));
  }
}
