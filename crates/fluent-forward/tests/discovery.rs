//! A fleet found through DNS (`resolve: All`), with a scripted resolver (`Config::lookup`) and fake
//! servers with acks: members join and leave while records flow, a leaving member's in-flight
//! batches settle by their ack (or are resent elsewhere), nothing is lost, and a failed lookup
//! keeps the members it had. The JS tests (`__test__/dns-fleet.spec.ts`) do the same through the
//! system resolver, with `/etc/hosts` in a private mount namespace.

mod common;

use common::*;
use fluent_forward::{Client, Config, Event, Lookup, Resolve, Target};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const LONG: Duration = Duration::from_secs(10);

/// What the scripted resolver answers: `None` is a failed lookup.
type Answer = Arc<Mutex<Option<Vec<SocketAddr>>>>;

fn addr(s: &Server) -> SocketAddr {
  SocketAddr::from(([127, 0, 0, 1], s.port))
}

fn answer(servers: &[&Server]) -> Option<Vec<SocketAddr>> {
  Some(servers.iter().map(|s| addr(s)).collect())
}

fn dns_config(answer: &Answer) -> Config {
  let a = answer.clone();
  Config {
    resolve: Resolve::All,
    require_ack: true,
    dns_ttl: Duration::from_millis(100),
    heartbeat_interval: Duration::from_millis(50),
    lookup: Some(Lookup(Arc::new(move |host: &str, _port| {
      assert_eq!(host, "fleet.test");
      a.lock()
        .unwrap()
        .clone()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "fleet.test not found (scripted)"))
    }))),
    ..fast_config(Target::Tcp {
      host: "fleet.test".into(),
      port: 24224,
    })
  }
}

/// Numbered records to one tag, 50 at a time with a 5 ms pause.
struct Feed {
  tag: u32,
  next: u64,
}

impl Feed {
  fn burst(&mut self, client: &Client) {
    for _ in 0..50 {
      assert!(client.push(self.tag, None, &record(self.next, 40)).unwrap());
      self.next += 1;
    }
    std::thread::sleep(Duration::from_millis(5));
  }

  /// Bursts until `cond` holds (bounded: a failure says what was awaited).
  fn until(&mut self, client: &Client, what: &str, mut cond: impl FnMut() -> bool) {
    assert!(
      wait_until(LONG, || {
        self.burst(client);
        cond()
      }),
      "never: {what}"
    );
  }
}

fn members(client: &Client) -> BTreeSet<String> {
  client.stats().servers.into_iter().map(|s| s.address).collect()
}

fn names(servers: &[&Server]) -> BTreeSet<String> {
  servers.iter().map(|s| addr(s).to_string()).collect()
}

fn received_ns(s: &Server) -> Vec<u64> {
  s.with(|st| st.received.iter().filter_map(|r| record_n(&r.record)).collect())
}

/// Closes, then checks the identity and that every record reached one of `servers`.
fn all_delivered(client: &Client, feed: &Feed, servers: &[&Server]) {
  let report = close_and_wait(client, LONG);
  assert_eq!(report.sent, feed.next, "{report:?}");
  assert_eq!(
    (report.pending, report.rejected, report.dropped),
    (0, 0, 0),
    "{report:?}"
  );
  assert_eq!(report.emitted, feed.next, "{report:?}");
  let seen: BTreeSet<u64> = servers.iter().flat_map(|s| received_ns(s)).collect();
  let missing: Vec<u64> = (0..feed.next).filter(|n| !seen.contains(n)).take(10).collect();
  assert!(missing.is_empty(), "lost records (first ten): {missing:?}");
  for s in servers {
    assert!(s.violations().is_empty(), "{:?}", s.violations());
  }
}

#[test]
fn members_join_and_leave_while_records_flow_and_nothing_is_lost() {
  let (a, b, c) = (Server::start(), Server::start(), Server::start());
  let dns: Answer = Arc::new(Mutex::new(answer(&[&a, &b])));
  let log = EventLog::new();
  let client = Client::start(dns_config(&dns), log.sink()).unwrap();
  let mut feed = Feed {
    tag: client.tag_id("dns.fleet").unwrap(),
    next: 0,
  };
  feed.until(&client, "a and b both take records", || {
    a.count() > 0 && b.count() > 0
  });
  assert_eq!(members(&client), names(&[&a, &b]));
  // b leaves, c joins: c is used without a restart, b's slot is freed once drained.
  *dns.lock().unwrap() = answer(&[&c, &a]);
  feed.until(&client, "stats show a and c only", || {
    members(&client) == names(&[&a, &c])
  });
  let c_before = c.count();
  let b_after_leaving = b.count();
  feed.until(&client, "c takes records", || c.count() > c_before);
  for _ in 0..10 {
    feed.burst(&client);
  }
  assert_eq!(b.count(), b_after_leaving, "a drained member got new records");
  // Everyone back: b joins again as a new member (in a free slot).
  *dns.lock().unwrap() = answer(&[&a, &b, &c]);
  let b_before = b.count();
  feed.until(&client, "b takes records again", || b.count() > b_before);
  assert_eq!(members(&client), names(&[&a, &b, &c]));
  // Events name members by address.
  let connected: BTreeSet<String> = log.with(|es| {
    es.iter()
      .filter_map(|e| match e {
        Event::Connected { address, .. } => Some(address.to_string()),
        _ => None,
      })
      .collect()
  });
  assert_eq!(connected, names(&[&a, &b, &c]));
  all_delivered(&client, &feed, &[&a, &b, &c]);
}

