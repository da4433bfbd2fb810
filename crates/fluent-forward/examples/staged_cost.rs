//! Producer-side cost of `Client::push_staged` per record (the part of the handover that runs on the
//! JS thread). No server: `dropOldest` under a small cap recycles batches as a drained queue would,
//! so this measures the steady state (no fresh memory, no page faults).
//! Run: `cargo run --release -p fluent-forward --example staged_cost`
use fluent_forward::staging::Anchor;
use fluent_forward::{Client, Config, Overflow, Target};
use std::sync::Arc;
use std::time::Instant;

fn main() {
  let config = Config {
    target: Target::Tcp { host: "127.0.0.1".into(), port: 9 },
    max_buffer_bytes: 8 << 20,
    overflow: Overflow::DropOldest,
    ..Config::default()
  };
  let client = Client::start(config, Arc::new(|_| {})).unwrap();
  let tag = client.tag_id("bench").unwrap();
  let rec: &[u8] = b"\x85\xa5level\xa4info\xa3msg\xabhello world\xa1n\x01\xa4user\xa4u123\xa2ok\xc3";
  let mut block = Vec::new();
  for _ in 0..1000 {
    block.extend_from_slice(&tag.to_ne_bytes());
    block.extend_from_slice(&(rec.len() as u32).to_ne_bytes());
    block.extend_from_slice(&u32::MAX.to_ne_bytes());
    block.extend_from_slice(&0u32.to_ne_bytes());
    block.extend_from_slice(&1.0f64.to_ne_bytes());
    block.extend_from_slice(rec);
    while !block.len().is_multiple_of(8) {
      block.push(0);
    }
  }
  let blocks = 3000;
  let t = Instant::now();
  for _ in 0..blocks {
    client.push_staged(&block, Anchor::now(2.0), 0).unwrap();
  }
  let ns = t.elapsed().as_nanos() as f64 / (blocks * 1000) as f64;
  println!("push_staged: {ns:.1} ns per record ({} B blocks of 1000 records)", block.len());
}
