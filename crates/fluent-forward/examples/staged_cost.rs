//! Producer-side cost of `Client::push_staged` per record (the part of the handover that runs on the
//! JS thread). No server: `dropOldest` under a small cap recycles batches as a drained queue would,
//! so this measures the steady state (no fresh memory, no page faults).
//! Run: `cargo run --release -p fluent-forward --example staged_cost`
use fluent_forward::staging::{write_frame, Anchor, FrameTime};
use fluent_forward::{Client, Config, Overflow, Target};
use std::sync::Arc;
use std::time::Instant;

fn main() {
  let config = Config {
    target: Target::Tcp {
      host: "127.0.0.1".into(),
      port: 9,
    },
    max_buffer_bytes: 8 << 20,
    overflow: Overflow::DropOldest,
    ..Config::default()
  };
  let client = Client::start(config, Arc::new(|_| true)).unwrap();
  let tag = client.tag_id("bench").unwrap();
  let rec: &[u8] = b"\x85\xa5level\xa4info\xa3msg\xabhello world\xa1n\x01\xa4user\xa4u123\xa2ok\xc3";
  let mut block = Vec::new();
  for _ in 0..1000 {
    write_frame(&mut block, tag, FrameTime::StampMs(1.0), rec);
  }
  let blocks = 3000;
  let t = Instant::now();
  for _ in 0..blocks {
    client.push_staged(&block, Anchor::now(2.0)).unwrap();
  }
  let ns = t.elapsed().as_nanos() as f64 / (blocks * 1000) as f64;
  println!(
    "push_staged: {ns:.1} ns per record ({} B blocks of 1000 records)",
    block.len()
  );
}
