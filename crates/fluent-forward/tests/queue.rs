//! What `Client` does with what the JS side hands it: staged frames that fail their checks, and
//! what `flush` reports when `dropOldest` discards records during an outage.

mod common;

use common::*;
use fluent_forward::staging::{write_frame, Anchor, FrameTime, HEADER};
use fluent_forward::{Admission, Client, Event, EventTime, FlushOutcome, Overflow};
use std::sync::mpsc;
use std::time::Duration;

fn at() -> FrameTime {
  FrameTime::At(EventTime::new(1_700_000_000, 0).unwrap())
}

/// The `Error::Internal` reports: (records, message).
fn internal_errors(log: &EventLog) -> Vec<(u64, String)> {
  log.with(|es| {
    es.iter()
      .filter_map(|e| match e {
        Event::Error {
          error: fluent_forward::Error::Internal(m),
          records,
          ..
        } => Some((*records, m.clone())),
        _ => None,
      })
      .collect()
  })
}

#[test]
fn bad_staged_frames_are_dropped_counted_and_reported_once() {
  let log = EventLog::new();
  let client = Client::start(fast_config(tcp(refused_port())), log.sink()).unwrap();
  let tag = client.tag_id("staged").unwrap();
  let good = record(1, 10);
  let mut block = Vec::new();
  write_frame(&mut block, tag, at(), &good);
  write_frame(&mut block, tag, at(), &[0x92, 0x01, 0x02]); // an array, not a map
  write_frame(&mut block, tag, at(), &good);
  write_frame(&mut block, 999, at(), &good); // a tag id nobody asked for
  write_frame(&mut block, tag, at(), &good);
  let pushed = client.push_staged(&block, Anchor::now(0.0)).unwrap();
  assert_eq!(pushed.last, Some(Admission::Accepted));
  assert_eq!(
    pushed.refused, 2,
    "the block's own count of what it could not queue"
  );
  let s = client.stats();
  assert_eq!((s.emitted, s.dropped), (3, 2));
  assert_eq!(pushed.queued_bytes, s.queued_bytes);
  let errs = internal_errors(&log);
  assert_eq!(errs.len(), 1, "{errs:?}");
  assert_eq!(errs[0].0, 2);
  assert!(errs[0].1.contains("staged frame 1 "), "{}", errs[0].1);
  assert!(errs[0].1.contains("1 more"), "{}", errs[0].1);

  // A bad last frame is what `emit` must report.
  let mut block = Vec::new();
  write_frame(&mut block, tag, at(), &good);
  write_frame(&mut block, tag, at(), &[0xc0]);
  let pushed = client.push_staged(&block, Anchor::now(0.0)).unwrap();
  assert_eq!(pushed.last, Some(Admission::Dropped));
  assert_eq!((client.stats().emitted, client.stats().dropped), (4, 3));

  // A frame that runs past the block ends the walk: what it held is lost, counted and reported.
  let mut block = Vec::new();
  write_frame(&mut block, tag, at(), &good);
  write_frame(&mut block, tag, at(), &good);
  let cut = block.len() + HEADER + 2;
  write_frame(&mut block, tag, at(), &good);
  block.truncate(cut);
  let pushed = client.push_staged(&block, Anchor::now(0.0)).unwrap();
  assert_eq!(pushed.last, Some(Admission::Dropped));
  assert_eq!(pushed.refused, 1);
  assert_eq!((client.stats().emitted, client.stats().dropped), (6, 4));
  let errs = internal_errors(&log);
  assert_eq!(errs.len(), 3, "{errs:?}");
  assert!(
    errs[2].1.contains("staged frame 2 ") && errs[2].1.contains("rest of the block"),
    "{}",
    errs[2].1
  );

  // Debug builds walk the whole record: a map cut short inside its first value is caught too.
  if cfg!(debug_assertions) {
    let mut block = Vec::new();
    write_frame(&mut block, tag, at(), &[0x81, 0xa1, b'a']);
    let pushed = client.push_staged(&block, Anchor::now(0.0)).unwrap();
    assert_eq!(pushed.last, Some(Admission::Dropped));
    assert_eq!(client.stats().dropped, 5);
    assert!(internal_errors(&log)[3].1.contains("truncated"));
  }
  close_and_wait(&client, Duration::from_millis(200));
}

