//! The server side of the Forward handshake on an arbitrary PING: framing it as the server does
//! (`Framer`), then `auth::answer`. No panic; the PONG is always a 5-element msgpack array that
//! refuses unless the PING carried the right digest.
#![no_main]

use fluent_sink::auth::{answer, Security};
use fluent_sink::decode::{skip, value, Value};
use fluent_sink::frame::Framer;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
  let sec = Security {
    shared_key: "secret".into(),
    self_hostname: "server".into(),
    users: vec![("alice".into(), "pw".into())],
  };
  let mut framer = Framer::new(64 << 10);
  let frame = match framer.advance(data) {
    Ok(Some(len)) => &data[..len],
    _ => data,
  };
  let (reply, verdict) = answer(&sec, &[1; 16], &[2; 16], frame);
  assert!(matches!(value(&reply, 0), Some((Value::Array(5), _))));
  assert_eq!(skip(&reply, 0, 1), Ok(reply.len()));
  assert_eq!(verdict.is_ok(), reply[6] == 0xc3);
  // Random bytes never carry a SHA-512 digest of the secret.
  assert!(verdict.is_err());
});
