//! flush: answered once the server has everything, without acks, without a server, and racing a close.

use crate::common::*;
use fluent_forward::{Client, Config};
use std::time::{Duration, Instant};

#[test]
fn flush_completes_once_the_server_has_everything() {
  let server = Server::start();
  let log = EventLog::new();
  // Long flush interval: only the flush makes the last batch go out.
  let cfg = Config {
    require_ack: true,
    flush_interval: Duration::from_secs(30),
    ..fast_config(server.target())
  };
  let client = Client::start(cfg, log.sink()).unwrap();
  // Nothing buffered: done at once, and true.
  let (ok, _) = flush_and_wait(&client, Duration::from_secs(5), || ());
  assert!(ok);

  let tag = client.tag_id("flush").unwrap();
  for round in 0..3u64 {
    for i in 0..500u64 {
      assert!(client.push(tag, None, &record(round * 500 + i, 8)).unwrap());
    }
    let before = client.stats().emitted as usize;
    let started = Instant::now();
    let count = server.counter();
    let (ok, seen) = flush_and_wait(&client, Duration::from_secs(10), count);
    assert!(ok, "flush round {round} failed; events: {}", log.describe());
    assert!(
      seen >= before,
      "flush reported done with {seen} of {before} at the server"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
  }
  assert_eq!(close_and_wait(&client, Duration::from_secs(5)).sent, 1500);
}

#[test]
fn flush_without_acks_completes() {
  let server = Server::start();
  let log = EventLog::new();
  let cfg = Config {
    flush_interval: Duration::from_secs(30),
    ..fast_config(server.target())
  };
  let client = Client::start(cfg, log.sink()).unwrap();
  let tag = client.tag_id("flush").unwrap();
  for i in 0..500u64 {
    assert!(client.push(tag, None, &record(i, 8)).unwrap());
  }
  let (ok, _) = flush_and_wait(&client, Duration::from_secs(10), || ());
  assert!(ok, "events: {}", log.describe());
  assert_eq!(client.stats().sent, 500);
  // Written means the server gets it without any further push or timer.
  assert!(
    wait_until(LONG, || server.count() == 500),
    "server has {}",
    server.count()
  );
  close_and_wait(&client, Duration::from_secs(5));
}

#[test]
fn flush_without_server_times_out_false() {
  let log = EventLog::new();
  let client = Client::start(fast_config(tcp(refused_port())), log.sink()).unwrap();
  let tag = client.tag_id("flush").unwrap();
  for i in 0..10u64 {
    assert!(client.push(tag, None, &record(i, 0)).unwrap());
  }
  let started = Instant::now();
  let (ok, _) = flush_and_wait(&client, Duration::from_millis(200), || ());
  let took = started.elapsed();
  assert!(!ok);
  assert!(took >= Duration::from_millis(190), "gave up after {took:?}");
  assert!(took < Duration::from_secs(3), "took {took:?}");
  close_and_wait(&client, Duration::from_millis(100));
}

/// REVIEW-0.1 #3: a flush that races the writer's stop must still be answered. Before the fix the
/// writer drained the waiters, then set the close report under a second lock; a flush arriving in
/// between found no report, queued its waiter and was never called back.
#[test]
fn flushes_racing_a_close_are_all_answered() {
  use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
  use std::sync::Arc;
  for round in 0..20 {
    let log = EventLog::new();
    let client = Arc::new(Client::start(fast_config(tcp(refused_port())), log.sink()).unwrap());
    let tag = client.tag_id("race").unwrap();
    for i in 0..10 {
      assert!(client.push(tag, None, &record(i, 0)).unwrap());
    }
    let issued = Arc::new(AtomicUsize::new(0));
    let answered = Arc::new(AtomicUsize::new(0));
    let closed = Arc::new(AtomicBool::new(false));
    let flushers: Vec<_> = (0..3)
      .map(|_| {
        let (client, issued, answered, closed) =
          (client.clone(), issued.clone(), answered.clone(), closed.clone());
        std::thread::spawn(move || {
          let start = Instant::now();
          // Until the close has reported, and once more after it: bounded either way.
          loop {
            let last = closed.load(SeqCst) || start.elapsed() > Duration::from_secs(5);
            issued.fetch_add(1, SeqCst);
            let answered = answered.clone();
            client.flush(
              Duration::from_secs(60),
              Box::new(move |_| {
                answered.fetch_add(1, SeqCst);
              }),
            );
            if last {
              break;
            }
          }
        })
      })
      .collect();
    std::thread::sleep(Duration::from_millis(2));
    let c = closed.clone();
    client.close(Duration::ZERO, Some(Box::new(move |_| c.store(true, SeqCst))));
    for f in flushers {
      f.join().unwrap();
    }
    // The flush timeout is 60 s: only the close can have answered them within this bound.
    let all = wait_until(Duration::from_secs(5), || {
      answered.load(SeqCst) == issued.load(SeqCst)
    });
    assert!(
      all,
      "round {round}: {} of {} flushes answered",
      answered.load(SeqCst),
      issued.load(SeqCst)
    );
  }
}
