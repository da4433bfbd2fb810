//! Producer-side cost of `Client::push_staged` per record (the part of the handover that runs on the
//! JS thread), for a small (~60 B) and a larger (~600 B) record, next to the cost of validating the
//! same record alone with `record_len` (which `push_staged` runs on every staged record). No server:
//! `dropOldest` under a small cap recycles batches as a drained queue would, so this measures the
//! steady state (no fresh memory, no page faults).
//! Run: `cargo run --release -p fluent-forward --example staged_cost`
use fluent_forward::codec::validate::record_len;
use fluent_forward::staging::{write_frame, Anchor, FrameTime};
use fluent_forward::{Client, Config, Overflow, Target};
use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

const SMALL: &[u8] = b"\x87\xa4host\xa6web-01\xa3pid\xcd\x30\x39\xa5level\xa4info\xa3msg\xabhello world\xa1n\x01\xa4user\xa4u123\xa2ok\xc3";

/// About 600 bytes: a log line with a longer message, nested context and a few numbers.
fn large() -> Vec<u8> {
  let mut r = vec![0x88];
  let str_ = |r: &mut Vec<u8>, s: &str| {
    if s.len() < 32 {
      r.push(0xa0 | s.len() as u8);
    } else {
      r.push(0xd9);
      r.push(s.len() as u8);
    }
    r.extend_from_slice(s.as_bytes());
  };
  str_(&mut r, "level");
  str_(&mut r, "info");
  str_(&mut r, "msg");
  str_(&mut r, &"request handled without incident; ".repeat(6)[..200]);
  str_(&mut r, "status");
  r.extend([0xcd, 0x01, 0xf4]);
  str_(&mut r, "latency");
  r.extend([0xcb, 0x40, 0x09, 0x21, 0xf9, 0xf0, 0x1b, 0x86, 0x6e]);
  str_(&mut r, "ctx");
  r.push(0x86);
  for k in ["user", "session", "trace", "span", "route", "agent"] {
    str_(&mut r, k);
    str_(&mut r, &format!("{k}-0123456789abcdef0123456789abcdef-{k}"));
  }
  str_(&mut r, "tags");
  r.push(0x95);
  for t in ["alpha", "beta", "gamma", "delta", "epsilon"] {
    str_(&mut r, t);
  }
  str_(&mut r, "ok");
  r.push(0xc3);
  str_(&mut r, "n");
  r.extend([0xce, 0x00, 0x01, 0xe2, 0x40]);
  r
}

fn measure(name: &str, rec: &[u8]) {
  assert_eq!(record_len(rec), Ok(rec.len()), "{name} is one valid map");
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
  let mut block = Vec::new();
  for _ in 0..1000 {
    write_frame(&mut block, tag, FrameTime::StampMs(1.0), rec);
  }
  let blocks = 3_000_000 / rec.len().max(100);
  // Warm-up: the pool and the batch buffers reach their working size.
  for _ in 0..blocks / 10 {
    client.push_staged(&block, Anchor::now(2.0)).unwrap();
  }
  let t = Instant::now();
  for _ in 0..blocks {
    client.push_staged(&block, Anchor::now(2.0)).unwrap();
  }
  let push_ns = t.elapsed().as_nanos() as f64 / (blocks * 1000) as f64;
  let n = blocks * 1000;
  let t = Instant::now();
  for _ in 0..n {
    black_box(record_len(black_box(rec)).unwrap());
  }
  let check_ns = t.elapsed().as_nanos() as f64 / n as f64;
  println!(
    "{name} ({} B): push_staged {push_ns:.1} ns/record, record_len alone {check_ns:.1} ns/record",
    rec.len()
  );
}

fn main() {
  measure("small", SMALL);
  measure("large", &large());
}
