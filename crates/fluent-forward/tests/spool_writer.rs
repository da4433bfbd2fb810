//! The durable spool wired into the client (`spool` option): the seams between the writer and the
//! storage engine, against scripted fake servers. What each test breaks is in its comment.

mod common;
mod spool_util;

use common::*;
use fluent_forward::spool::{Spool, SpoolOptions};
use fluent_forward::{Client, CloseReport, Config, SpoolConfig, Stats, Target};
use spool_util::TempDir;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

const TAGS: [&str; 2] = ["spool.a", "spool.b"];

fn spool_at(dir: &Path) -> Option<SpoolConfig> {
  Some(SpoolConfig {
    // The tests check what the writer does, not what the device does.
    sync_interval: None,
    ..SpoolConfig::new(dir)
  })
}

fn config(target: Target, dir: &Path) -> Config {
  Config {
    require_ack: true,
    batch_bytes: 4 << 10,
    max_buffer_bytes: CAP as usize,
    max_record_bytes: 4 << 10,
    spool: spool_at(dir),
    ..fast_config(target)
  }
}

/// Pushes records `from..to` alternating over the tags, never faster than the buffer has room
/// for (`room`: bytes below the cap to wait for), so that nothing is refused for want of a writer
/// step. Panics if the room does not come (bounded).
fn push_paced(client: &Client, from: u64, to: u64, pad: usize, room: u64) {
  let tags: Vec<u32> = TAGS.iter().map(|t| client.tag_id(t).unwrap()).collect();
  for i in from..to {
    if i % 16 == 0 {
      assert!(
        wait_until(Duration::from_secs(20), || client.queued_bytes() + room <= CAP),
        "no room after {i} records: {:?}",
        client.stats()
      );
    }
    assert!(
      client
        .push(tags[(i % 2) as usize], None, &record(i, pad))
        .unwrap(),
      "record {i} refused"
    );
  }
}

/// The memory cap every test here sets: small, so that a few thousand records outlast it.
const CAP: u64 = 64 << 10;

fn per_tag(server: &Server) -> BTreeMap<String, Vec<u64>> {
  server.with(|s| {
    let mut m: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for r in &s.received {
      m.entry(r.tag.clone())
        .or_default()
        .push(record_n(&r.record).unwrap());
    }
    m
  })
}

fn expected(from: u64, to: u64) -> BTreeMap<String, Vec<u64>> {
  let mut m: BTreeMap<String, Vec<u64>> = BTreeMap::new();
  for i in from..to {
    m.entry(TAGS[(i % 2) as usize].to_string()).or_default().push(i);
  }
  m
}

/// `emitted + refused + replayed = sent + dropped + rejected + pending + spooled` (no handler here).
fn assert_identity(r: &CloseReport) {
  assert_eq!(
    r.emitted + r.refused + r.replayed,
    r.sent + r.dropped + r.rejected + r.pending + r.spooled,
    "{r:?}"
  );
}

fn assert_running_identity(s: &Stats) {
  assert_eq!(
    s.emitted + s.refused + s.replayed,
    s.sent + s.dropped + s.rejected + s.pending + s.spooled,
    "{s:?}"
  );
}

fn leftovers(dir: &Path) -> (u64, u64) {
  let (_, left) = Spool::open(SpoolOptions::new(dir, 1 << 30)).unwrap();
  (left.files, left.bytes)
}

