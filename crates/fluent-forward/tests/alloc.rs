//! No per-record allocation in steady state: counts heap allocations while 200,000 records flow
//! through push -> queue -> writer -> socket, against a loopback sink that discards what it reads.

use fluent_forward::staging::{write_frame, Anchor, FrameTime};
use fluent_forward::{Client, Config, Target};
use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

struct Counting;
static ALLOCS: AtomicU64 = AtomicU64::new(0);

// SAFETY: delegates to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
  unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
    ALLOCS.fetch_add(1, Ordering::Relaxed);
    unsafe { System.alloc(layout) }
  }
  unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
    unsafe { System.dealloc(ptr, layout) }
  }
  unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
    ALLOCS.fetch_add(1, Ordering::Relaxed);
    unsafe { System.realloc(ptr, layout, new_size) }
  }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// A staged block of `n` small records (see `staging`), as the JS side writes it.
fn staged_block(tag: u32, n: usize) -> Vec<u8> {
  let rec: &[u8] = b"\x85\xa5level\xa4info\xa3msg\xabhello world\xa1n\x01\xa4user\xa4u123\xa2ok\xc3";
  let mut block = Vec::new();
  for _ in 0..n {
    write_frame(&mut block, tag, FrameTime::StampMs(1.0), rec);
  }
  block
}

#[test]
fn steady_state_allocates_per_batch_at_most_not_per_record() {
  let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
  let port = listener.local_addr().unwrap().port();
  let sink = std::thread::spawn(move || {
    let (mut s, _) = listener.accept().unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0usize;
    while let Ok(n) = s.read(&mut buf) {
      if n == 0 {
        break;
      }
      total += n;
    }
    total
  });
  let config = Config {
    target: Target::Tcp {
      host: "127.0.0.1".into(),
      port,
    },
    batch_bytes: 64 << 10,
    ..Config::default()
  };
  let client = Client::start(config, Arc::new(|_| true)).unwrap();
  let tag = client.tag_id("alloc.test").unwrap();
  let block = staged_block(tag, 1000);
  let flush = |client: &Client| {
    let (tx, rx) = mpsc::channel();
    client.flush(Duration::from_secs(10), Box::new(move |ok| tx.send(ok).unwrap()));
    assert_eq!(
      rx.recv_timeout(Duration::from_secs(15)).unwrap(),
      fluent_forward::FlushOutcome::Delivered
    );
  };
  // Warm-up: buffers and the batch pool reach their working size.
  for _ in 0..50 {
    client.push_staged(&block, Anchor::now(1.0)).unwrap();
  }
  flush(&client);
  let before = ALLOCS.load(Ordering::Relaxed);
  let blocks = 200;
  for _ in 0..blocks {
    client.push_staged(&block, Anchor::now(1.0)).unwrap();
  }
  flush(&client);
  let allocs = ALLOCS.load(Ordering::Relaxed) - before;
  let records = (blocks * 1000) as u64;
  let batches = client.stats().batches_sent;
  eprintln!("{allocs} allocations for {records} records in {batches} batches");
  // Each flush allocates its waiter box and the writer's bookkeeping; that is per call, not per record.
  assert!(
    allocs < records / 100,
    "{allocs} allocations for {records} records in {batches} batches"
  );
  assert!(
    allocs <= 10 * batches + 100,
    "{allocs} allocations for {batches} batches"
  );
  let (tx, rx) = mpsc::channel();
  client.close(
    Duration::from_secs(5),
    Some(Box::new(move |r| tx.send(r).unwrap())),
  );
  let report = rx.recv_timeout(Duration::from_secs(10)).unwrap();
  assert_eq!(report.sent, records + 50_000);
  drop(client);
  assert!(sink.join().unwrap() > 0);
}
