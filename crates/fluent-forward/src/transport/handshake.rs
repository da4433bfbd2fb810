//! The forward protocol's handshake (PROTOCOL.md section 6) as pure functions: digests, PING
//! encoding, and HELO/PONG decoding with a small msgpack reader. Salts and the nonce are raw bytes
//! taken from `bin` or `str` alike (fluentd sends bin, Fluent Bit str), never UTF-8-decoded.

use crate::codec::primitives::{write_array_header, write_str};
use sha2::{Digest, Sha512};

/// Lowercase hex, as servers compare digests as strings.
fn hex(bytes: &[u8]) -> String {
  const HEX: &[u8; 16] = b"0123456789abcdef";
  let mut s = String::with_capacity(bytes.len() * 2);
  for b in bytes {
    s.push(HEX[(b >> 4) as usize] as char);
    s.push(HEX[(b & 15) as usize] as char);
  }
  s
}

/// `hex(SHA-512(salt ‖ hostname ‖ nonce ‖ shared_key))`: PING's digest with our hostname, PONG's
/// with the server's.
pub fn shared_key_digest(salt: &[u8], hostname: &str, nonce: &[u8], shared_key: &[u8]) -> String {
  let mut h = Sha512::new();
  h.update(salt);
  h.update(hostname.as_bytes());
  h.update(nonce);
  h.update(shared_key);
  hex(&h.finalize())
}

/// `hex(SHA-512(auth_salt ‖ username ‖ password))`.
pub fn password_digest(auth_salt: &[u8], username: &str, password: &[u8]) -> String {
  let mut h = Sha512::new();
  h.update(auth_salt);
  h.update(username.as_bytes());
  h.update(password);
  hex(&h.finalize())
}

