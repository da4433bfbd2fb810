//! Chunk ids and ack responses (PROTOCOL.md §5).

use super::validate::{object_len, Invalid};
use base64::Engine;

/// A chunk id: standard Base64 of 16 random bytes, always 24 ASCII characters.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ChunkId([u8; 24]);

impl ChunkId {
  pub fn from_random_bytes(raw: [u8; 16]) -> Self {
    let mut out = [0u8; 24];
    let n = base64::engine::general_purpose::STANDARD
      .encode_slice(raw, &mut out)
      .expect("16 bytes always encode to 24");
    debug_assert_eq!(n, 24);
    Self(out)
  }

  pub fn random() -> Self {
    let mut raw = [0u8; 16];
    // The OS RNG failing is not a reason to stop logging; uniqueness then rests on the clock.
    if getrandom::fill(&mut raw).is_err() {
      let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
      raw = nanos.to_le_bytes();
    }
    Self::from_random_bytes(raw)
  }

  pub fn as_str(&self) -> &str {
    std::str::from_utf8(&self.0).expect("base64 is ascii")
  }

  pub fn as_bytes(&self) -> &[u8] {
    &self.0
  }
}

/// What the start of a server's byte stream holds.
#[derive(Debug, PartialEq, Eq)]
pub enum AckParse<'a> {
  /// One complete response: its ack id (raw bytes, compared byte-exact) and its length.
  Ack(&'a [u8], usize),
  /// More bytes are needed.
  Incomplete,
  /// Not an ack response: the connection can no longer be trusted.
  Garbage(&'static str),
}

/// Parses one `{"ack": <str>}` response; other keys in the map are skipped.
pub fn parse_ack(buf: &[u8]) -> AckParse<'_> {
  let total = match object_len(buf, 0) {
    Ok(n) => n,
    Err(Invalid::Truncated) => return AckParse::Incomplete,
    Err(e) => return AckParse::Garbage(e.describe()),
  };
  let (count, mut at) = match buf[0] {
    b @ 0x80..=0x8f => ((b & 0x0f) as usize, 1),
    0xde => (u16::from_be_bytes([buf[1], buf[2]]) as usize, 3),
    0xdf => (u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize, 5),
    _ => return AckParse::Garbage("server response is not a map"),
  };
  let mut found = None;
  for _ in 0..count {
    let key_len = object_len(&buf[at..], 1).unwrap_or(0);
    let key = str_payload(&buf[at..at + key_len]);
    at += key_len;
    let val_len = object_len(&buf[at..], 1).unwrap_or(0);
    if key == Some(b"ack".as_slice()) {
      found = str_payload(&buf[at..at + val_len]);
    }
    at += val_len;
  }
  debug_assert_eq!(at, total);
  match found {
    Some(id) => AckParse::Ack(id, total),
    None => AckParse::Garbage("server response has no string ack"),
  }
}

/// The bytes of a msgpack str (or bin, which some servers may use for ids).
fn str_payload(obj: &[u8]) -> Option<&[u8]> {
  let head = match *obj.first()? {
    0xa0..=0xbf => 1,
    0xd9 | 0xc4 => 2,
    0xda | 0xc5 => 3,
    0xdb | 0xc6 => 5,
    _ => return None,
  };
  obj.get(head..)
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn id_is_24_char_base64() {
    let id = ChunkId::from_random_bytes([0; 16]);
    assert_eq!(id.as_str(), "AAAAAAAAAAAAAAAAAAAAAA==");
    assert_ne!(ChunkId::random(), ChunkId::random());
  }

  #[test]
  fn parses_ack_from_fact_sheet() {
    // 81 a3 61 63 6b b8 <24 ASCII bytes>
    let mut bytes = vec![0x81, 0xa3, b'a', b'c', b'k', 0xb8];
    bytes.extend_from_slice(b"AAAAAAAAAAAAAAAAAAAAAA==");
    bytes.push(0x81); // start of a next response
    assert_eq!(parse_ack(&bytes), AckParse::Ack(b"AAAAAAAAAAAAAAAAAAAAAA==", 30));
    assert_eq!(parse_ack(&bytes[..20]), AckParse::Incomplete);
    assert!(matches!(parse_ack(&[0x91, 0x01]), AckParse::Garbage(_)));
    assert!(matches!(
      parse_ack(&[0x81, 0xa1, b'x', 0x01]),
      AckParse::Garbage(_)
    ));
  }
}
