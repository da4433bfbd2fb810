//! The client and its writer thread against scripted fake servers on 127.0.0.1:0 (and a Unix socket).

mod common;

use common::*;
use fluent_forward::{
  Client, CloseReport, Compression, Config, Event, EventTime, Mode, Overflow, TimeFormat,
};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

const N: u64 = 2000;
const TAGS: [&str; 2] = ["test.a", "test.b"];

fn time_of(i: u64) -> EventTime {
  EventTime::new(1_700_000_000 + i as u32, (i as u32 * 1_000_003) % 1_000_000_000).unwrap()
}

/// Pushes records 0..n, alternating over the two tags, each with a distinct time.
fn push_all(client: &Client, n: u64, pad: usize) {
  let tags: Vec<u32> = TAGS.iter().map(|t| client.tag_id(t).unwrap()).collect();
  for i in 0..n {
    let ok = client
      .push(tags[(i % 2) as usize], Some(time_of(i)), &record(i, pad))
      .unwrap();
    assert!(ok, "push {i} refused");
  }
}

/// `n` values per tag, in the order the server got them.
fn per_tag(server: &Server) -> BTreeMap<String, Vec<u64>> {
  server.with(|s| {
    let mut m: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for r in &s.received {
      m.entry(r.tag.clone())
        .or_default()
        .push(record_n(&r.record).expect("record has n"));
    }
    m
  })
}

fn expected_per_tag(n: u64) -> BTreeMap<String, Vec<u64>> {
  let mut m: BTreeMap<String, Vec<u64>> = BTreeMap::new();
  for i in 0..n {
    m.entry(TAGS[(i % 2) as usize].to_string()).or_default().push(i);
  }
  m
}

fn distinct_received(server: &Server) -> BTreeSet<(String, u64)> {
  server.with(|s| {
    s.received
      .iter()
      .map(|r| (r.tag.clone(), record_n(&r.record).unwrap()))
      .collect()
  })
}

fn expected_set(n: u64) -> BTreeSet<(String, u64)> {
  (0..n).map(|i| (TAGS[(i % 2) as usize].to_string(), i)).collect()
}

fn assert_no_violations(server: &Server) {
  let v = server.violations();
  assert!(v.is_empty(), "protocol violations: {v:?}");
}

// ---------------------------------------------------------------------------------------------
// 1. Every mode, with and without acks

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
// 2-5. Faults on the first connection in ack mode: everything must still arrive.

/// Pushes N records in ack mode against a server whose first connection misbehaves as `first`,
/// waits for every record to be acknowledged, and closes.
fn survive(
  first: Behavior,
  mode: Mode,
) -> (
  Server,
  std::sync::Arc<EventLog>,
  CloseReport,
  fluent_forward::Stats,
) {
  let server = Server::scripted(first_then_normal(first));
  let log = EventLog::new();
  let cfg = Config {
    mode,
    require_ack: true,
    batch_bytes: 8 << 10,
    ..fast_config(server.target())
  };
  let client = Client::start(cfg, log.sink()).unwrap();
  push_all(&client, N, 16);
  let want = expected_set(N);
  assert!(
    wait_until(LONG, || distinct_received(&server) == want),
    "server got {} distinct of {N} over {} connection(s); events: {}",
    distinct_received(&server).len(),
    server.connections(),
    log.describe()
  );
  assert!(
    wait_until(LONG, || client.stats().sent >= N),
    "not all acked: {:?}",
    client.stats()
  );
  let report = close_and_wait(&client, Duration::from_secs(5));
  let stats = client.stats();
  assert_no_violations(&server);
  assert!(server.connections() >= 2, "the client must have reconnected");
  assert_eq!(
    report,
    CloseReport {
      emitted: N,
      sent: N,
      ..Default::default()
    },
    "events: {}",
    log.describe()
  );
  assert_eq!((stats.emitted, stats.sent, stats.dropped), (N, N, 0));
  assert!(stats.reconnects >= 1, "{stats:?}");
  assert!(stats.retries >= 1, "{stats:?}");
  (server, log, report, stats)
}

#[test]
fn server_restart_in_ack_mode_resends_unacked() {
  let (_server, log, _, stats) = survive(Behavior::ReadOneThenClose, Mode::PackedForward);
  assert!(stats.connects >= 2);
  log.with(|es| {
    let io = es
      .iter()
      // Its first connection closes after one request with not a byte back, which is also how a
      // TLS input answers plaintext: reported as TLS_PROTOCOL (src/probation.rs).
      .filter(|e| matches!(e, Event::Disconnected { error: Some(err), .. } if matches!(err.code(), "IO" | "TLS_PROTOCOL")))
      .count();
    assert!(
      io >= 1,
      "the closed socket should show as an IO disconnect: {es:?}"
    );
  });
}

