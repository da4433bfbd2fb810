//! Pushing the test records (two tags, distinct times) and checking what a server received.

use crate::common::*;
use fluent_forward::{Client, EventTime};
use std::collections::{BTreeMap, BTreeSet};

pub(crate) const N: u64 = 2000;
pub(crate) const TAGS: [&str; 2] = ["test.a", "test.b"];

pub(crate) fn time_of(i: u64) -> EventTime {
  EventTime::new(1_700_000_000 + i as u32, (i as u32 * 1_000_003) % 1_000_000_000).unwrap()
}

/// Pushes records 0..n, alternating over the two tags, each with a distinct time.
pub(crate) fn push_all(client: &Client, n: u64, pad: usize) {
  let tags: Vec<u32> = TAGS.iter().map(|t| client.tag_id(t).unwrap()).collect();
  for i in 0..n {
    let ok = client
      .push(tags[(i % 2) as usize], Some(time_of(i)), &record(i, pad))
      .unwrap();
    assert!(ok, "push {i} refused");
  }
}

/// `n` values per tag, in the order the server got them.
pub(crate) fn per_tag(server: &Server) -> BTreeMap<String, Vec<u64>> {
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

pub(crate) fn expected_per_tag(n: u64) -> BTreeMap<String, Vec<u64>> {
  let mut m: BTreeMap<String, Vec<u64>> = BTreeMap::new();
  for i in 0..n {
    m.entry(TAGS[(i % 2) as usize].to_string()).or_default().push(i);
  }
  m
}

pub(crate) fn distinct_received(server: &Server) -> BTreeSet<(String, u64)> {
  server.with(|s| {
    s.received
      .iter()
      .map(|r| (r.tag.clone(), record_n(&r.record).unwrap()))
      .collect()
  })
}

pub(crate) fn expected_set(n: u64) -> BTreeSet<(String, u64)> {
  (0..n).map(|i| (TAGS[(i % 2) as usize].to_string(), i)).collect()
}

pub(crate) fn assert_no_violations(server: &Server) {
  let v = server.violations();
  assert!(v.is_empty(), "protocol violations: {v:?}");
}
