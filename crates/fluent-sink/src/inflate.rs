//! Gzip for CompressedPackedForward.

use std::io::Read;

use flate2::read::MultiGzDecoder;

/// Largest decompressed PackedForward stream accepted; a bound keeps a small gzip bomb from taking
/// the machine's memory.
pub const MAX_INFLATED: usize = 64 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InflateError {
  Corrupt,
  TooLarge,
}

/// Decompresses every gzip member of `data` into `out` (cleared first, capacity reused).
/// The spec allows a payload made of several concatenated members, hence the multi-member decoder.
pub fn gunzip(data: &[u8], out: &mut Vec<u8>, limit: usize) -> Result<(), InflateError> {
  out.clear();
  let mut reader = MultiGzDecoder::new(data).take(limit as u64 + 1);
  reader.read_to_end(out).map_err(|_| InflateError::Corrupt)?;
  if out.len() > limit {
    return Err(InflateError::TooLarge);
  }
  Ok(())
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
    gunzip(&data, &mut out, 100).unwrap();
    assert_eq!(out, b"hello world");
  }

  #[test]
  fn limits_and_corruption() {
    let data = gzip(&[0u8; 1000]);
    let mut out = Vec::new();
    assert_eq!(gunzip(&data, &mut out, 999), Err(InflateError::TooLarge));
    assert_eq!(gunzip(&data, &mut out, 1000), Ok(()));
    assert_eq!(
      gunzip(&data[..data.len() - 3], &mut out, 1000),
      Err(InflateError::Corrupt)
    );
    assert_eq!(gunzip(b"not gzip", &mut out, 1000), Err(InflateError::Corrupt));
  }
}
