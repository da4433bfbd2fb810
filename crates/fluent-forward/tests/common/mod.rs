//! Test helpers: a scripted fake Forward server (TCP or Unix socket), an event recorder and
//! bounded waits. Every wait here has a deadline, so a broken client fails a test instead of hanging it.
//!
//! Here: bounded waits, test records and configs. `events`: the event recorder. `server`: the
//! scripted fake server. `wire`: decoding and checking what a server receives (also for servers
//! written in a test itself).
#![allow(dead_code)]

mod events;
mod server;
mod wire;

// Every test binary compiles these helpers and uses only some of them (hence `dead_code` above).
#[allow(unused_imports)]
pub use events::*;
#[allow(unused_imports)]
pub use server::*;
#[allow(unused_imports)]
pub use wire::*;

use fluent_forward::{Client, CloseReport, Config, Target};
use rmpv::Value;
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Generous upper bound for anything that should happen "soon" on a loaded CI machine.
pub const LONG: Duration = Duration::from_secs(20);

/// Polls `f` every few milliseconds until it is true or `timeout` passes.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
  let end = Instant::now() + timeout;
  loop {
    if f() {
      return true;
    }
    if Instant::now() >= end {
      return false;
    }
    std::thread::sleep(Duration::from_millis(5));
  }
}

/// A small msgpack map `{"n": n, "pad": "..."}` encoded with rmpv.
pub fn record(n: u64, pad: usize) -> Vec<u8> {
  let mut pairs = vec![(Value::from("n"), Value::from(n))];
  if pad > 0 {
    pairs.push((Value::from("pad"), Value::from("p".repeat(pad))));
  }
  let mut out = Vec::new();
  rmpv::encode::write_value(&mut out, &Value::Map(pairs)).unwrap();
  out
}

pub fn record_n(rec: &Value) -> Option<u64> {
  map_get(rec, "n")?.as_u64()
}

pub fn map_get<'a>(map: &'a Value, key: &str) -> Option<&'a Value> {
  map
    .as_map()?
    .iter()
    .find(|(k, _)| k.as_str() == Some(key))
    .map(|(_, v)| v)
}

/// Config with short timeouts, pointing at `target`.
pub fn fast_config(target: Target) -> Config {
  Config {
    target,
    flush_interval: Duration::from_millis(10),
    reconnect_initial: Duration::from_millis(20),
    reconnect_max: Duration::from_millis(200),
    ack_timeout: Duration::from_millis(300),
    write_timeout: Duration::from_millis(500),
    connect_timeout: Duration::from_millis(500),
    ..Config::default()
  }
}

/// A port nothing listens on: bound, read and released again.
pub fn refused_port() -> u16 {
  let l = TcpListener::bind("127.0.0.1:0").unwrap();
  l.local_addr().unwrap().port()
}

/// Calls `close` and waits (bounded) for its report.
pub fn close_and_wait(client: &Client, timeout: Duration) -> CloseReport {
  let (tx, rx) = mpsc::channel();
  client.close(
    timeout,
    Some(Box::new(move |r| {
      let _ = tx.send(r);
    })),
  );
  rx.recv_timeout(timeout + Duration::from_secs(10))
    .expect("close callback never ran")
}

/// Calls `flush` and waits (bounded) for its outcome; `on_done` runs inside the callback.
pub fn flush_and_wait<F: FnOnce() -> T + Send + 'static, T: Send + 'static>(
  client: &Client,
  timeout: Duration,
  on_done: F,
) -> (bool, T) {
  let (tx, rx) = mpsc::channel();
  client.flush(
    timeout,
    Box::new(move |outcome| {
      let _ = tx.send((outcome == fluent_forward::FlushOutcome::Delivered, on_done()));
    }),
  );
  rx.recv_timeout(timeout + Duration::from_secs(10))
    .expect("flush callback never ran")
}