/// Issue 27 row 1: an outage longer than the memory buffer lasts. 10x the cap is accepted without
/// a drop (the writer stores each batch, lets go of it in memory, and keeps the buffer within the
/// cap), then read back and delivered in order once the server listens. Without eviction the
/// buffer fills at the cap and the paced pushes time out.
#[test]
fn an_outage_longer_than_the_memory_buffer_goes_to_disk_and_comes_back_in_order() {
  let dir = TempDir::new("outage");
  let sock = dir.path().join("server.sock");
  let log = EventLog::new();
  let cfg = config(
    Target::Unix(sock.display().to_string()),
    &dir.path().join("spool"),
  );
  let client = Client::start(cfg, log.sink()).unwrap();
  const N: u64 = 6000; // ~110 bytes each: ~10x the 64 KiB cap
  push_paced(&client, 0, N, 80, 8 << 10);
  let stats = client.stats();
  let spool = stats.spool.clone().unwrap();
  assert_eq!((stats.dropped, stats.refused, stats.sent), (0, 0, 0), "{stats:?}");
  assert!(stats.queued_bytes <= CAP, "{stats:?}");
  assert!(spool.evicted > 0 && spool.appended > 0, "{spool:?}");
  assert_running_identity(&stats);
  assert_eq!(
    stats.pending, N,
    "records on disk are pending while running: {stats:?}"
  );

  let server = Server::unix_at(&sock, script(|_| Behavior::Normal));
  assert!(
    wait_until(Duration::from_secs(30), || server.count() as u64 >= N),
    "delivered {} of {N}: {:?}; {}",
    server.count(),
    client.stats(),
    log.describe()
  );
  let report = close_and_wait(&client, Duration::from_secs(5));
  assert_eq!(
    per_tag(&server),
    expected(0, N),
    "every record once, in order per tag"
  );
  assert_eq!(
    (report.sent, report.pending, report.spooled, report.dropped),
    (N, 0, 0, 0),
    "{report:?}"
  );
  assert_identity(&report);
  assert_eq!(
    leftovers(&dir.path().join("spool")),
    (0, 0),
    "everything was settled"
  );
}

/// Issue 27 rows 2 and replay: what close could not send stays on disk (not discarded, not
/// counted as pending), and the next client on the dir sends it first and exactly once, before
/// its own records. Without the spool the close report would show them pending and they would
/// be gone.
#[test]
fn a_close_leaves_the_rest_on_disk_and_the_next_client_replays_it_first_exactly_once() {
  let dir = TempDir::new("replay");
  let log = EventLog::new();
  let first = Client::start(config(tcp(refused_port()), dir.path()), log.sink()).unwrap();
  push_paced(&first, 0, 1000, 40, 8 << 10);
  let report = close_and_wait(&first, Duration::from_millis(300));
  assert_eq!(
    (report.emitted, report.sent, report.pending, report.spooled),
    (1000, 0, 0, 1000),
    "{report:?}"
  );
  assert_identity(&report);
  let after = first.stats();
  assert_eq!((after.pending, after.spooled), (0, 1000), "{after:?}");
  drop(first);

  let server = Server::start();
  let log2 = EventLog::new();
  let second = Client::start(config(server.target(), dir.path()), log2.sink()).unwrap();
  // New records right away: they must wait for the leftovers.
  push_paced(&second, 1000, 1500, 40, 8 << 10);
  assert!(
    wait_until(Duration::from_secs(20), || server.count() >= 1500),
    "delivered {}: {:?}; {}",
    server.count(),
    second.stats(),
    log2.describe()
  );
  let order: Vec<u64> = server.with(|s| s.received.iter().map(|r| record_n(&r.record).unwrap()).collect());
  let first_new = order.iter().position(|&n| n >= 1000).unwrap();
  assert!(
    order[..first_new].len() == 1000,
    "all 1000 leftovers came before any new record"
  );
  assert_eq!(
    per_tag(&server),
    expected(0, 1500),
    "each record once, in order per tag"
  );
  let report = close_and_wait(&second, Duration::from_secs(5));
  assert_eq!(
    (report.replayed, report.emitted, report.sent, report.spooled),
    (1000, 500, 1500, 0),
    "{report:?}"
  );
  assert_identity(&report);
  assert_eq!(second.stats().spool.unwrap().replayed, 1000);
  assert_eq!(leftovers(dir.path()), (0, 0));
}

/// Every way a batch leaves the writer settles it in the spool: acked (with acks), written
/// (without), and a close with a live server (drained). The split and rejected paths are in
/// tests/retry.rs (`a_spooled_poison_scenario_settles_every_batch_it_stored`). A batch that was
/// not settled would be sent again by the next process (found here as leftovers).
#[test]
fn delivered_batches_leave_the_disk_with_and_without_acks() {
  for ack in [true, false] {
    let dir = TempDir::new("settle");
    let server = Server::start();
    let log = EventLog::new();
    let cfg = Config {
      require_ack: ack,
      ..config(server.target(), dir.path())
    };
    let client = Client::start(cfg, log.sink()).unwrap();
    push_paced(&client, 0, 2000, 40, 8 << 10);
    assert!(
      wait_until(Duration::from_secs(20), || server.count() >= 2000),
      "ack {ack}: {}",
      log.describe()
    );
    let report = close_and_wait(&client, Duration::from_secs(5));
    assert_eq!(
      (report.sent, report.spooled, report.pending),
      (2000, 0, 0),
      "ack {ack}: {report:?}"
    );
    assert_eq!(client.stats().spool.unwrap().appended, 2000);
    assert_eq!(
      leftovers(dir.path()),
      (0, 0),
      "ack {ack}: nothing left to send again"
    );
  }
}

