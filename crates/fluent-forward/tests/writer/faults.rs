//! Faults on the first connection in ack mode: everything must still arrive.

use crate::common::*;
use crate::support::*;
use fluent_forward::{Client, CloseReport, Config, Event, Mode};
use std::time::{Duration, Instant};

/// Pushes N records in ack mode against a server whose first connection misbehaves as `first`,
/// waits for every record to be acknowledged, and closes: every record arrived and was counted
/// sent once, over a second connection.
fn deliver_across(
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
  (server, log, report, stats)
}

/// `deliver_across`, where the faulty first connection also held batches that had to go again.
fn survive(
  first: Behavior,
  mode: Mode,
) -> (
  Server,
  std::sync::Arc<EventLog>,
  CloseReport,
  fluent_forward::Stats,
) {
  let run = deliver_across(first, mode);
  assert!(run.3.retries >= 1, "{:?}", run.3);
  run
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

/// An ack and garbage in one read: the acked batch is settled (counted sent, not sent again), the
/// garbage still ends the connection. The batch was once dropped with the read, in no count: `sent`
/// then never reached N. (Not `survive`: when the first connection carried only the acked request,
/// nothing is left to retry.)
#[test]
fn an_ack_read_together_with_garbage_still_settles_its_batch() {
  let (server, log, _, _) = deliver_across(
    Behavior::AckThenGarbageFirst(b"\xc1\xc1".to_vec()),
    Mode::PackedForward,
  );
  log.with(|es| assert!(count_disconnects(es, "ACK_MISMATCH") >= 1, "{es:?}"));
  // The acked first request is the only copy of its records: nothing of it came again.
  let received = server.with(|st| st.received.len() as u64);
  assert_eq!(received, N, "each record exactly once");
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
