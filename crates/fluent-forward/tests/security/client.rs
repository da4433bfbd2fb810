//! The client side: its security and config, pushing, and waiting for delivery or an error.

use crate::common::*;
use crate::server::*;
use fluent_forward::{Client, Config, Secret, Security};
use std::sync::Arc;
use std::time::Duration;

pub(crate) const TAG: &str = "sec.test";
pub(crate) const KEY: &str = "s3cr3t-key-XYZ";
pub(crate) const PASS: &str = "s3cr3t-pass-XYZ";

pub(crate) fn security(user: Option<(&str, &str)>) -> Security {
  Security {
    client_hostname: "client.test".into(),
    shared_key: Secret::new(KEY),
    username: user.map(|u| u.0.to_string()).unwrap_or_default(),
    password: Secret::new(user.map(|u| u.1).unwrap_or("")),
  }
}

pub(crate) fn config(port: u16) -> Config {
  Config {
    require_ack: true,
    handshake_timeout: Duration::from_secs(3),
    ..fast_config(tcp(port))
  }
}

pub(crate) fn push_n(client: &Client, from: u64, n: u64) {
  let tag = client.tag_id(TAG).unwrap();
  for i in from..from + n {
    assert!(client.push(tag, None, &record(i, 20)).unwrap());
  }
}

/// Pushes `n` records, waits (bounded) until the server has them all, closes.
pub(crate) fn deliver(cfg: Config, srv: &Srv, n: u64) -> Arc<EventLog> {
  let log = EventLog::new();
  let client = Client::start(cfg, log.sink()).unwrap();
  push_n(&client, 0, n);
  let ok = wait_until(LONG, || srv.count() >= n as usize);
  let _ = close_and_wait(&client, Duration::from_secs(2));
  assert!(ok, "delivered {} of {n}: {}", srv.count(), log.describe());
  assert_eq!(srv.ns(), (0..n).collect::<Vec<_>>(), "exactly once, in full");
  assert!(
    srv.seen.lock().unwrap().violations.is_empty(),
    "{:?}",
    srv.seen.lock().unwrap().violations
  );
  log
}

/// Pushes records and waits (bounded) for an error event with `code`; nothing may be delivered.
pub(crate) fn expect_error(cfg: Config, _srv: &Srv, code: &str) -> Arc<EventLog> {
  let log = EventLog::new();
  let client = Client::start(cfg, log.sink()).unwrap();
  push_n(&client, 0, 10);
  let ok = log.wait_for(LONG, |es| count_errors(es, code) > 0);
  let _ = close_and_wait(&client, Duration::from_millis(200));
  assert!(ok, "no {code}: {}", log.describe());
  log
}

pub(crate) fn error_text(log: &EventLog, code: &str) -> String {
  log.with(|es| {
    es.iter()
      .filter_map(event_error)
      .find(|e| e.code() == code)
      .map(|e| e.to_string())
      .unwrap_or_default()
  })
}
