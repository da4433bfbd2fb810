//! Producer-side checks: push input and config validation.

use crate::common::*;
use crate::support::*;
use fluent_forward::{Client, Compression, Config, Mode};
use std::collections::BTreeSet;
use std::time::Duration;

#[test]
fn push_validates_input() {
  let server = Server::start();
  let log = EventLog::new();
  let cfg = Config {
    max_record_bytes: 100,
    ..fast_config(server.target())
  };
  let client = Client::start(cfg, log.sink()).unwrap();
  assert!(matches!(
    client.tag_id(""),
    Err(fluent_forward::Error::InvalidTag(_))
  ));
  assert!(matches!(
    client.tag_id(&"t".repeat(2000)),
    Err(fluent_forward::Error::InvalidTag(_))
  ));
  let tag = client.tag_id("valid").unwrap();
  assert_eq!(client.tag_id("valid").unwrap(), tag, "tag ids are stable");
  assert!(matches!(
    client.push(tag + 100, None, &record(0, 0)),
    Err(fluent_forward::Error::InvalidTag(_))
  ));
  assert!(matches!(
    client.push(tag, None, &record(0, 200)),
    Err(fluent_forward::Error::RecordTooLarge { max: 100, .. })
  ));
  // push_raw checks what push trusts.
  assert!(matches!(
    client.push_raw(tag, None, &[0x91, 0x01]),
    Err(fluent_forward::Error::Encode(_))
  ));
  assert!(matches!(
    client.push_raw(tag, None, &[0x81, 0xa1, b'a']),
    Err(fluent_forward::Error::Encode(_))
  ));
  let mut trailing = record(1, 0);
  trailing.push(0xc0);
  assert!(matches!(
    client.push_raw(tag, None, &trailing),
    Err(fluent_forward::Error::Encode(_))
  ));
  assert!(client.push_raw(tag, None, &record(1, 0)).unwrap());
  // An ext type fluentd cannot decode is refused; EventTime (ext 0) is not.
  let mut ext = vec![0x82, 0xa1, b'n', 0x01, 0xa2, b'a', b't', 0xd6, 0xff];
  ext.extend([0, 0, 0, 0]);
  assert!(matches!(
    client.push_raw(tag, None, &ext),
    Err(fluent_forward::Error::Encode(m)) if m.contains("ext type -1")
  ));
  assert_eq!(client.stats().emitted, 1, "a refused push_raw buffers nothing");
  for i in 2..12 {
    assert!(client.push_raw(tag, None, &record(i, 0)).unwrap());
  }
  assert!(
    wait_until(LONG, || server.count() >= 11),
    "events: {}",
    log.describe()
  );
  assert_eq!(close_and_wait(&client, Duration::from_secs(5)).sent, 11);
  let ns: BTreeSet<u64> = server.with(|s| s.received.iter().map(|r| record_n(&r.record).unwrap()).collect());
  assert_eq!(ns, (1..12).collect());
  assert_no_violations(&server);
}

#[test]
fn invalid_config_is_rejected() {
  let log = EventLog::new();
  let bad = [
    Config {
      compression: Some(Compression::Gzip(6)),
      mode: Mode::Forward,
      ..Config::default()
    },
    Config {
      compression: Some(Compression::Gzip(10)),
      ..Config::default()
    },
    Config {
      compression: Some(Compression::Zstd(0)),
      ..Config::default()
    },
    Config {
      compression: Some(Compression::Zstd(20)),
      ..Config::default()
    },
    Config {
      max_in_flight: 0,
      ..Config::default()
    },
    Config {
      max_buffer_bytes: 10,
      max_record_bytes: 100,
      ..Config::default()
    },
    Config {
      ack_timeout: Duration::ZERO,
      ..Config::default()
    },
    Config {
      reconnect_initial: Duration::from_secs(2),
      reconnect_max: Duration::from_secs(1),
      ..Config::default()
    },
  ];
  for cfg in bad {
    let desc = format!("{cfg:?}");
    assert!(
      matches!(
        Client::start(cfg, log.sink()),
        Err(fluent_forward::Error::Config(_))
      ),
      "{desc}"
    );
  }
}
