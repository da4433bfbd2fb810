//! Many tags make many small batches, and the writer puts several of them into one write (one
//! request each). These check that nothing about delivery changes: every record once, one request
//! per batch, acks per request within the window, and a connection lost in the middle of such a
//! write loses nothing when acks are on.

mod common;

use common::*;
use fluent_forward::{Client, Config, Event, Mode};
use std::collections::BTreeMap;

const TAGS: u64 = 3_000;
const PER_TAG: u64 = 4;

fn push_spread(client: &Client) {
  let ids: Vec<u32> = (0..TAGS)
    .map(|t| client.tag_id(&format!("many.t{t}")).unwrap())
    .collect();
  for i in 0..TAGS * PER_TAG {
    assert!(
      client
        .push(ids[(i % TAGS) as usize], None, &record(i, 20))
        .unwrap(),
      "push {i}"
    );
  }
}

/// Record number to how many times it arrived, and each record's tag was the one it was pushed to.
fn arrivals(s: &Server) -> BTreeMap<u64, usize> {
  s.with(|st| {
    let mut seen = BTreeMap::new();
    for r in &st.received {
      let n = record_n(&r.record).unwrap();
      assert_eq!(
        r.tag,
        format!("many.t{}", n % TAGS),
        "record {n} under the wrong tag"
      );
      *seen.entry(n).or_insert(0) += 1;
    }
    seen
  })
}

fn config(s: &Server, mode: Mode, require_ack: bool) -> Config {
  Config {
    mode,
    require_ack,
    max_in_flight: 4,
    ..fast_config(s.target())
  }
}

fn every_record_once(mode: Mode, require_ack: bool) {
  let s = Server::start();
  let log = EventLog::new();
  let client = Client::start(config(&s, mode, require_ack), log.sink()).unwrap();
  push_spread(&client);
  let total = (TAGS * PER_TAG) as usize;
  assert!(
    wait_until(LONG, || s.count() >= total),
    "{} of {total}; {}",
    s.count(),
    log.describe()
  );
  let report = close_and_wait(&client, LONG);
  let seen = arrivals(&s);
  assert_eq!(seen.len(), total);
  assert!(seen.values().all(|&c| c == 1), "a record arrived twice");
  assert_eq!(report.sent, total as u64);
  assert!(s.violations().is_empty(), "{:?}", s.violations());
  let stats = client.stats();
  // Each batch is its own request, whatever write it went out in.
  let requests = s.with(|st| st.requests.len()) as u64;
  let expected = if mode == Mode::Message {
    total as u64
  } else {
    stats.batches_sent
  };
  assert_eq!(requests, expected, "{stats:?}");
  assert_eq!(stats.reconnects, 0, "{}", log.describe());
}

#[test]
fn many_tags_packed_forward_every_record_once() {
  every_record_once(Mode::PackedForward, false);
}

#[test]
fn many_tags_packed_forward_with_acks_every_record_once() {
  every_record_once(Mode::PackedForward, true);
}

#[test]
fn many_tags_forward_with_acks_every_record_once() {
  every_record_once(Mode::Forward, true);
}

#[test]
fn many_tags_message_mode_every_record_once() {
  every_record_once(Mode::Message, false);
}

/// The first connection reads one request and closes: the rest of a write that carried several
/// batches never reached the server. With acks, they all come back and go out again.
#[test]
fn a_connection_lost_mid_write_loses_nothing_with_acks() {
  let s = Server::scripted(first_then_normal(Behavior::ReadOneThenClose));
  let log = EventLog::new();
  let client = Client::start(config(&s, Mode::PackedForward, true), log.sink()).unwrap();
  push_spread(&client);
  let total = (TAGS * PER_TAG) as usize;
  assert!(
    wait_until(LONG, || arrivals(&s).len() >= total),
    "{} of {total}; {}",
    arrivals(&s).len(),
    log.describe()
  );
  let report = close_and_wait(&client, LONG);
  assert_eq!(arrivals(&s).len(), total);
  assert_eq!(report.sent, total as u64);
  assert_eq!(report.dropped + report.pending + report.rejected, 0, "{report:?}");
  assert!(s.connections() >= 2);
  assert!(s.violations().is_empty(), "{:?}", s.violations());
}

/// The first connection never reads: a write of several batches stalls part way (past what the
/// kernel buffers) and times out. The batches of that write, and those in flight, go out again on
/// the next connection.
#[test]
fn a_write_of_several_batches_that_stalls_loses_nothing_with_acks() {
  const TAGS_HERE: u64 = 200;
  const RECORDS: u64 = 10_000;
  let s = Server::scripted(first_then_normal(Behavior::NeverRead));
  let log = EventLog::new();
  let cfg = Config {
    mode: Mode::PackedForward,
    require_ack: true,
    max_in_flight: 64,
    ack_timeout: std::time::Duration::from_secs(10),
    ..fast_config(s.target())
  };
  let client = Client::start(cfg, log.sink()).unwrap();
  let ids: Vec<u32> = (0..TAGS_HERE)
    .map(|t| client.tag_id(&format!("stall.t{t}")).unwrap())
    .collect();
  for i in 0..RECORDS {
    assert!(client
      .push(ids[(i % TAGS_HERE) as usize], None, &record(i, 1_000))
      .unwrap());
  }
  let got = || {
    s.with(|st| {
      st.received
        .iter()
        .map(|r| record_n(&r.record).unwrap())
        .collect::<std::collections::BTreeSet<u64>>()
    })
  };
  assert!(
    wait_until(LONG, || got().len() as u64 >= RECORDS),
    "{} of {RECORDS}; {}",
    got().len(),
    log.describe()
  );
  let report = close_and_wait(&client, LONG);
  assert_eq!(got().len() as u64, RECORDS);
  assert_eq!(report.sent, RECORDS);
  let stalls = log.with(|es| {
    es.iter()
      .filter(|e| {
        matches!(
          e,
          Event::Disconnected {
            error: Some(err),
            ..
          } if matches!(err.inner(), fluent_forward::Error::Timeout("write"))
        )
      })
      .count()
  });
  assert_eq!(
    stalls,
    1,
    "the first connection's write timed out: {}",
    log.describe()
  );
  assert!(s.violations().is_empty(), "{:?}", s.violations());
}