/// A member that leaves while it holds unacked batches keeps its connection until their acks
/// come: they settle there, once (no duplicate), and only then is its slot freed.
#[test]
fn a_leaving_member_settles_its_in_flight_batches_by_their_acks() {
  let pause = Duration::from_millis(800);
  let slow = Server::scripted(script(move |_| Behavior::PauseAfterFirst(pause)));
  let b = Server::start();
  let dns: Answer = Arc::new(Mutex::new(answer(&[&slow, &b])));
  let log = EventLog::new();
  let cfg = Config {
    ack_timeout: Duration::from_secs(5),
    ..dns_config(&dns)
  };
  let client = Client::start(cfg, log.sink()).unwrap();
  let mut feed = Feed {
    tag: client.tag_id("dns.drain").unwrap(),
    next: 0,
  };
  let slow_in_flight = || {
    let me = addr(&slow).to_string();
    client
      .stats()
      .servers
      .iter()
      .any(|s| s.address == me && s.in_flight > 0)
  };
  feed.until(&client, "the slow member holds unacked batches", slow_in_flight);
  let held_at_leaving = slow.count();
  *dns.lock().unwrap() = answer(&[&b]);
  assert!(
    wait_until(LONG, || members(&client) == names(&[&b])),
    "the slow member was never freed: {:?}",
    client.stats().servers
  );
  assert!(
    slow.count() > held_at_leaving,
    "its in-flight batches were not settled by its acks"
  );
  assert_eq!(
    client.stats().duplicates,
    0,
    "a batch was resent although it was acked"
  );
  for _ in 0..10 {
    feed.burst(&client);
  }
  all_delivered(&client, &feed, &[&slow, &b]);
}

/// A member that leaves and never acks what it holds: its batches time out there and are resent
/// to another member; nothing is lost.
#[test]
fn a_leaving_member_that_never_acks_has_its_batches_resent_elsewhere() {
  let silent = Server::scripted(script(|_| Behavior::NeverAck));
  let b = Server::start();
  let dns: Answer = Arc::new(Mutex::new(answer(&[&silent, &b])));
  let log = EventLog::new();
  let client = Client::start(dns_config(&dns), log.sink()).unwrap();
  let mut feed = Feed {
    tag: client.tag_id("dns.silent").unwrap(),
    next: 0,
  };
  let silent_in_flight = || {
    let me = addr(&silent).to_string();
    client
      .stats()
      .servers
      .iter()
      .any(|s| s.address == me && s.in_flight > 0)
  };
  feed.until(
    &client,
    "the silent member holds unacked batches",
    silent_in_flight,
  );
  *dns.lock().unwrap() = answer(&[&b]);
  assert!(wait_until(LONG, || members(&client) == names(&[&b])));
  for _ in 0..10 {
    feed.burst(&client);
  }
  assert!(client.stats().duplicates > 0, "nothing was resent");
  all_delivered(&client, &feed, &[&b]);
}

/// A lookup that fails changes nothing: the members keep taking records, the failure is reported
/// once (a connect error naming the entry), and a later answer is applied again.
#[test]
fn a_failed_lookup_keeps_the_members_and_is_reported_once() {
  let (a, b) = (Server::start(), Server::start());
  let dns: Answer = Arc::new(Mutex::new(answer(&[&a])));
  let log = EventLog::new();
  let client = Client::start(dns_config(&dns), log.sink()).unwrap();
  let mut feed = Feed {
    tag: client.tag_id("dns.fail").unwrap(),
    next: 0,
  };
  feed.until(&client, "a takes records", || a.count() > 0);
  *dns.lock().unwrap() = None;
  let failures = || {
    log.with(|es| {
      es.iter()
        .filter(|e| matches!(e, Event::Error { error, .. } if error.code() == "CONNECT" && error.to_string().contains("fleet.test")))
        .count()
    })
  };
  feed.until(&client, "the failed lookup is reported", || failures() > 0);
  // Several more lookups fail (every 100 ms): still one report, and a still takes records.
  let a_before = a.count();
  for _ in 0..60 {
    feed.burst(&client);
  }
  assert_eq!(failures(), 1, "{}", log.describe());
  assert!(a.count() > a_before);
  assert_eq!(members(&client), names(&[&a]));
  *dns.lock().unwrap() = answer(&[&a, &b]);
  feed.until(&client, "b joins once lookups work again", || b.count() > 0);
  all_delivered(&client, &feed, &[&a, &b]);
}

/// Before the first answer there is no member: records wait (nothing is offered as unavailable),
/// and go out once the name resolves.
#[test]
fn records_wait_for_the_first_answer() {
  let a = Server::start();
  let dns: Answer = Arc::new(Mutex::new(None));
  let log = EventLog::new();
  let client = Client::start(dns_config(&dns), log.sink()).unwrap();
  let mut feed = Feed {
    tag: client.tag_id("dns.first").unwrap(),
    next: 0,
  };
  for _ in 0..5 {
    feed.burst(&client);
  }
  std::thread::sleep(Duration::from_millis(300));
  assert!(client.stats().servers.is_empty());
  assert_eq!(client.stats().sent, 0);
  assert!(!log.with(|es| es
    .iter()
    .any(|e| matches!(e, Event::Error { error, .. } if error.code() == "UNAVAILABLE"))));
  *dns.lock().unwrap() = answer(&[&a]);
  feed.until(&client, "a takes the waiting records", || a.count() > 0);
  all_delivered(&client, &feed, &[&a]);
}
