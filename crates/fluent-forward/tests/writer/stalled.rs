//! A server that never reads: write timeout, then an honest close report; and the deadlines
//! that hold while a write is blocked.

use crate::common::*;
use crate::support::*;
use fluent_forward::{Client, Config, Event};
use std::time::{Duration, Instant};

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
