//! The byte cap and what the queue allocates around it, checked on `Queue` itself, with a writer
//! thread taking and settling batches while a producer pushes.

mod common;

use common::*;
use fluent_forward::codec::event_time::TimeFormat;
use fluent_forward::queue::{Limits, Pushed, Queue, INDEX_BYTES};
use fluent_forward::{Client, EventTime, Overflow};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn limits(max_bytes: usize, batch_bytes: usize, overflow: Overflow) -> Limits {
  Limits {
    max_bytes,
    batch_bytes,
    overflow,
    time_format: TimeFormat::EventTime,
  }
}

fn t0() -> EventTime {
  EventTime::new(1_700_000_000, 0).unwrap()
}

/// REVIEW #15: 10,000 tags under a 1 MiB cap. Admission is exactly "footprints <= cap", and what is
/// allocated stays within the cap plus two batches (a reservation per tag used to allocate
/// 10,000 x min(batchBytes, 64 KiB), whatever the cap).
#[test]
fn ten_thousand_tags_reserve_no_more_than_their_records() {
  let rec = record(1, 40);
  let footprint = 1 + 10 + rec.len() + INDEX_BYTES;
  for batch in [16 << 10, 512 << 10] {
    let lim = limits(1 << 20, batch, Overflow::DropNewest);
    let mut q = Queue::new(&lim);
    let ids: Vec<u32> = (0..10_000)
      .map(|i| q.tag_id(&format!("tag.{i}")).unwrap())
      .collect();
    let mut accepted = 0usize;
    // Doubling growth: at most twice what is buffered, plus two batches; so what is reserved beyond
    // the records is never more than the records (and the cap) themselves.
    let bound = |q: &Queue| 2 * q.bytes + 2 * lim.batch_bytes;
    for i in 0.. {
      match q.push(ids[i % ids.len()], t0(), &rec, &lim) {
        Pushed::Accepted { .. } => accepted += 1,
        Pushed::Dropped => break,
        other => panic!("{other:?}"),
      }
      if i % 997 == 0 {
        assert!(
          q.allocated_bytes() <= bound(&q),
          "batch {batch}: {} after {i}",
          q.allocated_bytes()
        );
      }
    }
    // The JS side predicts this from the footprints alone.
    assert_eq!(accepted, lim.max_bytes / footprint, "batch {batch}");
    assert_eq!(q.bytes, accepted * footprint);
    let allocated = q.allocated_bytes();
    assert!(
      allocated <= bound(&q),
      "batch {batch}: {allocated} > {}",
      bound(&q)
    );
    assert!(
      allocated - q.bytes <= lim.max_bytes,
      "batch {batch}: reserved {} beyond the records",
      allocated - q.bytes
    );
    eprintln!(
      "batch {batch}: {accepted} records, {} B buffered, {allocated} B allocated",
      q.bytes
    );
  }
}

/// REVIEW #10: a producer pushing while a writer takes and settles batches never finds more than
/// `max_bytes` buffered, counting what the writer holds. Both read the counts under the same lock.
#[test]
fn producer_and_writer_never_pass_the_cap() {
  let lim = Arc::new(limits(64 << 10, 4 << 10, Overflow::DropOldest));
  let q = Arc::new(Mutex::new(Queue::new(&lim)));
  let tags: Vec<u32> = {
    let mut q = q.lock().unwrap();
    (0..8).map(|i| q.tag_id(&format!("t{i}")).unwrap()).collect()
  };
  let stop = Arc::new(AtomicBool::new(false));
  let writer = {
    let (q, lim, stop) = (q.clone(), lim.clone(), stop.clone());
    std::thread::spawn(move || {
      let mut taken = 0u64;
      let end = Instant::now() + Duration::from_secs(20);
      while !stop.load(SeqCst) && Instant::now() < end {
        let chunk = {
          let mut q = q.lock().unwrap();
          q.seal_older_than(Instant::now(), Duration::from_micros(200));
          q.take()
        };
        let Some(chunk) = chunk else {
          std::thread::yield_now();
          continue;
        };
        taken += 1;
        // "Sending": the batch is held, outside the lock, while the producer goes on.
        std::thread::sleep(Duration::from_micros(50));
        let mut q = q.lock().unwrap();
        assert!(q.bytes + q.held_bytes <= lim.max_bytes);
        q.release(&chunk);
        q.recycle(chunk, usize::MAX);
      }
      taken
    })
  };
  let mut worst = 0;
  for i in 0..200_000u64 {
    let rec = record(i, (i % 300) as usize);
    let mut q = q.lock().unwrap();
    let _ = q.push(tags[(i % 8) as usize], t0(), &rec, &lim);
    let used = q.bytes + q.held_bytes;
    assert!(used <= lim.max_bytes, "push {i}: {used} > {}", lim.max_bytes);
    let allocated = q.allocated_bytes();
    // Growth keeps the batches within twice what is buffered at that moment; batches leaving can
    // shift that, but never past twice the cap.
    assert!(
      allocated <= 2 * lim.max_bytes + lim.slack(),
      "push {i}: {allocated} allocated, {} buffered, {} held",
      q.bytes,
      q.held_bytes
    );
    worst = worst.max(used);
  }
  stop.store(true, SeqCst);
  let taken = writer.join().unwrap();
  assert!(taken > 10, "the writer took {taken} batches");
  assert!(worst > lim.max_bytes / 2, "the cap was never approached: {worst}");
  let q = q.lock().unwrap();
  assert_eq!((q.held_bytes, q.held_records), (0, 0));
}

/// The same through `Client` and its writer, with a server that reads slowly: `stats()` never shows
/// more buffered than the cap while the writer moves batches out.
#[test]
fn client_stats_never_pass_the_cap() {
  let server = Server::start();
  let mut config = fast_config(server.target());
  config.max_buffer_bytes = 256 << 10;
  config.batch_bytes = 16 << 10;
  config.max_record_bytes = 4 << 10;
  config.overflow = Overflow::DropOldest;
  let client = Client::start(config, EventLog::new().sink()).unwrap();
  let tag = client.tag_id("cap").unwrap();
  for i in 0..50_000u64 {
    client.push(tag, None, &record(i, 100)).unwrap();
    let s = client.stats();
    assert!(s.queued_bytes <= 256 << 10, "push {i}: {}", s.queued_bytes);
  }
  close_and_wait(&client, Duration::from_secs(5));
}
