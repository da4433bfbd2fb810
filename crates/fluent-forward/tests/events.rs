//! Events the embedding cannot take are counted, not silently lost.

use fluent_forward::{Client, Config, Heartbeat, Target};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

#[test]
fn events_refused_by_the_sink_are_counted() {
  // A port nothing listens on: every attempt produces a connect error event.
  let port = {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
  };
  let offered = Arc::new(AtomicU64::new(0));
  let seen = offered.clone();
  let config = Config {
    target: Target::Tcp {
      host: "127.0.0.1".into(),
      port,
    },
    reconnect_initial: Duration::from_millis(10),
    reconnect_max: Duration::from_millis(20),
    // Reconnects paced by the backoff alone (heartbeats would pace them at one per beat).
    heartbeat: Some(Heartbeat::None),
    ..Config::default()
  };
  // The sink takes every other event, as a full queue on the JS side would refuse some.
  let client = Client::start(
    config,
    Arc::new(move |_| seen.fetch_add(1, Ordering::Relaxed).is_multiple_of(2)),
  )
  .unwrap();
  let tag = client.tag_id("events.test").unwrap();
  client.push(tag, None, &[0x80]).unwrap();
  let (tx, rx) = mpsc::channel();
  client.close(
    Duration::from_millis(300),
    Some(Box::new(move |r| tx.send(r).unwrap())),
  );
  let report = rx.recv_timeout(Duration::from_secs(5)).unwrap();
  assert_eq!(report.pending, 1);
  let offered = offered.load(Ordering::Relaxed);
  assert!(offered >= 3, "only {offered} events offered");
  assert_eq!(client.stats().events_lost, offered / 2);
}
