//! Retry limits (REVIEW-0.1 #7): a batch the server refuses on every attempt is split until the bad
//! record is alone, that record is rejected and reported, and every other record is delivered. A
//! server that drops every connection is an outage: nothing is rejected. Every reconnect the server
//! causes is reported, rate-limited. Each test runs its own scripted server on 127.0.0.1:0, and every
//! wait is bounded.

mod common;
mod spool_util;

use common::*;
use fluent_forward::{Client, Config, Event, Stats};
use rmpv::Value;
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const MARK: &str = "POISON-7f3a";
const POISON_N: u64 = 1_000_000;
const TAG: &str = "retry.test";

/// What the server does with a request that carries the marker.
#[derive(Clone, Copy, PartialEq)]
enum OnPoison {
  /// Closes the connection at once (as fluentd does when its unpacker raises).
  Drop,
  /// Leaves it unacknowledged and carries on acking the rest.
  NeverAck,
  /// Accepts no request at all: every connection is closed as soon as it is accepted.
  CloseAtAccept,
  /// Answers every first request of a connection with garbage.
  Garbage,
}

struct Poisoned {
  port: u16,
  ids: Arc<Mutex<Vec<u64>>>,
  connections: Arc<AtomicUsize>,
  stop: Arc<AtomicBool>,
  accept: Option<JoinHandle<()>>,
}

impl Poisoned {
  fn start(mode: OnPoison) -> Self {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let ids: Arc<Mutex<Vec<u64>>> = Arc::default();
    let connections = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (i, c, s) = (ids.clone(), connections.clone(), stop.clone());
    let accept = std::thread::spawn(move || {
      let mut conns = Vec::new();
      while !s.load(SeqCst) {
        match listener.accept() {
          Ok((stream, _)) => {
            c.fetch_add(1, SeqCst);
            if mode == OnPoison::CloseAtAccept {
              drop(stream);
              continue;
            }
            let (i, s) = (i.clone(), s.clone());
            conns.push(std::thread::spawn(move || serve(stream, mode, i, s)));
          }
          Err(_) => std::thread::sleep(Duration::from_millis(2)),
        }
      }
      for h in conns {
        let _ = h.join();
      }
    });
    Self {
      port,
      ids,
      connections,
      stop,
      accept: Some(accept),
    }
  }

  fn ids(&self) -> BTreeSet<u64> {
    self.ids.lock().unwrap().iter().copied().collect()
  }
}

impl Drop for Poisoned {
  fn drop(&mut self) {
    self.stop.store(true, SeqCst);
    if let Some(h) = self.accept.take() {
      let _ = h.join();
    }
  }
}

fn serve(mut s: TcpStream, mode: OnPoison, ids: Arc<Mutex<Vec<u64>>>, stop: Arc<AtomicBool>) {
  s.set_nonblocking(false).unwrap();
  s.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
  let mut buf = Vec::new();
  let mut tmp = vec![0u8; 64 << 10];
  let mut first = true;
  while !stop.load(SeqCst) {
    match s.read(&mut tmp) {
      Ok(0) => return,
      Ok(n) => buf.extend_from_slice(&tmp[..n]),
      Err(e)
        if matches!(
          e.kind(),
          std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ) =>
      {
        continue
      }
      Err(_) => return,
    }
    let requests = match split_requests(&mut buf) {
      Ok(r) => r,
      Err(e) => panic!("bad request: {e}"),
    };
    for (raw, chunk, events) in requests {
      if mode == OnPoison::Garbage && first {
        let _ = s.write_all(b"\xc1\xc1");
        first = false;
        continue;
      }
      let poisoned = raw.windows(MARK.len()).any(|w| w == MARK.as_bytes());
      if poisoned && mode == OnPoison::Drop {
        return;
      }
      if poisoned {
        continue;
      }
      ids
        .lock()
        .unwrap()
        .extend(events.iter().filter_map(|e| record_n(&e.record)));
      if let Some(id) = chunk {
        if s.write_all(&ack_for(&id)).is_err() {
          return;
        }
      }
    }
  }
}

fn poison() -> Vec<u8> {
  let map = Value::Map(vec![
    (Value::from("n"), Value::from(POISON_N)),
    (Value::from("bad"), Value::from(MARK)),
  ]);
  let mut out = Vec::new();
  rmpv::encode::write_value(&mut out, &map).unwrap();
  out
}

fn ack_config(port: u16) -> Config {
  Config {
    require_ack: true,
    // ~35 records of 55 bytes per batch: the poison batch shares its batch with good records.
    batch_bytes: 2048,
    ..fast_config(tcp(port))
  }
}