/// 16 random bytes as 32 lowercase hex characters, as fluentd and the Node clients send it.
pub fn new_salt() -> String {
  let mut b = [0u8; 16];
  // getrandom fails only on platforms without an entropy source; a zero salt still works (it is
  // a salt, not a key), and the shared key never leaves the process either way.
  let _ = getrandom::fill(&mut b);
  hex(&b)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Helo {
  pub nonce: Vec<u8>,
  pub auth: Vec<u8>,
  /// Missing means true (Fluent Bit sends no `keepalive`).
  pub keepalive: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pong {
  pub auth_result: bool,
  pub reason: String,
  pub server_hostname: String,
  pub server_digest: Vec<u8>,
}

/// What a read buffer holds.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed<T> {
  /// The message, and the bytes it took.
  Done(T, usize),
  Incomplete,
  Invalid(&'static str),
}

/// `["PING", client_hostname, salt, digest, username, password_digest]`, every value a `str`.
pub fn write_ping(
  out: &mut Vec<u8>,
  client_hostname: &str,
  salt: &str,
  digest: &str,
  username: &str,
  password_digest: &str,
) {
  write_array_header(out, 6);
  for s in ["PING", client_hostname, salt, digest, username, password_digest] {
    write_str(out, s);
  }
}

/// The PING for a HELO: the password digest only when the server sent an `auth` salt.
pub fn ping_for(
  out: &mut Vec<u8>,
  helo: &Helo,
  client_hostname: &str,
  salt: &str,
  shared_key: &[u8],
  username: &str,
  password: &[u8],
) {
  let digest = shared_key_digest(salt.as_bytes(), client_hostname, &helo.nonce, shared_key);
  let (user, pass) = if helo.auth.is_empty() {
    (String::new(), String::new())
  } else {
    (
      username.to_string(),
      password_digest(&helo.auth, username, password),
    )
  };
  write_ping(out, client_hostname, salt, &digest, &user, &pass);
}

/// A msgpack value, as far as the handshake needs one.
#[derive(Debug)]
enum V<'a> {
  Bool(bool),
  /// `str` or `bin`: raw bytes.
  Bytes(&'a [u8]),
  Array(Vec<V<'a>>),
  Map(Vec<(V<'a>, V<'a>)>),
  Other,
}

enum R<'a> {
  Ok(V<'a>, usize),
  More,
  Bad(&'static str),
}

/// Deep enough for HELO and PONG; deeper input is refused rather than recursed into.
const MAX_DEPTH: u32 = 4;
/// Larger containers are refused: a handshake message has a handful of elements.
const MAX_LEN: usize = 64;

fn be(b: &[u8], n: usize) -> Option<usize> {
  b.get(..n)
    .map(|s| s.iter().fold(0usize, |a, &x| (a << 8) | x as usize))
}

fn read(b: &[u8], depth: u32) -> R<'_> {
  let Some(&t) = b.first() else {
    return R::More;
  };
  let bytes = |hdr: usize, len: Option<usize>| -> R<'_> {
    let Some(len) = len else { return R::More };
    match b.get(hdr..hdr + len) {
      Some(s) => R::Ok(V::Bytes(s), hdr + len),
      None => R::More,
    }
  };
  let fixed = |n: usize| -> R<'_> {
    if b.len() > n {
      R::Ok(V::Other, n + 1)
    } else {
      R::More
    }
  };
  match t {
    0x00..=0x7f | 0xe0..=0xff => R::Ok(V::Other, 1),
    0xc0 => R::Ok(V::Other, 1),
    0xc2 => R::Ok(V::Bool(false), 1),
    0xc3 => R::Ok(V::Bool(true), 1),
    0xa0..=0xbf => bytes(1, Some((t & 0x1f) as usize)),
    0xd9 | 0xc4 => bytes(2, be(&b[1..], 1)),
    0xda | 0xc5 => bytes(3, be(&b[1..], 2)),
    0xdb | 0xc6 => bytes(5, be(&b[1..], 4)),
    0xcc | 0xd0 => fixed(1),
    0xcd | 0xd1 => fixed(2),
    0xce | 0xd2 | 0xca => fixed(4),
    0xcf | 0xd3 | 0xcb => fixed(8),
    0x90..=0x9f => seq(b, 1, (t & 0x0f) as usize, false, depth),
    0x80..=0x8f => seq(b, 1, (t & 0x0f) as usize, true, depth),
    0xdc => be(&b[1..], 2).map_or(R::More, |n| seq(b, 3, n, false, depth)),
    0xdd => be(&b[1..], 4).map_or(R::More, |n| seq(b, 5, n, false, depth)),
    0xde => be(&b[1..], 2).map_or(R::More, |n| seq(b, 3, n, true, depth)),
    0xdf => be(&b[1..], 4).map_or(R::More, |n| seq(b, 5, n, true, depth)),
    _ => R::Bad("unsupported msgpack type in handshake"),
  }
}

fn seq(b: &[u8], hdr: usize, n: usize, map: bool, depth: u32) -> R<'_> {
  if depth >= MAX_DEPTH || n > MAX_LEN {
    return R::Bad("handshake message too deep or too long");
  }
  let mut at = hdr;
  let one = |at: &mut usize| match read(&b[*at..], depth + 1) {
    R::Ok(v, used) => {
      *at += used;
      Ok(v)
    }
    R::More => Err(R::More),
    R::Bad(w) => Err(R::Bad(w)),
  };
  if map {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
      let k = match one(&mut at) {
        Ok(v) => v,
        Err(r) => return r,
      };
      let v = match one(&mut at) {
        Ok(v) => v,
        Err(r) => return r,
      };
      out.push((k, v));
    }
    R::Ok(V::Map(out), at)
  } else {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
      match one(&mut at) {
        Ok(v) => out.push(v),
        Err(r) => return r,
      }
    }
    R::Ok(V::Array(out), at)
  }
}

fn top<'a>(buf: &'a [u8], name: &[u8]) -> Result<(Vec<V<'a>>, usize), Parsed<()>> {
  match read(buf, 0) {
    R::More => Err(Parsed::Incomplete),
    R::Bad(w) => Err(Parsed::Invalid(w)),
    R::Ok(V::Array(items), used) => match items.first() {
      Some(V::Bytes(n)) if *n == name => Ok((items, used)),
      _ => Err(Parsed::Invalid("unexpected handshake message")),
    },
    R::Ok(..) => Err(Parsed::Invalid("handshake message is not an array")),
  }
}