/// Issue 27 row 5: a spool directory that cannot be used (here: under a regular file, which no
/// user can create a directory in, root included) is not a constructor error: the client runs
/// memory only, says so once with ERR_FLUENT_SPOOL_IO, and still delivers.
#[test]
fn an_unusable_spool_dir_falls_back_to_memory_only_and_still_delivers() {
  let dir = TempDir::new("nodir");
  let file = dir.path().join("a-file");
  std::fs::write(&file, b"not a directory").unwrap();
  let server = Server::start();
  let log = EventLog::new();
  let client = Client::start(config(server.target(), &file.join("spool")), log.sink()).unwrap();
  push_paced(&client, 0, 500, 40, 8 << 10);
  assert!(
    wait_until(Duration::from_secs(20), || server.count() >= 500),
    "{}",
    log.describe()
  );
  let report = close_and_wait(&client, Duration::from_secs(5));
  assert_eq!((report.sent, report.spooled), (500, 0));
  let spool = client.stats().spool.unwrap();
  assert!(spool.memory_only && spool.slot.is_empty(), "{spool:?}");
  log.with(|es| assert_eq!(count_errors(es, "SPOOL_IO"), 1, "{es:?}"));
}

/// Issue 27 row 5, full disk: a spool whose cap is reached refuses batches (ERR_FLUENT_SPOOL_FULL,
/// once), the client goes on in memory only under the overflow policy, every refused record is
/// counted in `dropped`, and what was stored and buffered is delivered when the server listens.
#[test]
fn a_full_spool_keeps_batches_in_memory_and_counts_every_drop() {
  let dir = TempDir::new("full");
  let sock = dir.path().join("server.sock");
  let log = EventLog::new();
  let cfg = Config {
    spool: Some(SpoolConfig {
      max_bytes: 1 << 20,
      sync_interval: None,
      ..SpoolConfig::new(dir.path().join("spool"))
    }),
    ..config(Target::Unix(sock.display().to_string()), dir.path())
  };
  let client = Client::start(cfg, log.sink()).unwrap();
  let tag = client.tag_id(TAGS[0]).unwrap();
  // ~3 MiB offered against 1 MiB of disk and 64 KiB of memory.
  let mut accepted = 0u64;
  for i in 0..20_000u64 {
    if client.push(tag, None, &record(i, 120)).unwrap() {
      accepted += 1;
    }
    if i % 64 == 0 {
      std::thread::sleep(Duration::from_millis(1));
    }
  }
  assert!(
    log.wait_for(Duration::from_secs(10), |es| count_errors(es, "SPOOL_FULL") >= 1),
    "{}",
    log.describe()
  );
  let stats = client.stats();
  assert!(stats.spool.as_ref().unwrap().not_spooled > 0, "{stats:?}");
  assert!(stats.dropped > 0 && stats.queued_bytes <= CAP, "{stats:?}");
  assert_running_identity(&stats);
  let server = Server::unix_at(&sock, script(|_| Behavior::Normal));
  assert!(
    wait_until(Duration::from_secs(30), || server.count() as u64 >= accepted),
    "delivered {} of {accepted}: {:?}",
    server.count(),
    client.stats()
  );
  let report = close_and_wait(&client, Duration::from_secs(5));
  assert_eq!(
    (report.sent, report.emitted, report.spooled),
    (accepted, accepted, 0),
    "{report:?}"
  );
  assert_eq!(report.refused + report.emitted, 20_000);
  assert_identity(&report);
  log.with(|es| assert_eq!(count_errors(es, "SPOOL_FULL"), 1, "reported once: {es:?}"));
}

