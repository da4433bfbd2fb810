//! Nothing listening: connect errors and undelivered records; and the overflow policies.

use crate::common::*;
use fluent_forward::{Client, CloseReport, Config, Event, Overflow};
use std::time::Duration;

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
// Overflow policies (no server, so nothing leaves the buffer)

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
