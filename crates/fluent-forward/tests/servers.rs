//! Several servers against scripted fake servers: the weighted split, standbys, failover with and
//! without acks, and the events for the failure handler and delivery reports.

mod common;

use common::*;
use fluent_forward::{Client, Config, Event, Heartbeat, Overflow, Reason, Server as ServerConfig};
use std::collections::BTreeSet;
use std::time::Duration;

fn server(s: &Server, weight: u32, standby: bool) -> ServerConfig {
  ServerConfig {
    target: s.target(),
    weight,
    standby,
    tls: None,
    security: None,
    resolve: fluent_forward::Resolve::First,
  }
}

fn fleet(servers: Vec<ServerConfig>) -> Config {
  Config {
    servers,
    // Small batches, so that the split is over many of them.
    batch_bytes: 200,
    ..fast_config(tcp(1))
  }
}

fn push(client: &Client, from: u64, to: u64) {
  let tag = client.tag_id("fleet").unwrap();
  for i in from..to {
    assert!(client.push(tag, None, &record(i, 40)).unwrap(), "push {i}");
  }
}

fn ns(s: &Server) -> BTreeSet<u64> {
  s.with(|st| st.received.iter().map(|r| record_n(&r.record).unwrap()).collect())
}

#[test]
fn weights_three_to_one_split_the_batches_three_to_one() {
  let (a, b) = (Server::start(), Server::start());
  let log = EventLog::new();
  let client = Client::start(
    fleet(vec![server(&a, 3, false), server(&b, 1, false)]),
    log.sink(),
  )
  .unwrap();
  push(&client, 0, 4000);
  assert!(
    wait_until(LONG, || a.count() + b.count() == 4000),
    "{}",
    log.describe()
  );
  let (ra, rb) = (a.with(|s| s.requests.len()), b.with(|s| s.requests.len()));
  let share = ra as f64 / (ra + rb) as f64;
  assert!(
    (share - 0.75).abs() <= 0.075,
    "server a got {ra} of {} batches",
    ra + rb
  );
  // Arrived is not yet sent: a server's first connection settles once its probation has passed.
  assert!(wait_until(LONG, || client.stats().sent == 4000));
  let stats = client.stats();
  assert_eq!(stats.servers.len(), 2);
  assert_eq!(stats.servers[0].batches as usize, ra);
  assert_eq!(stats.servers[1].sent as usize, b.count());
  let all: BTreeSet<u64> = ns(&a).union(&ns(&b)).copied().collect();
  assert_eq!(all.len(), 4000);
}

#[test]
fn a_standby_waits_while_a_regular_server_is_up_and_takes_over_when_none_is() {
  let regular = Server::start();
  let standby = Server::start();
  let log = EventLog::new();
  let cfg = Config {
    heartbeat: Some(Heartbeat::None),
    ..fleet(vec![server(&regular, 1, false), server(&standby, 1, true)])
  };
  let client = Client::start(cfg, log.sink()).unwrap();
  push(&client, 0, 500);
  assert!(wait_until(LONG, || regular.count() == 500));
  assert_eq!(
    standby.count(),
    0,
    "the standby got traffic while the regular server was up"
  );
  drop(regular);
  push(&client, 500, 1500);
  assert!(
    wait_until(LONG, || standby.count() >= 1000),
    "standby got {} of 1000: {}",
    standby.count(),
    log.describe()
  );
}

#[test]
fn with_acks_batches_a_server_drops_are_delivered_by_another() {
  // `a` reads one request per connection and closes it unacknowledged: a server that loses what it
  // is sent. Everything must arrive at `b`, and what `a` swallowed counts as possibly duplicated.
  let a = Server::scripted(script(|_| Behavior::ReadOneThenClose));
  let b = Server::start();
  let log = EventLog::new();
  let cfg = Config {
    require_ack: true,
    heartbeat: Some(Heartbeat::None),
    ..fleet(vec![server(&a, 1, false), server(&b, 1, false)])
  };
  let client = Client::start(cfg, log.sink()).unwrap();
  push(&client, 0, 2000);
  assert!(
    wait_until(LONG, || ns(&b).len() == 2000),
    "b has {}: {}",
    ns(&b).len(),
    log.describe()
  );
  let report = close_and_wait(&client, Duration::from_secs(5));
  assert_eq!((report.sent, report.pending, report.rejected), (2000, 0, 0));
  assert!(a.connections() > 0, "a was never tried");
}