#[test]
fn server_restart_in_message_mode_resends_unacked() {
  survive(Behavior::ReadOneThenClose, Mode::Message);
}

#[test]
fn wrong_ack_id_disconnects_and_resends() {
  let (_server, log, _, _) = survive(Behavior::WrongAckFirst, Mode::Forward);
  log.with(|es| {
    assert!(
      count_disconnects(es, "ACK_MISMATCH") >= 1,
      "expected an ACK_MISMATCH disconnect: {es:?}"
    );
    let mismatch = es.iter().find_map(|e| match e {
      Event::Disconnected { error: Some(err), .. }
        if matches!(err.inner(), fluent_forward::Error::AckMismatch(_)) =>
      {
        Some(err.to_string())
      }
      _ => None,
    });
    assert!(
      mismatch.is_some(),
      "the disconnect reason is Error::AckMismatch: {es:?}"
    );
  });
}

#[test]
fn garbage_from_server_disconnects_and_resends() {
  let (_server, log, _, _) = survive(
    Behavior::GarbageFirst(b"\xc1\xc1\xc1".to_vec()),
    Mode::PackedForward,
  );
  log.with(|es| {
    assert!(
      es.iter().any(|e| matches!(
        e,
        Event::Disconnected {
          error: Some(err),
          ..
        } if matches!(err.inner(), fluent_forward::Error::AckMismatch(_))
      )),
      "garbage should be reported as an unexpected response: {es:?}"
    );
  });
}

#[test]
fn non_ack_map_from_server_disconnects_and_resends() {
  // A well-formed map that is not an ack: {"ack": 1}.
  let (_server, log, _, _) = survive(
    Behavior::GarbageFirst(vec![0x81, 0xa3, b'a', b'c', b'k', 0x01]),
    Mode::PackedForward,
  );
  log.with(|es| assert!(count_disconnects(es, "ACK_MISMATCH") >= 1, "{es:?}"));
}

#[test]
fn ack_timeout_reconnects_and_resends() {
  let start = Instant::now();
  let (_server, log, _, _) = survive(Behavior::NeverAck, Mode::PackedForward);
  log.with(|es| {
    let timeouts = es
      .iter()
      .filter(|e| {
        matches!(
          e,
          Event::Disconnected {
            error: Some(err),
            ..
          } if matches!(err.inner(), fluent_forward::Error::Timeout(_))
        )
      })
      .count();
    assert!(timeouts >= 1, "expected an ack timeout disconnect: {es:?}");
  });
  // ack_timeout is 300 ms: the resend cannot have completed sooner.
  assert!(start.elapsed() >= Duration::from_millis(300));
}

// ---------------------------------------------------------------------------------------------
// 6. A server that never reads: write timeout, then an honest close report.

#[test]
fn stalled_server_times_out_writes_and_close_reports_pending() {
  let server = Server::scripted(script(|_| Behavior::NeverRead));
  let log = EventLog::new();
  let cfg = Config {
    write_timeout: Duration::from_millis(300),
    ..fast_config(server.target())
  };
  let client = Client::start(cfg, log.sink()).unwrap();
  let tag = client.tag_id("stall").unwrap();
  // ~30 MB: far more than the socket buffers of a connection can take.
  let n = 30_000u64;
  for i in 0..n {
    assert!(client.push(tag, None, &record(i, 1000)).unwrap(), "push {i}");
  }
  assert_eq!(client.stats().emitted, n);
  let timed_out = log.wait_for(LONG, |es| {
    es.iter()
      .any(|e| event_error(e).is_some_and(|x| x.code() == "TIMEOUT"))
  });
  assert!(timed_out, "expected a write timeout; events: {}", log.describe());
  // The writer reports the error, then the disconnect it causes: wait for that too, not just look.
  let dropped = log.wait_for(LONG, |es| {
    es.iter().any(|e| {
      matches!(
        e,
        Event::Disconnected {
          error: Some(err),
          ..
        } if matches!(err.inner(), fluent_forward::Error::Timeout(_))
      )
    })
  });
  assert!(
    dropped,
    "a write timeout must drop the connection: {}",
    log.describe()
  );

  let report = close_and_wait(&client, Duration::from_millis(500));
  let stats = client.stats();
  assert!(report.pending > 0, "{report:?}");
  assert_eq!(
    report.dropped, 0,
    "nothing was refused or discarded before the close: {report:?}"
  );
  assert_eq!(
    report.sent + report.pending + report.dropped,
    stats.emitted,
    "{report:?} vs {stats:?}"
  );
  assert_eq!(stats.sent, report.sent);
  assert_eq!(
    stats.dropped,
    report.dropped + report.pending,
    "{report:?} vs {stats:?}"
  );
  assert_eq!((stats.queued_records, stats.queued_bytes), (0, 0), "{stats:?}");
  let undelivered: u64 = log.with(|es| {
    es.iter()
      .filter_map(|e| match e {
        Event::Error {
          error: fluent_forward::Error::Undelivered { records },
          records: r,
          ..
        } => {
          assert_eq!(records, r);
          Some(*records)
        }
        _ => None,
      })
      .sum()
  });
  assert_eq!(undelivered, report.pending);
}

