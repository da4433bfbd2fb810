//! What turning one pino line into a record costs the thread that calls `write` (the NDJSON
//! transcoder, `ndjson`), against the cheapest alternative with a serde_json tree: parsing into a
//! `serde_json::Value` alone, without writing any msgpack.
//!
//!   cargo run --release -p fluent-forward --example ndjson_cost
//!   cargo run --release -p fluent-forward --example ndjson_cost --features bench-json
//!
//! The second also drives the same msgpack-writing visitors from sonic-rs's and simd-json's serde
//! deserializers instead of serde_json's, which is how the JSON parser was chosen.
//!
//! Lines as pino writes them: small (`{level,time,pid,hostname,i,msg}`) and medium (a request log).

use fluent_forward::codec::event_time::EventTime;
use fluent_forward::ndjson::{Offer, Options, Sink, Transcoder};
use std::time::Instant;

struct Count(usize);

impl Sink for Count {
  fn tag_id(&mut self, _: &str) -> Option<u32> {
    Some(1)
  }
  fn offer(&mut self, _: u32, _: Option<EventTime>, record: &[u8]) -> Offer {
    self.0 += record.len();
    Offer::Accepted
  }
}

fn lines(medium: bool, n: usize) -> Vec<u8> {
  let mut out = Vec::new();
  for i in 0..n {
    let t = 1_733_111_222_000u64 + i as u64;
    if medium {
      out.extend_from_slice(format!(
        r#"{{"level":30,"time":{t},"pid":4242,"hostname":"api-7d9f","i":{i},"req":{{"id":{i},"method":"GET","url":"/api/v1/users/{}/orders?page={}","headers":{{"host":"api.example.com","user-agent":"Mozilla/5.0 (X11; Linux x86_64)","accept":"application/json"}},"remoteAddress":"10.0.3.17","remotePort":{}}},"res":{{"statusCode":200,"headers":{{"content-type":"application/json","content-length":1234}}}},"responseTime":{}.25,"msg":"request completed"}}"#,
        i % 1000, i % 7, 40000 + i % 20000, i % 300
      ).as_bytes());
    } else {
      out.extend_from_slice(
        format!(r#"{{"level":30,"time":{t},"pid":4242,"hostname":"api-7d9f","i":{i},"msg":"hello world"}}"#)
          .as_bytes(),
      );
    }
    out.push(b'\n');
  }
  out
}

fn main() {
  let n = 200_000;
  for medium in [false, true] {
    let text = lines(medium, n);
    let opts = Options {
      fallback_tag: 1,
      tag_key: None,
      time_key: Some("time".into()),
      keep_time: false,
      level_key: Some("level".into()),
      level_names: vec![(30, "info".into())],
      message_key: "msg".into(),
      max_line_bytes: 1 << 20,
    };
    let mut best_t = f64::MAX;
    let mut best_v = f64::MAX;
    let mut bytes = 0;
    for _ in 0..5 {
      let mut t = Transcoder::new(opts.clone());
      let mut sink = Count(0);
      let start = Instant::now();
      // 64 KiB chunks, cut anywhere, as thread-stream hands them over.
      for chunk in text.chunks(65_536) {
        t.feed(&mut sink, chunk);
      }
      best_t = best_t.min(start.elapsed().as_nanos() as f64 / n as f64);
      bytes = sink.0;
      let start = Instant::now();
      let mut fields = 0;
      for line in text.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let v: serde_json::Value = serde_json::from_slice(line).expect("valid");
        fields += v.as_object().map_or(0, |o| o.len());
      }
      best_v = best_v.min(start.elapsed().as_nanos() as f64 / n as f64);
      assert!(fields > 0);
    }
    #[cfg(feature = "bench-json")]
    others(&text, n);
    println!(
      "{} lines ({} B of JSON, {} B of msgpack each): transcoder {:.0} ns/line; serde_json::Value parse alone {:.0} ns/line",
      if medium { "medium" } else { "small" },
      text.len() / n,
      bytes / n,
      best_t,
      best_v
    );
  }
}

#[cfg(feature = "bench-json")]
struct Pino;

#[cfg(feature = "bench-json")]
impl fluent_forward::ndjson::transcode::Fields for Pino {
  fn role(&self, key: &str) -> fluent_forward::ndjson::transcode::Role {
    use fluent_forward::ndjson::transcode::Role;
    match key {
      "time" => Role::Time,
      "level" => Role::Level,
      _ => Role::Plain,
    }
  }
}

/// The visitors alone (no line splitting, no edits, no sink) under each parser, per line.
#[cfg(feature = "bench-json")]
fn others(text: &[u8], n: usize) {
  use fluent_forward::ndjson::transcode::{object, object_from};
  let lines: Vec<Vec<u8>> = text
    .split(|b| *b == b'\n')
    .filter(|l| !l.is_empty())
    .map(<[u8]>::to_vec)
    .collect();
  let mut out = Vec::with_capacity(4096);
  let mut specials = Vec::new();
  let mut best = [f64::MAX; 3];
  for _ in 0..5 {
    let start = Instant::now();
    for l in &lines {
      out.clear();
      specials.clear();
      object(l, &Pino, &mut out, &mut specials).expect("valid");
    }
    best[0] = best[0].min(start.elapsed().as_nanos() as f64 / n as f64);
    let start = Instant::now();
    for l in &lines {
      out.clear();
      specials.clear();
      let mut de = sonic_rs::Deserializer::from_slice(l);
      object_from(&mut de, &Pino, &mut out, &mut specials).expect("valid");
    }
    best[1] = best[1].min(start.elapsed().as_nanos() as f64 / n as f64);
    // simd-json parses in place: each line is copied first, as a real use would have to.
    let mut scratch = Vec::new();
    let start = Instant::now();
    for l in &lines {
      out.clear();
      specials.clear();
      scratch.clear();
      scratch.extend_from_slice(l);
      let mut de = simd_json::Deserializer::from_slice(&mut scratch).expect("valid");
      object_from(&mut de, &Pino, &mut out, &mut specials).expect("valid");
    }
    best[2] = best[2].min(start.elapsed().as_nanos() as f64 / n as f64);
  }
  println!(
    "  visitors writing msgpack, per line: serde_json {:.0} ns, sonic-rs {:.0} ns, simd-json {:.0} ns",
    best[0], best[1], best[2]
  );
}