#[test]
fn a_dead_server_is_skipped_without_holding_up_the_live_one() {
  let live = Server::start();
  let log = EventLog::new();
  let dead = ServerConfig {
    target: tcp(refused_port()),
    weight: 1,
    standby: false,
    tls: None,
    security: None,
    resolve: fluent_forward::Resolve::First,
  };
  let cfg = Config {
    heartbeat_interval: Duration::from_millis(50),
    ..fleet(vec![dead, server(&live, 1, false)])
  };
  let client = Client::start(cfg, log.sink()).unwrap();
  push(&client, 0, 1000);
  assert!(wait_until(LONG, || live.count() == 1000), "{}", log.describe());
  // Heartbeats keep failing: the dead server's breaker opens (5 misses), the live one stays closed.
  assert!(wait_until(LONG, || client.stats().servers[0].breaker
    == fluent_forward::BreakerState::Open));
  let stats = client.stats();
  assert!(
    !stats.servers[0].healthy && stats.servers[1].healthy,
    "{:?}",
    stats.servers
  );
  assert!(log.with(|es| es.iter().any(|e| matches!(e, Event::Breaker { server: 0, .. }))));
}

#[test]
fn dropped_records_reach_the_failure_handler_as_entries() {
  let log = EventLog::new();
  let cfg = Config {
    keep_undelivered: true,
    max_buffer_bytes: 4000,
    max_record_bytes: 1000,
    overflow: Overflow::DropNewest,
    ..fast_config(tcp(refused_port()))
  };
  let client = Client::start(cfg, log.sink()).unwrap();
  let tag = client.tag_id("t").unwrap();
  let mut refused = 0;
  for i in 0..200 {
    if !client.push(tag, None, &record(i, 40)).unwrap() {
      refused += 1;
    }
  }
  assert!(refused > 100);
  // A doorbell comes; the records wait in the store, decoded exactly, until taken.
  assert!(
    log.wait_for(LONG, |es| es.iter().any(|e| matches!(e, Event::HandOver))),
    "{}",
    log.describe()
  );
  // Accepted ones wait in the buffer (no server), refused ones in the store: all pending.
  assert_eq!(
    client.stats().pending,
    200,
    "kept records are pending until taken"
  );
  let kept = client.take_undelivered();
  assert!(kept
    .iter()
    .all(|k| k.reason == Reason::Dropped && !k.accepted && !k.chunk.entries.is_empty()));
  assert_eq!(
    kept.iter().map(|k| k.chunk.records() as u64).sum::<u64>(),
    refused
  );
  assert_eq!(kept.len(), 1, "one kept batch for the one tag");
  assert_eq!(client.stats().handed_over, refused);
  // What is left at the close deadline is kept for the handler too.
  let report = close_and_wait(&client, Duration::from_millis(50));
  let left = client.take_leftovers();
  assert_eq!(left.iter().map(|(_, _, n)| n).sum::<u64>(), report.pending);
  assert!(report.pending > 0);
  assert!(
    client.take_leftovers().is_empty(),
    "each leftover is returned once"
  );
}

#[test]
fn delivery_reports_carry_each_batch_only_while_on() {
  let s = Server::start();
  let log = EventLog::new();
  let client = Client::start(fast_config(s.target()), log.sink()).unwrap();
  push(&client, 0, 10);
  // Settled, not only arrived: the first connection's batches count as sent once its probation
  // has passed (src/probation.rs), and that is when their reports would go.
  assert!(wait_until(LONG, || s.count() == 10 && client.stats().sent == 10));
  let delivered = |es: &[Event]| -> u64 {
    es.iter()
      .filter_map(|e| match e {
        Event::Delivered { records, .. } => Some(*records),
        _ => None,
      })
      .sum()
  };
  assert_eq!(log.with(delivered), 0, "reports were off");
  client.set_delivery_reports(true);
  push(&client, 10, 30);
  assert!(log.wait_for(LONG, |es| delivered(es) == 20), "{}", log.describe());
}
