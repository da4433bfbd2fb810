//! Every mode, with and without acks; and the Unix socket.

use crate::common::*;
use crate::support::*;
use fluent_forward::{Client, CloseReport, Compression, Config, Event, Mode, TimeFormat};
use std::collections::BTreeSet;
use std::time::Duration;

fn deliver_all(mode: Mode, compression: Option<Compression>, ack: bool) {
  let server = Server::start();
  let log = EventLog::new();
  let cfg = Config {
    mode,
    compression,
    require_ack: ack,
    // Small batches: several requests per tag, several in flight at once.
    batch_bytes: 8 << 10,
    // Nothing fails here: generous ack/write timeouts keep a loaded machine from causing resends.
    ack_timeout: Duration::from_secs(3),
    write_timeout: Duration::from_secs(3),
    ..fast_config(server.target())
  };
  let client = Client::start(cfg, log.sink()).unwrap();
  push_all(&client, N, 16);
  assert!(
    wait_until(LONG, || server.count() as u64 >= N),
    "server got {} of {N}; events: {}",
    server.count(),
    log.describe()
  );
  let report = close_and_wait(&client, Duration::from_secs(5));
  assert_eq!(
    report,
    CloseReport {
      emitted: N,
      sent: N,
      ..Default::default()
    }
  );
  let stats = client.stats();
  assert_eq!((stats.emitted, stats.sent, stats.dropped), (N, N, 0));
  assert_eq!(
    (stats.queued_records, stats.queued_bytes, stats.in_flight_batches),
    (0, 0, 0)
  );
  assert!(stats.batches_sent >= 2);
  assert!(stats.bytes_sent > 0);
  assert_eq!(stats.connects, 1, "one connection was enough: {}", log.describe());

  assert_no_violations(&server);
  // Exactly once, in per-tag order, with the times given.
  assert_eq!(per_tag(&server), expected_per_tag(N));
  server.with(|s| {
    for r in &s.received {
      let n = record_n(&r.record).unwrap();
      let t = time_of(n);
      assert_eq!(r.time, (t.seconds as u64, Some(t.nanos)), "time of record {n}");
    }
    let want_kind = mode_kind(mode, compression.is_some());
    assert!(
      s.requests.iter().all(|r| r.kind == want_kind),
      "wire form: {:?}",
      s.requests[0]
    );
    assert!(
      s.requests.iter().all(|r| r.chunk.is_some() == ack),
      "chunk ids iff acks are required"
    );
    if mode == Mode::Message {
      assert_eq!(s.requests.len() as u64, N);
    } else {
      assert!(
        s.requests.len() >= 4,
        "batch_bytes should split the records: {}",
        s.requests.len()
      );
    }
    let ids: BTreeSet<_> = s.requests.iter().filter_map(|r| r.chunk.clone()).collect();
    if ack {
      assert_eq!(
        ids.len(),
        s.requests.len(),
        "chunk ids must be unique per request"
      );
    }
  });
  log.with(|es| {
    assert!(
      matches!(es.first(), Some(Event::Connected { .. })),
      "first event: {es:?}"
    );
    assert!(
      !es.iter().any(|e| matches!(e, Event::Error { .. })),
      "unexpected errors: {es:?}"
    );
  });
}

#[test]
fn message_mode_delivers_all() {
  deliver_all(Mode::Message, None, false);
}

#[test]
fn message_mode_with_acks_delivers_all() {
  deliver_all(Mode::Message, None, true);
}

#[test]
fn forward_mode_delivers_all() {
  deliver_all(Mode::Forward, None, false);
}

#[test]
fn forward_mode_with_acks_delivers_all() {
  deliver_all(Mode::Forward, None, true);
}

#[test]
fn packed_forward_delivers_all() {
  deliver_all(Mode::PackedForward, None, false);
}

#[test]
fn packed_forward_with_acks_delivers_all() {
  deliver_all(Mode::PackedForward, None, true);
}

#[test]
fn compressed_packed_forward_delivers_all() {
  deliver_all(Mode::PackedForward, Some(Compression::Gzip(6)), false);
}

#[test]
fn compressed_packed_forward_with_acks_delivers_all() {
  deliver_all(Mode::PackedForward, Some(Compression::Gzip(6)), true);
}

#[test]
fn zstd_packed_forward_delivers_all() {
  deliver_all(Mode::PackedForward, Some(Compression::Zstd(3)), false);
}

#[test]
fn zstd_packed_forward_with_acks_delivers_all() {
  deliver_all(Mode::PackedForward, Some(Compression::Zstd(19)), true);
}

#[test]
fn integer_time_format_sends_uint_seconds() {
  let server = Server::start();
  let log = EventLog::new();
  let cfg = Config {
    mode: Mode::Forward,
    time_format: TimeFormat::Integer,
    ..fast_config(server.target())
  };
  let client = Client::start(cfg, log.sink()).unwrap();
  push_all(&client, 100, 0);
  assert!(
    wait_until(LONG, || server.count() >= 100),
    "events: {}",
    log.describe()
  );
  assert_eq!(close_and_wait(&client, Duration::from_secs(5)).sent, 100);
  assert_no_violations(&server);
  server.with(|s| {
    for r in &s.received {
      let n = record_n(&r.record).unwrap();
      assert_eq!(
        r.time,
        (time_of(n).seconds as u64, None),
        "integer time of record {n}"
      );
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Unix socket

#[cfg(unix)]
#[test]
fn unix_socket_delivers_all() {
  for ack in [false, true] {
    let server = Server::unix(script(|_| Behavior::Normal));
    let log = EventLog::new();
    let cfg = Config {
      require_ack: ack,
      batch_bytes: 8 << 10,
      ack_timeout: Duration::from_secs(3),
      ..fast_config(server.target())
    };
    let client = Client::start(cfg, log.sink()).unwrap();
    push_all(&client, N, 16);
    assert!(
      wait_until(LONG, || server.count() as u64 >= N),
      "ack {ack}: events: {}",
      log.describe()
    );
    let report = close_and_wait(&client, Duration::from_secs(5));
    assert_eq!(
      report,
      CloseReport {
        emitted: N,
        sent: N,
        ..Default::default()
      }
    );
    assert_no_violations(&server);
    assert_eq!(per_tag(&server), expected_per_tag(N));
    server.with(|s| assert!(s.requests.iter().all(|r| r.chunk.is_some() == ack)));
  }
}
