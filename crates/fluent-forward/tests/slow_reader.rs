//! REVIEW-0.1 #6: the write timeout means "no progress", not "the whole batch". A server that
//! reads at 20 KB/s must receive every record of 1.5 MB of batches sent with the default config
//! (512 KiB batches, 10 s write timeout). Each batch takes ~26 s to drain, so a timeout on the whole
//! write cut every batch off and resent it from the start, forever. Three batches are enough to show
//! it (the first one already failed on 0.1); takes about 80 s.

mod common;

use common::*;
use fluent_forward::{Client, Config};
use socket2::{Domain, Socket, Type};
use std::collections::BTreeSet;
use std::io::Read;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const RECORDS: u64 = 1_500;
const PAD: usize = 1_000;
const READ_CHUNK: usize = 2_048;
const READ_EVERY: Duration = Duration::from_millis(100);

#[test]
fn slow_reader_receives_every_record_with_default_config() {
  let sock = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
  // Set before listen: accepted sockets inherit it, so the receive window stays small and the
  // client's writes really are paced by our reads.
  sock.set_recv_buffer_size(4096).unwrap();
  // An Ethernet-sized MSS, as on a real link. Loopback's 64 KiB MSS makes the client's initial send
  // buffer ~1.3 MB, which would hide the bug: the kernel alone could absorb whole batches, and the
  // old whole-write timeout then "delivered" over a string of reconnects.
  sock.set_tcp_mss(1400).unwrap();
  let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
  sock.bind(&addr.into()).unwrap();
  sock.listen(8).unwrap();
  let listener: std::net::TcpListener = sock.into();
  listener.set_nonblocking(true).unwrap();
  let port = listener.local_addr().unwrap().port();

  let stop = Arc::new(AtomicBool::new(false));
  let got: Arc<Mutex<Vec<u64>>> = Arc::default();
  let problems: Arc<Mutex<Vec<String>>> = Arc::default();
  let connections = Arc::new(Mutex::new(0usize));
  let server = {
    let (stop, got, problems, connections) =
      (stop.clone(), got.clone(), problems.clone(), connections.clone());
    std::thread::spawn(move || {
      let mut conns = Vec::new();
      while !stop.load(SeqCst) {
        match listener.accept() {
          Ok((s, _)) => {
            *connections.lock().unwrap() += 1;
            let (stop, got, problems) = (stop.clone(), got.clone(), problems.clone());
            conns.push(std::thread::spawn(move || slow_read(s, stop, got, problems)));
          }
          Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
      }
      for c in conns {
        let _ = c.join();
      }
    })
  };

  let log = EventLog::new();
  let cfg = Config {
    target: tcp(port),
    ..Config::default()
  };
  let client = Client::start(cfg, log.sink()).unwrap();
  let tag = client.tag_id("slow").unwrap();
  for i in 0..RECORDS {
    assert!(client.push(tag, None, &record(i, PAD)).unwrap());
  }
  let start = Instant::now();
  // 1.5 MB at 20 KB/s is ~77 s; well over twice that is a failure, not a slow machine.
  let mut last_print = Instant::now();
  let all = wait_until(Duration::from_secs(200), || {
    if std::env::var_os("SLOW_READER_TRACE").is_some() && last_print.elapsed() > Duration::from_secs(5) {
      last_print = Instant::now();
      eprintln!(
        "{:?}: {} records, {} conns, {:?}, events {}",
        start.elapsed(),
        got.lock().unwrap().len(),
        connections.lock().unwrap(),
        client.stats(),
        log.describe()
      );
    }
    got.lock().unwrap().len() as u64 >= RECORDS || !problems.lock().unwrap().is_empty()
  });
  let elapsed = start.elapsed();
  let report = close_and_wait(&client, Duration::from_secs(2));
  stop.store(true, SeqCst);
  server.join().unwrap();

  assert!(
    problems.lock().unwrap().is_empty(),
    "{:?}",
    problems.lock().unwrap()
  );
  let got = got.lock().unwrap();
  let ids: BTreeSet<u64> = got.iter().copied().collect();
  assert!(
    all,
    "after {elapsed:?} the server had {} of {RECORDS} records over {} connection(s); events: {}",
    got.len(),
    connections.lock().unwrap(),
    log.describe()
  );
  assert_eq!(got.len() as u64, RECORDS, "each record once");
  assert_eq!(ids, (0..RECORDS).collect::<BTreeSet<_>>());
  assert_eq!(
    *connections.lock().unwrap(),
    1,
    "no reconnect: {}",
    log.describe()
  );
  assert_eq!(report.sent, RECORDS);
  log.with(|es| {
    assert_eq!(count_disconnects(es, "TIMEOUT"), 0, "{es:?}");
  });
}

/// Reads 2 KB every 100 ms (20 KB/s) and decodes complete requests as they arrive.
fn slow_read(
  mut s: std::net::TcpStream,
  stop: Arc<AtomicBool>,
  got: Arc<Mutex<Vec<u64>>>,
  problems: Arc<Mutex<Vec<String>>>,
) {
  s.set_nonblocking(false).unwrap();
  s.set_read_timeout(Some(READ_EVERY)).unwrap();
  let mut buf = Vec::new();
  let mut tmp = [0u8; READ_CHUNK];
  let mut since_decode = 0;
  while !stop.load(SeqCst) {
    let t = Instant::now();
    let idle = match s.read(&mut tmp) {
      Ok(0) => break,
      Ok(n) => {
        buf.extend_from_slice(&tmp[..n]);
        since_decode += n;
        false
      }
      Err(e)
        if matches!(
          e.kind(),
          std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ) =>
      {
        true
      }
      Err(_) => break,
    };
    // Decoding scans the partial request again each time, so only every 64 KiB, while the buffer is
    // small, or once nothing more is arriving.
    if since_decode > 0 && (since_decode >= 64 << 10 || buf.len() < 64 << 10 || idle) {
      since_decode = 0;
      match drain_requests(&mut buf) {
        Ok(events) => got
          .lock()
          .unwrap()
          .extend(events.iter().filter_map(|e| record_n(&e.record))),
        Err(e) => problems.lock().unwrap().push(e),
      }
    }
    if let Some(rest) = READ_EVERY.checked_sub(t.elapsed()) {
      std::thread::sleep(rest);
    }
  }
  if let Ok(events) = drain_requests(&mut buf) {
    got
      .lock()
      .unwrap()
      .extend(events.iter().filter_map(|e| record_n(&e.record)));
  }
}
