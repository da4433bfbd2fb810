//! The server side of the Forward handshake (PROTOCOL.md section 6): HELO, check the PING, PONG.
//! fluentd's `<security>` semantics: a shared key, optional users, and a refusal of a client
//! that claims the server's own hostname. The reasons are fluentd's words, which clients match on.

use std::time::Duration;

use sha2::{Digest, Sha512};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::decode::{str_at, value, Value};
use crate::frame::Framer;

/// A PING is six short strings; anything much larger is not a PING.
const MAX_PING: usize = 64 << 10;

#[derive(Debug, Clone)]
pub struct Security {
  pub shared_key: String,
  pub self_hostname: String,
  /// With any, the client must send one of these username/password pairs.
  pub users: Vec<(String, String)>,
}

/// Why a client was refused (its PONG said so, or it never sent a usable PING).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
  SharedKey,
  User,
  SameHostname,
  /// Not a PING, bytes after it, the peer closed, or the timeout passed.
  Protocol,
}

fn hex(bytes: &[u8]) -> String {
  const HEX: &[u8; 16] = b"0123456789abcdef";
  let mut s = String::with_capacity(bytes.len() * 2);
  for &b in bytes {
    s.push(HEX[(b >> 4) as usize] as char);
    s.push(HEX[(b & 15) as usize] as char);
  }
  s
}

fn sha512_hex(parts: &[&[u8]]) -> String {
  let mut h = Sha512::new();
  for p in parts {
    h.update(p);
  }
  hex(&h.finalize())
}

fn str_header(out: &mut Vec<u8>, n: usize) {
  if n < 32 {
    out.push(0xa0 | n as u8);
  } else if n <= 0xff {
    out.extend_from_slice(&[0xd9, n as u8]);
  } else {
    out.push(0xda);
    out.extend_from_slice(&(n.min(0xffff) as u16).to_be_bytes());
  }
}

fn put_str(out: &mut Vec<u8>, s: &[u8]) {
  let s = &s[..s.len().min(0xffff)];
  str_header(out, s.len());
  out.extend_from_slice(s);
}

/// `["HELO", {"nonce": bin, "auth": bin, "keepalive": true}]`, as fluentd sends it.
pub fn helo(nonce: &[u8; 16], auth: &[u8; 16]) -> Vec<u8> {
  let mut out = vec![0x92];
  put_str(&mut out, b"HELO");
  out.push(0x83);
  for (key, val) in [(&b"nonce"[..], nonce), (&b"auth"[..], auth)] {
    put_str(&mut out, key);
    out.extend_from_slice(&[0xc4, 16]);
    out.extend_from_slice(val);
  }
  put_str(&mut out, b"keepalive");
  out.push(0xc3);
  out
}

/// `["PONG", ok, reason, server_hostname, server_digest]`.
pub fn pong(ok: bool, reason: &str, hostname: &str, digest: &str) -> Vec<u8> {
  let mut out = vec![0x95];
  put_str(&mut out, b"PONG");
  out.push(if ok { 0xc3 } else { 0xc2 });
  put_str(&mut out, reason.as_bytes());
  put_str(&mut out, hostname.as_bytes());
  put_str(&mut out, digest.as_bytes());
  out
}

/// The PING's five strings after "PING": hostname, salt, key digest, username, password digest.
fn ping_fields(frame: &[u8]) -> Option<[&[u8]; 5]> {
  let (Value::Array(6), mut p) = value(frame, 0)? else {
    return None;
  };
  let (tag, next) = str_at(frame, p)?;
  if tag != b"PING" {
    return None;
  }
  p = next;
  let mut fields: [&[u8]; 5] = [&[]; 5];
  for f in &mut fields {
    let (s, next) = str_at(frame, p)?;
    *f = s;
    p = next;
  }
  (p == frame.len()).then_some(fields)
}

/// Checks a PING against the HELO that was sent; the PONG to answer and whether it accepts.
pub fn answer(sec: &Security, nonce: &[u8], auth: &[u8], frame: &[u8]) -> (Vec<u8>, Result<(), Refused>) {
  let refuse = |reason: &str, why| (pong(false, reason, "", ""), Err(why));
  let Some([hostname, salt, digest, username, password]) = ping_fields(frame) else {
    return refuse("malformed PING", Refused::Protocol);
  };
  if hostname == sec.self_hostname.as_bytes() {
    return refuse(
      "same hostname between input and output: invalid configuration",
      Refused::SameHostname,
    );
  }
  let key = sec.shared_key.as_bytes();
  if digest != sha512_hex(&[salt, hostname, nonce, key]).as_bytes() {
    return refuse("shared_key mismatch", Refused::SharedKey);
  }
  if !sec.users.is_empty() {
    let ok = sec.users.iter().any(|(u, p)| {
      u.as_bytes() == username && password == sha512_hex(&[auth, u.as_bytes(), p.as_bytes()]).as_bytes()
    });
    if !ok {
      return refuse("username/password mismatch", Refused::User);
    }
  }
  let host = sec.self_hostname.as_bytes();
  let server_digest = sha512_hex(&[salt, host, nonce, key]);
  (pong(true, "", &sec.self_hostname, &server_digest), Ok(()))
}