/// Good records 0..100, the poison, 100..200 (same and next batches), then 200..300 later on.
fn push_with_poison(client: &Client) -> BTreeSet<u64> {
  let tag = client.tag_id(TAG).unwrap();
  for i in 0..100 {
    assert!(client.push(tag, None, &record(i, 40)).unwrap());
  }
  assert!(client.push(tag, None, &poison()).unwrap());
  for i in 100..200 {
    assert!(client.push(tag, None, &record(i, 40)).unwrap());
  }
  std::thread::sleep(Duration::from_millis(100));
  for i in 200..300 {
    assert!(client.push(tag, None, &record(i, 40)).unwrap());
  }
  (0..300).collect()
}

fn rejected_events(es: &[Event]) -> Vec<(u64, u64, Option<String>)> {
  es.iter()
    .filter_map(|e| match e {
      Event::Error {
        error: fluent_forward::Error::Rejected { records: n },
        records,
        tag,
      } => Some((*n, *records, tag.as_deref().map(str::to_string))),
      _ => None,
    })
    .collect()
}

/// Drives a poison scenario to the end and checks what the issue promises.
fn isolates_the_poison(mode: OnPoison) -> (Stats, Arc<EventLog>) {
  isolates_the_poison_with(mode, None)
}

/// With `spool`, through the durable spool in that directory.
fn isolates_the_poison_with(mode: OnPoison, spool: Option<&std::path::Path>) -> (Stats, Arc<EventLog>) {
  let server = Poisoned::start(mode);
  let log = EventLog::new();
  let cfg = Config {
    spool: spool.map(|dir| fluent_forward::SpoolConfig {
      sync_interval: None,
      ..fluent_forward::SpoolConfig::new(dir)
    }),
    ..ack_config(server.port)
  };
  let client = Client::start(cfg, log.sink()).unwrap();
  let good = push_with_poison(&client);
  let done = wait_until(Duration::from_secs(40), || {
    server.ids().is_superset(&good) && client.stats().rejected > 0 && client.stats().queued_records == 0
  });
  let stats = client.stats();
  let report = close_and_wait(&client, Duration::from_secs(2));
  assert!(
    done,
    "delivered {} of {}, {stats:?}; events: {}",
    server.ids().intersection(&good).count(),
    good.len(),
    log.describe()
  );
  assert!(
    !server.ids().contains(&POISON_N),
    "the poison record was never accepted"
  );
  assert_eq!(stats.rejected, 1, "{stats:?}");
  // Splitting and rejecting kept the held-bytes accounting exact: nothing is left counted.
  assert_eq!((stats.queued_bytes, stats.queued_records), (0, 0), "{stats:?}");
  assert_eq!(report.rejected, 1);
  assert_eq!(report.pending, 0);
  log.with(|es| {
    assert_eq!(
      rejected_events(es),
      vec![(1, 1, Some(TAG.to_string()))],
      "exactly one rejection, with tag and count"
    )
  });
  // 5 attempts, ~6 halvings of a ~35-record batch, one rejection, plus slack for the batches that
  // shared a connection with the poison: bounded, not a loop.
  let connections = server.connections.load(SeqCst);
  assert!(connections <= 40, "{connections} connections");
  (stats, log)
}

#[test]
fn dropped_connection_isolates_and_rejects_only_the_poison_record() {
  let (stats, log) = isolates_the_poison(OnPoison::Drop);
  assert!(stats.retries >= 5, "{stats:?}");
  log.with(|es| assert!(count_errors(es, "IO") >= 1, "reconnects are reported: {es:?}"));
}

/// Through a spool, every batch leaves the disk when it leaves the writer: acked, split (the
/// halves are stored as batches of their own, the whole settled) and rejected. Nothing is left
/// for a later process to send again.
#[test]
fn a_spooled_poison_scenario_settles_every_batch_it_stored() {
  let dir = spool_util::TempDir::new("poison");
  let (stats, _) = isolates_the_poison_with(OnPoison::Drop, Some(dir.path()));
  let spool = stats.spool.expect("spool figures");
  assert!(spool.appended >= 300, "{spool:?}");
  assert!(!spool.memory_only, "{spool:?}");
  let (_, left) =
    fluent_forward::spool::Spool::open(fluent_forward::spool::SpoolOptions::new(dir.path(), 1 << 30))
      .unwrap();
  assert_eq!((left.files, left.bytes), (0, 0), "nothing left on disk: {left:?}");
}

#[test]
fn ack_timeout_isolates_and_rejects_only_the_poison_record() {
  let (_, log) = isolates_the_poison(OnPoison::NeverAck);
  log.with(|es| {
    assert!(count_disconnects(es, "TIMEOUT") >= 5, "{es:?}");
  });
}