// ---------------------------------------------------------------------------------------------
// 7. Nothing listening

#[test]
fn no_server_reports_connect_errors_and_undelivered() {
  let log = EventLog::new();
  let client = Client::start(fast_config(tcp(refused_port())), log.sink()).unwrap();
  let tag = client.tag_id("nobody").unwrap();
  for i in 0..100 {
    assert!(client.push(tag, None, &record(i, 0)).unwrap());
  }
  assert!(
    log.wait_for(LONG, |es| count_errors(es, "CONNECT") >= 1),
    "expected a connect error: {}",
    log.describe()
  );
  let report = close_and_wait(&client, Duration::from_millis(300));
  assert_eq!(
    report,
    CloseReport {
      emitted: 100,
      pending: 100,
      ..Default::default()
    }
  );
  let stats = client.stats();
  assert_eq!(
    (stats.emitted, stats.sent, stats.dropped, stats.connects),
    (100, 0, 100, 0)
  );
  assert!(!stats.connected);
  log.with(|es| {
    assert!(es.iter().any(|e| matches!(
      e,
      Event::Error { error, .. } if matches!(error.inner(), fluent_forward::Error::Connect(_))
    )));
    let undelivered: Vec<_> = es
      .iter()
      .filter_map(|e| match e {
        Event::Error {
          error: fluent_forward::Error::Undelivered { records },
          tag,
          ..
        } => Some((*records, tag.clone())),
        _ => None,
      })
      .collect();
    assert_eq!(undelivered.iter().map(|u| u.0).sum::<u64>(), 100, "{es:?}");
    assert!(
      undelivered.iter().all(|u| u.1.as_deref() == Some("nobody")),
      "{es:?}"
    );
    assert!(!es.iter().any(|e| matches!(e, Event::Connected { .. })));
  });
  // After close, pushes are refused and counted.
  assert!(!client.push(tag, None, &record(0, 0)).unwrap());
  assert_eq!(client.stats().dropped, 101, "the refused push is counted");
  // A second close gets the same report at once.
  assert_eq!(close_and_wait(&client, Duration::from_millis(100)), report);
}

// ---------------------------------------------------------------------------------------------
// 8. Overflow policies (no server, so nothing leaves the buffer)

const CAP: usize = 64 << 10;

fn overflow_client(policy: Overflow) -> (Client, std::sync::Arc<EventLog>) {
  let log = EventLog::new();
  let cfg = Config {
    max_buffer_bytes: CAP,
    max_record_bytes: 1024,
    overflow: policy,
    batch_bytes: 8 << 10,
    ..fast_config(tcp(refused_port()))
  };
  (Client::start(cfg, log.sink()).unwrap(), log)
}