/// A block handed over after the close (a Worker's env teardown finding records JS staged but never
/// handed over, after the main thread's exit closed the client): nothing is queued, and the answer
/// says how many, since no JS is left to hear the event.
#[test]
fn a_block_after_the_close_counts_every_frame_refused() {
  let client = Client::start(fast_config(tcp(refused_port())), EventLog::new().sink()).unwrap();
  let tag = client.tag_id("late").unwrap();
  let mut block = Vec::new();
  write_frame(&mut block, tag, at(), &record(1, 10));
  assert_eq!(client.push_staged(&block, Anchor::now(0.0)).unwrap().refused, 0);
  close_and_wait(&client, Duration::from_millis(200));
  let mut block = Vec::new();
  for i in 0..3 {
    write_frame(&mut block, tag, at(), &record(i, 10));
  }
  let pushed = client.push_staged(&block, Anchor::now(0.0)).unwrap();
  assert_eq!((pushed.last, pushed.refused), (Some(Admission::Closed), 3));
}

/// REVIEW #11: with nothing listening, `dropOldest` discards the records a flush waits for. That
/// flush settles, but as `Lost`, never as `Delivered`.
#[test]
fn flush_under_drop_oldest_during_an_outage_is_not_delivered() {
  let mut config = fast_config(tcp(refused_port()));
  config.max_buffer_bytes = 32 << 10;
  config.max_record_bytes = 1 << 10;
  config.batch_bytes = 4 << 10;
  config.overflow = Overflow::DropOldest;
  let client = Client::start(config, EventLog::new().sink()).unwrap();
  let tag = client.tag_id("outage").unwrap();
  for i in 0..200 {
    assert!(client.push(tag, None, &record(i, 100)).unwrap());
  }
  let (tx, rx) = mpsc::channel();
  client.flush(
    Duration::from_secs(5),
    Box::new(move |outcome| {
      let _ = tx.send(outcome);
    }),
  );
  // Enough newer records to push every older one out of the cap.
  for i in 200..1000 {
    client.push(tag, None, &record(i, 100)).unwrap();
  }
  assert!(client.stats().dropped >= 200);
  let outcome = rx
    .recv_timeout(Duration::from_secs(15))
    .expect("flush never answered");
  assert!(
    matches!(outcome, FlushOutcome::Lost(n) if n >= 200) || outcome == FlushOutcome::TimedOut,
    "{outcome:?}"
  );
  close_and_wait(&client, Duration::from_millis(200));
}

/// The writer's last check (`vet`): an entry whose record is not one valid map never reaches the
/// wire; the records around it in the same batch do, and the bad one is counted and reported.
#[test]
fn an_invalid_record_in_a_batch_is_dropped_before_sending_and_the_rest_delivered() {
  use common::{
    close_and_wait, count_errors, fast_config, record, record_n, wait_until, EventLog, Server, LONG,
  };
  let server = Server::start();
  let log = EventLog::new();
  let client = Client::start(fast_config(server.target()), log.sink()).unwrap();
  let tag = client.tag_id("vet").unwrap();
  // `push` trusts its caller (the JS encoder's output), so a broken record gets this far.
  for n in 0..10 {
    assert!(client.push(tag, None, &record(n, 0)).unwrap());
  }
  assert!(
    client.push(tag, None, &[0x82, 0xa1, b'a', 0x01]).unwrap(),
    "a map that claims two pairs and holds one"
  );
  for n in 10..20 {
    assert!(client.push(tag, None, &record(n, 0)).unwrap());
  }
  assert!(
    wait_until(LONG, || server.count() >= 20),
    "server got {}",
    server.count()
  );
  let report = close_and_wait(&client, Duration::from_secs(5));
  assert_eq!((report.sent, report.dropped), (20, 1));
  server.with(|s| {
    let ids: Vec<u64> = s.received.iter().filter_map(|r| record_n(&r.record)).collect();
    assert_eq!(ids, (0..20).collect::<Vec<_>>());
  });
  assert!(server.violations().is_empty(), "{:?}", server.violations());
  log.with(|es| assert_eq!(count_errors(es, "INTERNAL"), 1, "{es:?}"));
}