fn fail<T>(p: Parsed<()>) -> Parsed<T> {
  match p {
    Parsed::Incomplete => Parsed::Incomplete,
    Parsed::Invalid(w) => Parsed::Invalid(w),
    Parsed::Done(..) => Parsed::Invalid("unreachable"),
  }
}

/// `["HELO", {"nonce": bytes, "auth": bytes, "keepalive": bool}]`.
pub fn parse_helo(buf: &[u8]) -> Parsed<Helo> {
  let (items, used) = match top(buf, b"HELO") {
    Ok(x) => x,
    Err(p) => return fail(p),
  };
  let Some(V::Map(opts)) = items.get(1) else {
    return Parsed::Invalid("HELO without an option map");
  };
  let mut helo = Helo {
    nonce: Vec::new(),
    auth: Vec::new(),
    keepalive: true,
  };
  let mut nonce = false;
  for (k, v) in opts {
    match (k, v) {
      (V::Bytes(b"nonce"), V::Bytes(n)) => {
        helo.nonce = n.to_vec();
        nonce = true;
      }
      (V::Bytes(b"auth"), V::Bytes(a)) => helo.auth = a.to_vec(),
      (V::Bytes(b"keepalive"), V::Bool(k)) => helo.keepalive = *k,
      _ => {}
    }
  }
  if !nonce {
    return Parsed::Invalid("HELO without a nonce");
  }
  Parsed::Done(helo, used)
}

/// `["PONG", auth_result, reason, server_hostname, server_digest]`.
pub fn parse_pong(buf: &[u8]) -> Parsed<Pong> {
  let (items, used) = match top(buf, b"PONG") {
    Ok(x) => x,
    Err(p) => return fail(p),
  };
  if items.len() != 5 {
    return Parsed::Invalid("PONG must have 5 elements");
  }
  let text = |v: &V<'_>| match v {
    V::Bytes(b) => Some(b.to_vec()),
    _ => None,
  };
  let (V::Bool(ok), Some(reason), Some(host), Some(digest)) =
    (&items[1], text(&items[2]), text(&items[3]), text(&items[4]))
  else {
    return Parsed::Invalid("PONG with wrong element types");
  };
  Parsed::Done(
    Pong {
      auth_result: *ok,
      reason: short(&reason),
      server_hostname: String::from_utf8_lossy(&host).into_owned(),
      server_digest: digest,
    },
    used,
  )
}

/// A server-supplied text, bounded and made printable for an error message.
pub fn short(b: &[u8]) -> String {
  let s = String::from_utf8_lossy(&b[..b.len().min(200)]);
  s.chars().filter(|c| !c.is_control()).collect()
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn helo_bin_and_str_nonce_and_missing_keepalive() {
    // ["HELO", {"nonce": bin16, "auth": bin0, "keepalive": false}]
    let mut b = vec![0x92, 0xa4];
    b.extend_from_slice(b"HELO");
    b.push(0x83);
    b.push(0xa5);
    b.extend_from_slice(b"nonce");
    b.extend_from_slice(&[0xc4, 2, 0xff, 0xfe]);
    b.push(0xa4);
    b.extend_from_slice(b"auth");
    b.extend_from_slice(&[0xc4, 0]);
    b.push(0xa9);
    b.extend_from_slice(b"keepalive");
    b.push(0xc2);
    assert_eq!(
      parse_helo(&b),
      Parsed::Done(
        Helo {
          nonce: vec![0xff, 0xfe],
          auth: vec![],
          keepalive: false
        },
        b.len()
      )
    );
    assert_eq!(parse_helo(&b[..b.len() - 1]), Parsed::Incomplete);
    // Fluent Bit: str nonce with invalid UTF-8, no keepalive.
    let mut f = vec![0x92, 0xa4];
    f.extend_from_slice(b"HELO");
    f.push(0x81);
    f.push(0xa5);
    f.extend_from_slice(b"nonce");
    f.extend_from_slice(&[0xa2, 0xff, 0x00]);
    let Parsed::Done(h, _) = parse_helo(&f) else {
      panic!()
    };
    assert_eq!(h.nonce, vec![0xff, 0x00]);
    assert!(h.keepalive);
  }
}