#[test]
fn overflow_drop_newest() {
  let (client, log) = overflow_client(Overflow::DropNewest);
  let tag = client.tag_id("full").unwrap();
  let rec = record(0, 500);
  let (mut accepted, mut refused) = (0u64, 0u64);
  for _ in 0..1000 {
    match client.push(tag, None, &rec).unwrap() {
      true => {
        assert_eq!(
          refused, 0,
          "accepted after the buffer was full (nothing drains it)"
        );
        accepted += 1;
      }
      false => refused += 1,
    }
    assert!(client.stats().queued_bytes as usize <= CAP);
  }
  assert!(
    accepted > 0 && refused > 0,
    "accepted {accepted}, refused {refused}"
  );
  // ~500 B records in 64 KiB: about 120 fit.
  assert!((100..=130).contains(&accepted), "accepted {accepted}");
  let stats = client.stats();
  assert_eq!(
    (stats.emitted, stats.dropped, stats.queued_records),
    (accepted, refused, accepted)
  );
  // Drops are reported in bulk; eventually all of them.
  let reported = |es: &[Event]| -> u64 {
    es.iter()
      .filter_map(|e| match e {
        Event::Error {
          error: fluent_forward::Error::QueueFull { dropped },
          records,
          ..
        } => {
          assert_eq!(dropped, records);
          Some(*dropped)
        }
        _ => None,
      })
      .sum()
  };
  assert!(
    log.wait_for(LONG, |es| reported(es) >= 1),
    "no QUEUE_FULL event: {}",
    log.describe()
  );
  assert!(
    log.wait_for(LONG, |es| reported(es) == refused),
    "reported {} of {refused}",
    log.with(reported)
  );
  let report = close_and_wait(&client, Duration::from_millis(100));
  assert_eq!(
    report,
    CloseReport {
      emitted: accepted,
      refused,
      dropped: refused,
      pending: accepted,
      ..Default::default()
    }
  );
}

#[test]
fn overflow_error_policy_returns_queue_full() {
  let (client, log) = overflow_client(Overflow::Error);
  let tag = client.tag_id("full").unwrap();
  let rec = record(0, 500);
  let mut accepted = 0u64;
  let mut errors = 0u64;
  for _ in 0..1000 {
    match client.push(tag, None, &rec) {
      Ok(true) => {
        assert_eq!(errors, 0, "accepted after the buffer was full");
        accepted += 1;
      }
      Ok(false) => panic!("the error policy must not drop silently"),
      Err(fluent_forward::Error::QueueFull { .. }) => errors += 1,
      Err(e) => panic!("unexpected error {e}"),
    }
  }
  assert!((100..=130).contains(&accepted), "accepted {accepted}");
  assert_eq!(errors, 1000 - accepted);
  let stats = client.stats();
  assert_eq!(stats.emitted, accepted);
  assert!(stats.queued_bytes as usize <= CAP);
  // The caller saw every refusal as an error already; none of them counts as sent.
  let report = close_and_wait(&client, Duration::from_millis(100));
  assert_eq!((report.sent, report.pending), (0, accepted));
  drop(log);
}

#[test]
fn overflow_drop_oldest_keeps_accepting() {
  let (client, log) = overflow_client(Overflow::DropOldest);
  let tags = [client.tag_id("old.a").unwrap(), client.tag_id("old.b").unwrap()];
  for i in 0..2000u64 {
    assert!(
      client
        .push(tags[(i % 2) as usize], None, &record(i, 500))
        .unwrap(),
      "push {i} refused"
    );
    let s = client.stats();
    assert!(s.queued_bytes as usize <= CAP, "push {i}: {s:?}");
  }
  let stats = client.stats();
  assert_eq!(stats.emitted, 2000);
  assert!(stats.dropped > 0, "{stats:?}");
  assert_eq!(stats.dropped + stats.queued_records, 2000, "{stats:?}");
  assert!(stats.queued_records > 0);
  assert!(
    log.wait_for(LONG, |es| count_errors(es, "QUEUE_FULL") >= 1),
    "{}",
    log.describe()
  );
  let report = close_and_wait(&client, Duration::from_millis(100));
  assert_eq!(report.sent, 0);
  assert_eq!(report.dropped + report.pending, 2000, "{report:?}");
}

// ---------------------------------------------------------------------------------------------
// 9. flush