#[test]
fn server_that_drops_every_connection_rejects_nothing() {
  let server = Poisoned::start(OnPoison::CloseAtAccept);
  let log = EventLog::new();
  let client = Client::start(ack_config(server.port), log.sink()).unwrap();
  let tag = client.tag_id(TAG).unwrap();
  for i in 0..50 {
    assert!(client.push(tag, None, &record(i, 40)).unwrap());
  }
  let start = Instant::now();
  std::thread::sleep(Duration::from_secs(4));
  let stats = client.stats();
  let elapsed = start.elapsed();
  let report = close_and_wait(&client, Duration::from_millis(200));
  assert!(server.connections.load(SeqCst) >= 5, "it kept trying");
  assert_eq!(stats.rejected, 0, "an outage is not a rejection: {stats:?}");
  assert_eq!(stats.queued_records, 50, "records stay buffered: {stats:?}");
  assert_eq!((report.rejected, report.pending), (0, 50));
  log.with(|es| {
    assert!(rejected_events(es).is_empty(), "{es:?}");
    // A drop right after the first request of a server that never took one is reported as the
    // TLS input it looks like (src/probation.rs).
    let reports = count_errors(es, "IO") + count_errors(es, "TIMEOUT") + count_errors(es, "TLS_PROTOCOL");
    assert!(reports >= 1, "the reconnects were reported: {es:?}");
    assert!(
      reports as u64 <= elapsed.as_secs() + 1,
      "{reports} reports in {elapsed:?}: not rate-limited"
    );
  });
}

#[test]
fn reconnect_reports_are_rate_limited_and_count_the_rest() {
  let server = Poisoned::start(OnPoison::Garbage);
  let log = EventLog::new();
  // Every connection fails before settling anything, which would open the circuit breaker after
  // 5; this test is about the report rate limit while reconnecting, so the breaker stays out.
  let config = Config {
    breaker: fluent_forward::Breaker {
      failure_threshold: 1000,
      ..Default::default()
    },
    ..ack_config(server.port)
  };
  let client = Client::start(config, log.sink()).unwrap();
  let tag = client.tag_id(TAG).unwrap();
  let start = Instant::now();
  let mut i = 0;
  // Steady traffic, so every connection gets a request and its garbage answer.
  while start.elapsed() < Duration::from_millis(2500) {
    assert!(client.push(tag, None, &record(i, 40)).unwrap());
    i += 1;
    std::thread::sleep(Duration::from_millis(5));
  }
  let elapsed = start.elapsed();
  let _ = close_and_wait(&client, Duration::from_millis(200));
  log.with(|es| {
    let disconnects = count_disconnects(es, "ACK_MISMATCH");
    let reports: Vec<String> = es
      .iter()
      .filter_map(|e| match e {
        Event::Error { error, .. } if error.code() == "ACK_MISMATCH" => Some(error.to_string()),
        _ => None,
      })
      .collect();
    assert!(disconnects >= 5, "{disconnects} disconnects: {es:?}");
    assert!(!reports.is_empty());
    assert!(
      reports.len() as u64 <= elapsed.as_secs() + 1,
      "{} reports in {elapsed:?}",
      reports.len()
    );
    assert!(
      reports.iter().any(|r| r.contains("more server-caused reconnect")),
      "suppressed reconnects are counted into a later report: {reports:?}"
    );
  });
}

#[test]
fn retries_count_a_failed_write() {
  // The first connection never reads, so an 8 MB batch stalls and the write times out; the second
  // takes everything. No acks: the resend after the write failure is the only retry.
  let server = Server::scripted(first_then_normal(Behavior::NeverRead));
  let log = EventLog::new();
  let cfg = Config {
    batch_bytes: 16 << 20,
    max_buffer_bytes: 64 << 20,
    flush_interval: Duration::from_millis(50),
    ..fast_config(server.target())
  };
  let client = Client::start(cfg, log.sink()).unwrap();
  let tag = client.tag_id(TAG).unwrap();
  for i in 0..128 {
    assert!(client.push(tag, None, &record(i, 64 << 10)).unwrap());
  }
  let (ok, _) = flush_and_wait(&client, Duration::from_secs(20), || ());
  let delivered = wait_until(LONG, || server.count() >= 128);
  let stats = client.stats();
  let _ = close_and_wait(&client, Duration::from_secs(2));
  assert!(ok && delivered, "events: {}", log.describe());
  // Our idle timer (TIMEOUT) or the kernel's TCP_USER_TIMEOUT on the zero window (IO), whichever
  // fires first: both are write failures.
  log.with(|es| {
    let failed = count_disconnects(es, "TIMEOUT") + count_disconnects(es, "IO");
    assert!(failed >= 1, "{es:?}")
  });
  assert!(
    stats.retries >= 1,
    "a resend after a write failure is a retry: {stats:?}"
  );
  assert_eq!(server.count(), 128);
}
