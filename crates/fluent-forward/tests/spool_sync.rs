//! The spool engine: the sync policy, and what a crash at a given
//! moment leaves (simulated by copying the slot's files while the spool is open, which is what a
//! process killed at that moment leaves behind, minus the lock).

mod spool_util;

use std::path::Path;
use std::time::Duration;

use fluent_forward::spool::{Spool, SpoolOptions};
use spool_util::{batch, opts, replay_all, TempDir};

fn with_sync(dir: &Path, interval: Option<Duration>) -> SpoolOptions {
  let mut o = opts(dir, 1 << 20);
  o.sync_interval = interval;
  o
}

/// The slot's files as they are now, in a fresh spool dir.
fn snapshot(slot: &Path, to: &TempDir) {
  let dest = to.path().join("slot-0");
  std::fs::create_dir_all(&dest).unwrap();
  for f in std::fs::read_dir(slot).unwrap() {
    let f = f.unwrap().path();
    if f.file_name().unwrap() != "lock" {
      std::fs::copy(&f, dest.join(f.file_name().unwrap())).unwrap();
    }
  }
}

#[test]
fn without_a_policy_nothing_is_ever_due_and_nothing_is_fsynced() {
  let dir = TempDir::new("sync-none");
  let (mut spool, _) = Spool::open(with_sync(dir.path(), None)).unwrap();
  spool.append(batch(1, 1, 10).as_ref()).unwrap();
  assert_eq!(spool.next_sync_at(), None);
  spool.sync().unwrap();
  assert_eq!(spool.stats().syncs, 0);
}

#[test]
fn an_interval_makes_a_sync_due_after_an_append_and_sync_if_due_clears_it() {
  let dir = TempDir::new("sync-interval");
  let d = Duration::from_secs(3600);
  let (mut spool, _) = Spool::open(with_sync(dir.path(), Some(d))).unwrap();
  assert_eq!(spool.next_sync_at(), None, "nothing written, nothing due");
  spool.append(batch(1, 1, 10).as_ref()).unwrap();
  let due = spool.next_sync_at().expect("due after an append");
  spool.sync_if_due(due - Duration::from_millis(1)).unwrap();
  assert_eq!(spool.stats().syncs, 0, "not before it is due");
  spool.sync_if_due(due).unwrap();
  assert_eq!(spool.stats().syncs, 1);
  assert_eq!(spool.next_sync_at(), None);
}

/// Sealing a segment (a rotation, every few tens of milliseconds at high rates) does not fsync at
/// once under an interval: the sealed segments are synced at the next tick, with the active one, and
/// at close at the latest.
#[test]
fn sealed_segments_are_synced_at_the_next_tick_not_at_each_rotation() {
  let dir = TempDir::new("sync-rotation");
  let mut o = with_sync(dir.path(), Some(Duration::from_secs(3600)));
  o.segment_bytes = 4096;
  let (mut spool, _) = Spool::open(o).unwrap();
  for i in 0..40 {
    spool.append(batch(i, 4, 100).as_ref()).unwrap();
  }
  assert!(
    spool.stats().files >= 3,
    "the appends rotated segments: {:?}",
    spool.stats()
  );
  assert_eq!(spool.stats().syncs, 0, "no fsync before the tick");
  let due = spool.next_sync_at().expect("sealed and active data are due");
  spool.sync_if_due(due).unwrap();
  let files = spool.stats().files;
  assert_eq!(
    spool.stats().syncs,
    files,
    "each sealed segment and the active one synced once"
  );
  spool.sync_if_due(due).unwrap();
  assert_eq!(spool.stats().syncs, files, "nothing synced twice");
  spool.append(batch(99, 4, 100).as_ref()).unwrap();
  spool.close().unwrap();
}

#[test]
fn a_zero_interval_syncs_after_every_append() {
  let dir = TempDir::new("sync-zero");
  let (mut spool, _) = Spool::open(with_sync(dir.path(), Some(Duration::ZERO))).unwrap();
  for i in 0..5 {
    spool.append(batch(i, 1, 10).as_ref()).unwrap();
  }
  assert_eq!(spool.stats().syncs, 5);
}

#[test]
fn a_crash_replays_what_was_settled_since_the_last_ledger_write_and_no_more() {
  let dir = TempDir::new("crash");
  let (mut spool, _) = Spool::open(with_sync(dir.path(), Some(Duration::from_secs(3600)))).unwrap();
  let sent: Vec<_> = (0..4).map(|i| batch(i, 1, 10)).collect();
  let mut ids: Vec<_> = sent
    .iter()
    .map(|b| Some(spool.append(b.as_ref()).unwrap()))
    .collect();
  spool.settle(ids[0].take().unwrap()).unwrap();
  spool.settle(ids[2].take().unwrap()).unwrap();
  let replay_of_snapshot = |spool: &Spool| {
    let copy = TempDir::new("crash-copy");
    snapshot(spool.slot_dir(), &copy);
    let (mut s, _) = Spool::open(opts(copy.path(), 1 << 20)).unwrap();
    replay_all(&mut s)
      .0
      .into_iter()
      .map(|(_, b)| b)
      .collect::<Vec<_>>()
  };
  // Killed before any ledger write: at least once, everything comes again.
  assert_eq!(replay_of_snapshot(&spool), sent);
  spool.sync().unwrap();
  // Killed after it: exactly what is unsettled.
  assert_eq!(replay_of_snapshot(&spool), vec![sent[1].clone(), sent[3].clone()]);
}