#[test]
fn flush_completes_once_the_server_has_everything() {
  let server = Server::start();
  let log = EventLog::new();
  // Long flush interval: only the flush makes the last batch go out.
  let cfg = Config {
    require_ack: true,
    flush_interval: Duration::from_secs(30),
    ..fast_config(server.target())
  };
  let client = Client::start(cfg, log.sink()).unwrap();
  // Nothing buffered: done at once, and true.
  let (ok, _) = flush_and_wait(&client, Duration::from_secs(5), || ());
  assert!(ok);

  let tag = client.tag_id("flush").unwrap();
  for round in 0..3u64 {
    for i in 0..500u64 {
      assert!(client.push(tag, None, &record(round * 500 + i, 8)).unwrap());
    }
    let before = client.stats().emitted as usize;
    let started = Instant::now();
    let count = server.counter();
    let (ok, seen) = flush_and_wait(&client, Duration::from_secs(10), count);
    assert!(ok, "flush round {round} failed; events: {}", log.describe());
    assert!(
      seen >= before,
      "flush reported done with {seen} of {before} at the server"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
  }
  assert_eq!(close_and_wait(&client, Duration::from_secs(5)).sent, 1500);
}

#[test]
fn flush_without_acks_completes() {
  let server = Server::start();
  let log = EventLog::new();
  let cfg = Config {
    flush_interval: Duration::from_secs(30),
    ..fast_config(server.target())
  };
  let client = Client::start(cfg, log.sink()).unwrap();
  let tag = client.tag_id("flush").unwrap();
  for i in 0..500u64 {
    assert!(client.push(tag, None, &record(i, 8)).unwrap());
  }
  let (ok, _) = flush_and_wait(&client, Duration::from_secs(10), || ());
  assert!(ok, "events: {}", log.describe());
  assert_eq!(client.stats().sent, 500);
  // Written means the server gets it without any further push or timer.
  assert!(
    wait_until(LONG, || server.count() == 500),
    "server has {}",
    server.count()
  );
  close_and_wait(&client, Duration::from_secs(5));
}

#[test]
fn flush_without_server_times_out_false() {
  let log = EventLog::new();
  let client = Client::start(fast_config(tcp(refused_port())), log.sink()).unwrap();
  let tag = client.tag_id("flush").unwrap();
  for i in 0..10u64 {
    assert!(client.push(tag, None, &record(i, 0)).unwrap());
  }
  let started = Instant::now();
  let (ok, _) = flush_and_wait(&client, Duration::from_millis(200), || ());
  let took = started.elapsed();
  assert!(!ok);
  assert!(took >= Duration::from_millis(190), "gave up after {took:?}");
  assert!(took < Duration::from_secs(3), "took {took:?}");
  close_and_wait(&client, Duration::from_millis(100));
}

// ---------------------------------------------------------------------------------------------
// 10. Unix socket

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

// ---------------------------------------------------------------------------------------------
// Producer-side checks

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

// ---------------------------------------------------------------------------------------------
// Timing under backpressure: a write blocked on a slow or stalled server.

/// Pushes ~`mb` MB of 1 KiB records for `tag` and waits until the writer is stuck writing them.
fn stall_writer(client: &Client, log: &EventLog, mb: u64) {
  let tag = client.tag_id("stall").unwrap();
  for i in 0..mb * 1000 {
    assert!(client.push(tag, None, &record(i, 1000)).unwrap(), "push {i}");
  }
  assert!(
    log.wait_for(LONG, |es| es.iter().any(|e| matches!(e, Event::Connected { .. }))),
    "{}",
    log.describe()
  );
  // Socket buffers are a few MB at most: well within this the writer is blocked in a write.
  std::thread::sleep(Duration::from_millis(500));
  assert!(client.stats().queued_records > 0);
}

#[test]
fn close_deadline_interrupts_a_stalled_write() {
  let server = Server::scripted(script(|_| Behavior::NeverRead));
  let log = EventLog::new();
  let cfg = Config {
    write_timeout: Duration::from_secs(8),
    ..fast_config(server.target())
  };
  let client = Client::start(cfg, log.sink()).unwrap();
  stall_writer(&client, &log, 30);
  let started = Instant::now();
  let report = close_and_wait(&client, Duration::from_millis(300));
  let took = started.elapsed();
  assert!(report.pending > 0, "{report:?}");
  // "drains for at most `timeout`, then stops the writer" (client.rs): not write_timeout later.
  assert!(
    took < Duration::from_millis(1500),
    "close(300ms) reported after {took:?}"
  );
}

#[test]
fn close_blocking_returns_a_report_despite_a_stalled_write() {
  let server = Server::scripted(script(|_| Behavior::NeverRead));
  let log = EventLog::new();
  let cfg = Config {
    write_timeout: Duration::from_secs(8),
    ..fast_config(server.target())
  };
  let client = Client::start(cfg, log.sink()).unwrap();
  stall_writer(&client, &log, 30);
  let started = Instant::now();
  let report = client.close_blocking(Duration::from_millis(300));
  let took = started.elapsed();
  assert!(
    took < Duration::from_millis(1500),
    "close_blocking(300ms) took {took:?}"
  );
  let report = report.expect("close_blocking should stop the writer within its timeout and report");
  assert!(report.pending > 0, "{report:?}");
}

#[test]
fn flush_deadline_holds_during_a_stalled_write() {
  let server = Server::scripted(script(|_| Behavior::NeverRead));
  let log = EventLog::new();
  let cfg = Config {
    write_timeout: Duration::from_secs(8),
    ..fast_config(server.target())
  };
  let client = Client::start(cfg, log.sink()).unwrap();
  stall_writer(&client, &log, 30);
  let started = Instant::now();
  let (ok, _) = flush_and_wait(&client, Duration::from_millis(200), || ());
  let took = started.elapsed();
  assert!(!ok);
  assert!(
    took < Duration::from_millis(1500),
    "flush(200ms) answered after {took:?}"
  );
  close_and_wait(&client, Duration::from_millis(100));
}

#[test]
fn ack_that_arrives_during_a_blocked_write_is_not_a_timeout() {
  // The server acks the first request at once, then stops reading for 3 s. The client, meanwhile,
  // is blocked writing a 40 MB batch. The ack was on time; the client must not call it a timeout.
  let pause = Duration::from_secs(3);
  let server = Server::scripted(first_then_normal(Behavior::PauseAfterFirst(pause)));
  let log = EventLog::new();
  let cfg = Config {
    require_ack: true,
    ack_timeout: Duration::from_secs(1),
    write_timeout: Duration::from_secs(15),
    // Only the explicit flush seals: the small batch first, then the big one.
    flush_interval: Duration::from_secs(60),
    batch_bytes: 64 << 20,
    ..fast_config(server.target())
  };
  let client = Client::start(cfg, log.sink()).unwrap();
  let small = client.tag_id("first").unwrap();
  let big = client.tag_id("big").unwrap();
  assert!(client.push(small, None, &record(0, 0)).unwrap());
  for i in 1..=640u64 {
    assert!(client.push(big, None, &record(i, 64 << 10)).unwrap());
  }
  let (ok, _) = flush_and_wait(&client, Duration::from_secs(30), || ());
  assert!(ok, "events: {}", log.describe());
  let stats = client.stats();
  let report = close_and_wait(&client, Duration::from_secs(5));
  assert_eq!(report.sent, 641);
  assert_no_violations(&server);
  log.with(|es| {
    assert_eq!(
      count_disconnects(es, "TIMEOUT"),
      0,
      "spurious ack timeout: {es:?}"
    );
  });
  assert_eq!((stats.retries, stats.reconnects), (0, 0), "{stats:?}");
  assert_eq!(server.count(), 641, "delivered once each");
}

/// REVIEW-0.1 #3: a flush that races the writer's stop must still be answered. Before the fix the
/// writer drained the waiters, then set the close report under a second lock; a flush arriving in
/// between found no report, queued its waiter and was never called back.
#[test]
fn flushes_racing_a_close_are_all_answered() {
  use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
  use std::sync::Arc;
  for round in 0..20 {
    let log = EventLog::new();
    let client = Arc::new(Client::start(fast_config(tcp(refused_port())), log.sink()).unwrap());
    let tag = client.tag_id("race").unwrap();
    for i in 0..10 {
      assert!(client.push(tag, None, &record(i, 0)).unwrap());
    }
    let issued = Arc::new(AtomicUsize::new(0));
    let answered = Arc::new(AtomicUsize::new(0));
    let closed = Arc::new(AtomicBool::new(false));
    let flushers: Vec<_> = (0..3)
      .map(|_| {
        let (client, issued, answered, closed) =
          (client.clone(), issued.clone(), answered.clone(), closed.clone());
        std::thread::spawn(move || {
          let start = Instant::now();
          // Until the close has reported, and once more after it: bounded either way.
          loop {
            let last = closed.load(SeqCst) || start.elapsed() > Duration::from_secs(5);
            issued.fetch_add(1, SeqCst);
            let answered = answered.clone();
            client.flush(
              Duration::from_secs(60),
              Box::new(move |_| {
                answered.fetch_add(1, SeqCst);
              }),
            );
            if last {
              break;
            }
          }
        })
      })
      .collect();
    std::thread::sleep(Duration::from_millis(2));
    let c = closed.clone();
    client.close(Duration::ZERO, Some(Box::new(move |_| c.store(true, SeqCst))));
    for f in flushers {
      f.join().unwrap();
    }
    // The flush timeout is 60 s: only the close can have answered them within this bound.
    let all = wait_until(Duration::from_secs(5), || {
      answered.load(SeqCst) == issued.load(SeqCst)
    });
    assert!(
      all,
      "round {round}: {} of {} flushes answered",
      answered.load(SeqCst),
      issued.load(SeqCst)
    );
  }
}
