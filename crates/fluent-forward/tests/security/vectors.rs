//! PROTOCOL.md section 6 test vectors, byte for byte.

use fluent_forward::handshake::{self, Helo, Parsed};
use rmpv::Value;

const SALT: &str = "0123456789abcdef0123456789abcdef";
const PING_DIGEST: &str = "3a680037d3979b4f789647cd22e7e55f2197791eb498799823c424e2213124ed63938d1c422f50e08ec02957ef44df338e46c77e8ea164b0dde6d64e171b30df";
const PONG_DIGEST: &str = "3389a63bef56054281d75fb7b05965b0d1b1ea9eba25b4594ed8e06a02e725af1fbf401cdbe697423c388ac1948566570a6f592284a536370ca36a5ccf88cbbd";
const PASSWORD_DIGEST: &str = "30ba189083890f86a0f1c763335d41db45565f83c1ccc40cb117adc1677e2597a24b01d07b410f4f969fcbdbae7dffa606a9a8e02d34f126658def33403a6248";

fn nonce() -> Vec<u8> {
  (0u8..16).collect()
}

#[test]
fn protocol_test_vectors() {
  let n = nonce();
  assert_eq!(
    handshake::shared_key_digest(SALT.as_bytes(), "client.example", &n, b"secret"),
    PING_DIGEST
  );
  assert_eq!(
    handshake::shared_key_digest(SALT.as_bytes(), "server.example", &n, b"secret"),
    PONG_DIGEST
  );
  let auth: Vec<u8> = (0x10u8..0x20).collect();
  assert_eq!(
    handshake::password_digest(&auth, "user", b"pass"),
    PASSWORD_DIGEST
  );
  // The whole PING, every value a str, byte for byte.
  let helo = Helo {
    nonce: n,
    auth,
    keepalive: true,
  };
  let mut ping = Vec::new();
  handshake::ping_for(
    &mut ping,
    &helo,
    "client.example",
    SALT,
    b"secret",
    "user",
    b"pass",
  );
  let mut expected = vec![0x96, 0xa4];
  expected.extend_from_slice(b"PING");
  for s in ["client.example", SALT, PING_DIGEST, "user", PASSWORD_DIGEST] {
    if s.len() < 32 {
      expected.push(0xa0 | s.len() as u8);
    } else {
      expected.extend_from_slice(&[0xd9, s.len() as u8]);
    }
    expected.extend_from_slice(s.as_bytes());
  }
  assert_eq!(ping, expected);
  let salt = handshake::new_salt();
  assert!(
    salt.len() == 32
      && salt
        .bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
  );
  // A PONG with a bin digest parses the same as with a str one.
  let pong = Value::Array(vec![
    "PONG".into(),
    true.into(),
    "".into(),
    "server.example".into(),
    Value::Binary(PONG_DIGEST.as_bytes().to_vec()),
  ]);
  let mut b = Vec::new();
  rmpv::encode::write_value(&mut b, &pong).unwrap();
  let Parsed::Done(p, used) = handshake::parse_pong(&b) else {
    panic!("pong")
  };
  assert_eq!(used, b.len());
  assert_eq!(p.server_digest, PONG_DIGEST.as_bytes());
}
