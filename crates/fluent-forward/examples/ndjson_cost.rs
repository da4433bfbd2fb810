//! What turning one pino line into a record costs the thread that calls `write` (the NDJSON
//! transcoder, `ndjson`), against the cheapest alternative with a serde_json tree: parsing into a
//! `serde_json::Value` alone, without writing any msgpack.
//!
//!   cargo run --release -p fluent-forward --example ndjson_cost
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
