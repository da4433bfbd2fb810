//! The circuit breaker: opens at the threshold, holds flush deadlines, probes and closes.

use crate::client::*;
use crate::common::*;
use crate::server::*;
use fluent_forward::{Breaker, BreakerState, Client, Config, Event, Heartbeat};
use std::time::{Duration, Instant};

#[test]
fn breaker_opens_at_threshold_holds_flush_deadlines_probes_and_closes() {
  let port = refused_port();
  let cfg = Config {
    breaker: Breaker {
      failure_threshold: 3,
      cooldown: Duration::from_millis(400),
      max_cooldown: Duration::from_millis(800),
    },
    // The breaker driven by connects alone: with heartbeats, a missed beat counts as a failure and
    // is the half-open probe (breaker.rs's tests and __test__/recovery.spec.ts cover that path).
    heartbeat: Some(Heartbeat::None),
    ..config(port)
  };
  let log = EventLog::new();
  let client = Client::start(cfg, log.sink()).unwrap();
  push_n(&client, 0, 20);
  let open = |es: &[Event]| {
    es.iter()
      .filter(|e| {
        matches!(
          e,
          Event::Breaker {
            state: BreakerState::Open,
            ..
          }
        )
      })
      .count()
  };
  assert!(log.wait_for(LONG, |es| open(es) >= 1), "{}", log.describe());
  assert!(
    log.wait_for(LONG, |es| count_errors(es, "CONNECT") >= 3),
    "{}",
    log.describe()
  );
  // Counted up to the first probe: on a loaded machine the 400 ms cooldown may already have run
  // out and a probe failed by the time this looks. (The error that opened it follows the event.)
  log.with(|es| {
    let first_probe = es
      .iter()
      .position(|e| {
        matches!(
          e,
          Event::Breaker {
            state: BreakerState::HalfOpen,
            ..
          }
        )
      })
      .unwrap_or(es.len());
    assert_eq!(count_errors(&es[..first_probe], "CONNECT"), 3, "{es:?}")
  });
  // Open, or already probing again on a loaded machine; never closed while the server is down.
  assert_ne!(client.stats().breaker, BreakerState::Closed);
  // While open: records stay buffered and a flush still ends at its deadline.
  let start = Instant::now();
  let (delivered, ()) = flush_and_wait(&client, Duration::from_millis(150), || ());
  assert!(!delivered && start.elapsed() < Duration::from_secs(2));
  assert_eq!(client.stats().queued_records, 20);
  // The probe fails (still refused): open again.
  assert!(log.wait_for(LONG, |es| open(es) >= 2), "{}", log.describe());
  // The server comes up: the next probe closes the breaker and everything is delivered.
  let srv = Srv::start_on(port, Opts::default());
  assert!(wait_until(LONG, || srv.count() >= 20), "{}", log.describe());
  assert!(log.wait_for(LONG, |es| es.iter().any(|e| matches!(
    e,
    Event::Breaker {
      state: BreakerState::Closed,
      ..
    }
  ))));
  assert_eq!(client.stats().breaker, BreakerState::Closed);
  let _ = close_and_wait(&client, Duration::from_secs(2));
  log.with(|es| {
    let states: Vec<BreakerState> = es
      .iter()
      .filter_map(|e| match e {
        Event::Breaker { state, .. } => Some(*state),
        _ => None,
      })
      .collect();
    // Open, then probe and reopen at least once while the server is down (more often if the machine
    // is slow to start it), then a probe that succeeds.
    let n = states.len();
    assert!(n >= 5 && n % 2 == 1, "{states:?}");
    for (i, s) in states[..n - 1].iter().enumerate() {
      let want = if i % 2 == 0 {
        BreakerState::Open
      } else {
        BreakerState::HalfOpen
      };
      assert_eq!(*s, want, "{states:?}");
    }
    assert_eq!(states[n - 1], BreakerState::Closed, "{states:?}");
  });
  assert_eq!(srv.ns(), (0..20).collect::<Vec<_>>());
}