async fn exchange<T: AsyncRead + AsyncWrite + Unpin>(io: &mut T, sec: &Security) -> Result<(), Refused> {
  let mut nonce = [0u8; 16];
  let mut auth = [0u8; 16];
  getrandom::fill(&mut nonce).map_err(|_| Refused::Protocol)?;
  getrandom::fill(&mut auth).map_err(|_| Refused::Protocol)?;
  io.write_all(&helo(&nonce, &auth))
    .await
    .map_err(|_| Refused::Protocol)?;
  let mut buf = Vec::new();
  let mut framer = Framer::default();
  let mut chunk = [0u8; 4096];
  let len = loop {
    if let Some(len) = framer.advance(&buf).map_err(|_| Refused::Protocol)? {
      break len;
    }
    let n = io.read(&mut chunk).await.map_err(|_| Refused::Protocol)?;
    if n == 0 || buf.len() + n > MAX_PING {
      return Err(Refused::Protocol);
    }
    buf.extend_from_slice(&chunk[..n]);
  };
  // The client must wait for PONG before sending records; anything after the PING breaks that.
  if len != buf.len() {
    return Err(Refused::Protocol);
  }
  let (reply, verdict) = answer(sec, &nonce, &auth, &buf);
  io.write_all(&reply).await.map_err(|_| Refused::Protocol)?;
  io.flush().await.map_err(|_| Refused::Protocol)?;
  verdict
}

/// Runs the handshake on a fresh connection; a client that has not sent its PING within `limit`
/// is dropped (`Err(None)`).
pub async fn accept<T: AsyncRead + AsyncWrite + Unpin>(
  io: &mut T,
  sec: &Security,
  limit: Duration,
) -> Result<(), Option<Refused>> {
  match tokio::time::timeout(limit, exchange(io, sec)).await {
    Ok(r) => r.map_err(Some),
    Err(_) => Err(None),
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  fn ping(host: &str, salt: &str, digest: &str, user: &str, pass: &str) -> Vec<u8> {
    let mut out = vec![0x96];
    for s in ["PING", host, salt, digest, user, pass] {
      put_str(&mut out, s.as_bytes());
    }
    out
  }

  fn sec(users: Vec<(String, String)>) -> Security {
    Security {
      shared_key: "secret".into(),
      self_hostname: "server".into(),
      users,
    }
  }

  const SALT: &str = "0123456789abcdef0123456789abcdef";
  const NONCE: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];

  #[test]
  fn accepts_the_right_key_and_signs_the_pong() {
    let digest = sha512_hex(&[SALT.as_bytes(), b"client", &NONCE, b"secret"]);
    let (reply, verdict) = answer(
      &sec(vec![]),
      &NONCE,
      &[7; 16],
      &ping("client", SALT, &digest, "", ""),
    );
    assert_eq!(verdict, Ok(()));
    let want = sha512_hex(&[SALT.as_bytes(), b"server", &NONCE, b"secret"]);
    assert_eq!(reply, pong(true, "", "server", &want));
    assert_eq!(&reply[..6], &[0x95, 0xa4, b'P', b'O', b'N', b'G']);
  }

  #[test]
  fn refusals_use_fluentds_reasons() {
    let s = sec(vec![("alice".into(), "pw".into())]);
    let auth = [9u8; 16];
    let good = sha512_hex(&[SALT.as_bytes(), b"client", &NONCE, b"secret"]);
    let pw = sha512_hex(&[&auth, b"alice", b"pw"]);
    let cases = [
      (ping("client", SALT, "00", "", ""), Refused::SharedKey),
      (ping("server", SALT, &good, "", ""), Refused::SameHostname),
      (ping("client", SALT, &good, "alice", "wrong"), Refused::User),
      (ping("client", SALT, &good, "bob", &pw), Refused::User),
      (vec![0x91, 0xa4, b'P', b'I', b'N', b'G'], Refused::Protocol),
    ];
    for (frame, want) in cases {
      let (reply, verdict) = answer(&s, &NONCE, &auth, &frame);
      assert_eq!(verdict, Err(want.clone()));
      assert_eq!(reply[6], 0xc2, "{want:?}");
    }
    assert_eq!(
      answer(&s, &NONCE, &auth, &ping("client", SALT, &good, "alice", &pw)).1,
      Ok(())
    );
  }

  #[test]
  fn helo_shape() {
    let h = helo(&[1; 16], &[2; 16]);
    assert_eq!(&h[..7], &[0x92, 0xa4, b'H', b'E', b'L', b'O', 0x83]);
    assert_eq!(h.len(), 7 + (1 + 5 + 2 + 16) + (1 + 4 + 2 + 16) + (1 + 9 + 1));
  }
}
