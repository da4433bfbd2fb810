//! The acknowledgement a server owes for a request carrying `chunk`.

/// Appends `{"ack": chunk}` as msgpack. The id goes back as `str`, byte for byte, because clients
/// compare it exactly (fluentd's ids even end in a newline).
pub fn encode(out: &mut Vec<u8>, chunk: &[u8]) {
  out.extend_from_slice(&[0x81, 0xa3, b'a', b'c', b'k']);
  let n = chunk.len();
  if n < 32 {
    out.push(0xa0 | n as u8);
  } else if n <= 0xff {
    out.extend_from_slice(&[0xd9, n as u8]);
  } else if n <= 0xffff {
    out.push(0xda);
    out.extend_from_slice(&(n as u16).to_be_bytes());
  } else {
    out.push(0xdb);
    out.extend_from_slice(&(n as u32).to_be_bytes());
  }
  out.extend_from_slice(chunk);
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn protocol_md_example() {
    let id = b"AAAAAAAAAAAAAAAAAAAAAA==";
    let mut out = Vec::new();
    encode(&mut out, id);
    let mut want = vec![0x81, 0xa3, 0x61, 0x63, 0x6b, 0xb8];
    want.extend(id);
    assert_eq!(out, want);
  }

  #[test]
  fn long_ids_use_wider_headers() {
    for (n, header) in [
      (31, vec![0xbf]),
      (32, vec![0xd9, 32]),
      (256, vec![0xda, 1, 0]),
      (65536, vec![0xdb, 0, 1, 0, 0]),
    ] {
      let mut out = Vec::new();
      encode(&mut out, &vec![b'x'; n]);
      assert_eq!(&out[5..5 + header.len()], &header[..], "{n}");
      assert_eq!(out.len(), 5 + header.len() + n);
    }
  }
}