/// Issue 27 item 4: two clients never write one slot. A named slot another client holds is an
/// error of the constructor, naming the holder; auto slots give each client its own.
#[test]
fn a_named_slot_in_use_is_a_constructor_error_naming_the_holder() {
  let dir = TempDir::new("locked");
  let named = |dir: &Path| Config {
    spool: Some(SpoolConfig {
      slot: Some("api".into()),
      ..SpoolConfig::new(dir)
    }),
    ..fast_config(tcp(refused_port()))
  };
  let first = Client::start(named(dir.path()), EventLog::new().sink()).unwrap();
  let e = Client::start(named(dir.path()), EventLog::new().sink())
    .err()
    .expect("second holder refused");
  assert_eq!(e.code(), "SPOOL_LOCKED");
  assert!(
    e.to_string().contains(&format!("process {}", std::process::id())),
    "{e}"
  );
  let auto = Config {
    spool: spool_at(dir.path()),
    ..fast_config(tcp(refused_port()))
  };
  let a = Client::start(auto.clone(), EventLog::new().sink()).unwrap();
  let b = Client::start(auto, EventLog::new().sink()).unwrap();
  let (sa, sb) = (a.stats().spool.unwrap().slot, b.stats().spool.unwrap().slot);
  assert!(!sa.is_empty() && sa != sb, "{sa} {sb}");
  for c in [&first, &a, &b] {
    close_and_wait(c, Duration::from_millis(100));
  }
  let bad = Config {
    spool: Some(SpoolConfig {
      slot: Some("../escape".into()),
      ..SpoolConfig::new(dir.path())
    }),
    ..fast_config(tcp(refused_port()))
  };
  assert_eq!(
    Client::start(bad, EventLog::new().sink()).err().unwrap().code(),
    "CONFIG"
  );
}

/// A damaged leftover is skipped, reported with its file (ERR_FLUENT_SPOOL_CORRUPT) and counted;
/// the rest of the leftovers is delivered.
#[test]
fn damaged_leftovers_are_reported_with_their_file_and_the_rest_is_delivered() {
  let dir = TempDir::new("damage");
  let first = Client::start(config(tcp(refused_port()), dir.path()), EventLog::new().sink()).unwrap();
  push_paced(&first, 0, 1000, 40, 8 << 10);
  let report = close_and_wait(&first, Duration::from_millis(300));
  assert_eq!(report.spooled, 1000);
  drop(first);
  // Flip a byte in the middle of the first segment file.
  let seg = spool_util::segment_files(dir.path())
    .into_iter()
    .next()
    .expect("a segment file");
  let mut bytes = std::fs::read(&seg).unwrap();
  let mid = bytes.len() / 2;
  bytes[mid] ^= 0xff;
  std::fs::write(&seg, &bytes).unwrap();

  let server = Server::start();
  let log = EventLog::new();
  let second = Client::start(config(server.target(), dir.path()), log.sink()).unwrap();
  assert!(
    log.wait_for(Duration::from_secs(10), |es| count_errors(es, "SPOOL_CORRUPT")
      >= 1),
    "{}",
    log.describe()
  );
  let report = close_and_wait(&second, Duration::from_secs(5));
  let spool = second.stats().spool.unwrap();
  assert!(spool.corrupted >= 1 && spool.corrupted_bytes > 0, "{spool:?}");
  assert!(
    report.replayed >= 900 && report.replayed < 1000,
    "one batch or so lost: {report:?}"
  );
  assert_eq!(report.sent, report.replayed, "{report:?}");
  assert_eq!(server.count() as u64, report.sent);
  let name = seg.file_name().unwrap().to_string_lossy().to_string();
  log.with(|es| {
    let msg = es
      .iter()
      .filter_map(event_error)
      .find(|e| e.code() == "SPOOL_CORRUPT")
      .map(|e| e.to_string())
      .unwrap();
    assert!(msg.contains(&name), "names the file: {msg}");
  });
}

/// Issue 27 row 3 (SIGKILL) needs every accepted record on disk soon, whatever the servers do:
/// a server that stops reading holds the writer in one write for up to `writeTimeoutMs`, and the
/// records accepted meanwhile must still be sealed and stored (`store_while_writing`). Without it
/// nothing is appended until the write ends, and a kill then loses them.
#[test]
fn records_reach_the_disk_while_a_write_is_held_by_a_server_that_stopped_reading() {
  let dir = TempDir::new("held");
  let server = Server::scripted(script(|_| Behavior::NeverRead));
  let log = EventLog::new();
  let cfg = Config {
    require_ack: false,
    write_timeout: Duration::from_secs(60),
    max_record_bytes: 8 << 10,
    ..config(server.target(), dir.path())
  };
  let client = Client::start(cfg, log.sink()).unwrap();
  let tag = client.tag_id(TAGS[0]).unwrap();
  let room = || {
    wait_until(Duration::from_secs(10), || {
      client.queued_bytes() + (16 << 10) <= CAP
    })
  };
  let mut i = 0u64;
  // A loaded machine can pause the writer for a while without the write being held: a round
  // counts only if no batch was sent while its 300 records were stored (bounded retries).
  let mut held = false;
  for _round in 0..10 {
    // Fill the socket buffers until a write blocks: batches_sent stops moving.
    let mut last = (client.stats().batches_sent, std::time::Instant::now());
    while last.1.elapsed() < Duration::from_millis(500) {
      assert!(i < 100_000, "the write never blocked: {:?}", client.stats());
      if client.queued_bytes() + (16 << 10) <= CAP && client.push(tag, None, &record(i, 4000)).unwrap() {
        i += 1;
      } else {
        std::thread::sleep(Duration::from_millis(1));
      }
      let sent = client.stats().batches_sent;
      if sent != last.0 {
        last = (sent, std::time::Instant::now());
      }
    }
    let before = client.stats();
    let appended = before.spool.as_ref().unwrap().appended;
    for _ in 0..300 {
      assert!(room(), "no room while the write is held: {:?}", client.stats());
      assert!(client.push(tag, None, &record(i, 4000)).unwrap());
      i += 1;
    }
    assert!(
      wait_until(Duration::from_secs(10), || client.stats().spool.unwrap().appended
        >= appended + 300),
      "stored while the write is held: {:?}",
      client.stats()
    );
    if client.stats().batches_sent == before.batches_sent {
      held = true;
      break;
    }
  }
  assert!(
    held,
    "never saw 300 records stored while a write was held: {:?}",
    client.stats()
  );
  let report = close_and_wait(&client, Duration::from_millis(200));
  assert_identity(&report);
  assert!(report.spooled >= 300, "{report:?}");
}

/// Segment files deleted under a running client (an operator's `rm`, a cleanup job): the batches
/// that were only on disk are lost, and every one of them is counted in `dropped` and reported
/// with its file (ERR_FLUENT_SPOOL_IO); the rest is delivered and the identity holds exactly.
#[test]
fn segments_deleted_under_the_client_lose_only_their_batches_and_count_them() {
  let dir = TempDir::new("deleted");
  let sock = dir.path().join("server.sock");
  let log = EventLog::new();
  let cfg = Config {
    spool: Some(SpoolConfig {
      // 128 KiB segments: most of the backlog is in sealed files.
      max_bytes: 1 << 20,
      sync_interval: None,
      ..SpoolConfig::new(dir.path().join("spool"))
    }),
    ..config(Target::Unix(sock.display().to_string()), dir.path())
  };
  let client = Client::start(cfg, log.sink()).unwrap();
  const N: u64 = 6000;
  push_paced(&client, 0, N, 80, 8 << 10);
  assert!(client.stats().spool.unwrap().evicted > 0);
  for f in spool_util::segment_files(&dir.path().join("spool")) {
    std::fs::remove_file(f).unwrap();
  }
  let server = Server::unix_at(&sock, script(|_| Behavior::Normal));
  assert!(
    wait_until(Duration::from_secs(30), || {
      let s = client.stats();
      s.pending == 0 && s.sent + s.dropped == N
    }),
    "{:?}; {}",
    client.stats(),
    log.describe()
  );
  let report = close_and_wait(&client, Duration::from_secs(5));
  assert_identity(&report);
  assert!(report.dropped > 0 && report.sent > 0, "{report:?}");
  assert_eq!(server.count() as u64, report.sent);
  let lost: u64 = log.with(|es| {
    es.iter()
      .filter_map(|e| match e {
        fluent_forward::Event::Error { error, records, .. } if error.code() == "SPOOL_IO" => Some(*records),
        _ => None,
      })
      .sum()
  });
  assert_eq!(lost, report.dropped, "every lost record reported with its file");
}
