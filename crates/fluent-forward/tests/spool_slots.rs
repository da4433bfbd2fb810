//! The spool engine: one writer per slot, a clear error naming the
//! holder, one slot per live process in a shared dir, and a dead process's slot taken over or
//! adopted with its batches. Dead processes are real: a child process (this test binary run
//! again for one test) is killed (SIGKILL on Unix, TerminateProcess on Windows).

mod spool_util;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use fluent_forward::spool::{Slot, Spool, SpoolError};
use spool_util::{batch, opts, replay_all, TempDir};

const CHILD_ENV: &str = "FF_SPOOL_TEST_CHILD";
const READY: &str = "FF_SPOOL_CHILD_READY";

/// Kills the child however the test ends.
struct Killed(Child);

impl Drop for Killed {
  fn drop(&mut self) {
    let _ = self.0.kill();
    let _ = self.0.wait();
  }
}

/// In the child: opens the spool the parent asked for, appends `n` batches, says so and waits to
/// be killed (at most a minute, so an abandoned child cannot linger).
fn child_role() -> bool {
  let Ok(spec) = std::env::var(CHILD_ENV) else {
    return false;
  };
  let mut parts = spec.splitn(3, '|');
  let (dir, slot, n) = (
    parts.next().unwrap(),
    parts.next().unwrap(),
    parts.next().unwrap(),
  );
  let mut o = opts(Path::new(dir), 1 << 20);
  if slot != "auto" {
    o.slot = Slot::Named(slot.into());
  }
  let (mut spool, _) = Spool::open(o).unwrap();
  for i in 0..n.parse::<u32>().unwrap() {
    spool.append(batch(i, 2, 30).as_ref()).unwrap();
  }
  println!("{READY} {}", spool.slot_dir().display());
  std::thread::sleep(Duration::from_secs(60));
  true
}

/// Runs `test` of this binary as the child; returns it and the slot dir it holds.
fn spawn_holder(test: &str, dir: &Path, slot: &str, n: u32) -> (Killed, PathBuf) {
  let mut child = Command::new(std::env::current_exe().unwrap())
    .args([test, "--exact", "--nocapture", "--test-threads=1"])
    .env(CHILD_ENV, format!("{}|{slot}|{n}", dir.display()))
    .stdout(Stdio::piped())
    .stderr(Stdio::inherit())
    .spawn()
    .unwrap();
  let stdout = child.stdout.take().unwrap();
  let child = Killed(child);
  let (tx, rx) = mpsc::channel();
  std::thread::spawn(move || {
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
      // libtest prints the test's name on the same line first.
      if let Some(at) = line.find(READY) {
        let _ = tx.send(PathBuf::from(line[at + READY.len()..].trim()));
      }
    }
  });
  let slot_dir = rx
    .recv_timeout(Duration::from_secs(60))
    .expect("child ready within a minute");
  (child, slot_dir)
}

fn kill(mut child: Killed) {
  child.0.kill().unwrap();
  child.0.wait().unwrap();
}

/// Windows releases a dead process's file locks "depending upon available system resources", not
/// necessarily by the time `wait` returns: retry while the slot still reads as held (bounded).
fn after_release<T>(mut attempt: impl FnMut() -> Option<T>) -> T {
  for _ in 0..300 {
    if let Some(t) = attempt() {
      return t;
    }
    std::thread::sleep(Duration::from_millis(100));
  }
  panic!("the dead process's lock was not released within 30 s");
}

#[test]
fn a_second_opener_of_a_held_slot_gets_an_error_naming_the_holder() {
  let dir = TempDir::new("locked");
  let mut o = opts(dir.path(), 1 << 20);
  o.slot = Slot::Named("app".into());
  let (first, _) = Spool::open(o.clone()).unwrap();
  let e = Spool::open(o.clone()).err().expect("second open must fail");
  match &e {
    SpoolError::Locked { slot, holder } => {
      assert_eq!(slot, &dir.path().join("app"));
      assert_eq!(*holder, Some(std::process::id()));
    }
    e => panic!("expected Locked, got {e}"),
  }
  assert_eq!(e.code(), "SPOOL_LOCKED");
  assert!(
    e.to_string().contains(&format!("process {}", std::process::id())),
    "{e}"
  );
  drop(first);
  Spool::open(o).expect("free again once the holder closed");
}

#[test]
fn auto_slots_give_each_opener_its_own_slot_and_reuse_free_ones() {
  let dir = TempDir::new("auto");
  let (a, _) = Spool::open(opts(dir.path(), 1 << 20)).unwrap();
  let (b, _) = Spool::open(opts(dir.path(), 1 << 20)).unwrap();
  assert_eq!(a.slot_dir(), dir.path().join("slot-0"));
  assert_eq!(b.slot_dir(), dir.path().join("slot-1"));
  drop(a);
  let (c, _) = Spool::open(opts(dir.path(), 1 << 20)).unwrap();
  assert_eq!(c.slot_dir(), dir.path().join("slot-0"));
}

#[test]
fn a_killed_holders_slot_is_refused_while_it_lives_and_taken_over_with_its_batches() {
  if child_role() {
    return;
  }
  let dir = TempDir::new("takeover");
  let test = "a_killed_holders_slot_is_refused_while_it_lives_and_taken_over_with_its_batches";
  let (child, _) = spawn_holder(test, dir.path(), "app", 5);
  let mut o = opts(dir.path(), 1 << 20);
  o.slot = Slot::Named("app".into());
  match Spool::open(o.clone()).err().expect("the child holds the slot") {
    SpoolError::Locked { holder, .. } => assert_eq!(holder, Some(child.0.id())),
    e => panic!("expected Locked, got {e}"),
  }
  kill(child);
  // Written (not synced) before the kill: the OS has it, so it survives the process.
  let (mut spool, left) = after_release(|| match Spool::open(o.clone()) {
    Err(SpoolError::Locked { .. }) => None,
    other => Some(other.unwrap()),
  });
  assert_eq!(left.files, 1);
  let (back, damage) = replay_all(&mut spool);
  assert!(damage.is_empty());
  let want: Vec<_> = (0..5).map(|i| batch(i, 2, 30)).collect();
  assert_eq!(back.into_iter().map(|(_, b)| b).collect::<Vec<_>>(), want);
}

#[test]
fn a_dead_workers_auto_slot_is_adopted_by_a_live_one() {
  if child_role() {
    return;
  }
  let dir = TempDir::new("adopt");
  let test = "a_dead_workers_auto_slot_is_adopted_by_a_live_one";
  let (child, child_slot) = spawn_holder(test, dir.path(), "auto", 4);
  assert_eq!(child_slot, dir.path().join("slot-0"));
  let (mut live, left) = Spool::open(opts(dir.path(), 1 << 20)).unwrap();
  assert_eq!(live.slot_dir(), dir.path().join("slot-1"));
  assert!(
    left.adopted.is_empty() && left.files == 0,
    "a live worker's slot is not adopted"
  );
  live.append(batch(100, 1, 10).as_ref()).unwrap();
  assert!(live.adopt_orphans().adopted.is_empty());
  kill(child);
  let found = after_release(|| Some(live.adopt_orphans()).filter(|f| !f.adopted.is_empty()));
  assert!(found.adopt_errors.is_empty(), "{:?}", found.adopt_errors);
  assert_eq!(found.adopted, vec![child_slot.clone()]);
  assert_eq!(found.files, 1);
  let (back, damage) = replay_all(&mut live);
  assert!(damage.is_empty());
  let want: Vec<_> = (0..4).map(|i| batch(i, 2, 30)).collect();
  assert_eq!(back.iter().map(|(_, b)| b.clone()).collect::<Vec<_>>(), want);
  assert_eq!(live.stats().adopted_slots, 1);
  for (id, _) in back {
    live.settle(id).unwrap();
  }
  // The dead worker's slot is free and empty: the next process takes it without leftovers.
  let (next, left) = Spool::open(opts(dir.path(), 1 << 20)).unwrap();
  assert_eq!(next.slot_dir(), child_slot);
  assert_eq!(left.files, 0);
}

#[test]
fn adoption_keeps_what_the_dead_slots_ledger_says_is_settled() {
  let dir = TempDir::new("adopt-ledger");
  let (mut live, _) = Spool::open(opts(dir.path(), 1 << 20)).unwrap();
  let sent: Vec<_> = (0..6).map(|i| batch(i, 1, 40)).collect();
  {
    // Another process's slot, closed with batches 0, 1 (in order) and 3 (out of order) settled.
    let (mut other, _) = Spool::open(opts(dir.path(), 1 << 20)).unwrap();
    assert_eq!(other.slot_dir(), dir.path().join("slot-1"));
    let mut ids: Vec<_> = sent
      .iter()
      .map(|b| Some(other.append(b.as_ref()).unwrap()))
      .collect();
    for i in [0, 1, 3] {
      other.settle(ids[i].take().unwrap()).unwrap();
    }
    other.close().unwrap();
  }
  let found = live.adopt_orphans();
  assert_eq!(found.adopted, vec![dir.path().join("slot-1")]);
  let want: Vec<_> = [2, 4, 5].iter().map(|i| sent[*i].clone()).collect();
  let (back, _) = replay_all(&mut live);
  assert_eq!(back.into_iter().map(|(_, b)| b).collect::<Vec<_>>(), want);
  // The orphan's settles are ours now: they stay settled across our own restart.
  let slot = live.slot_dir().to_owned();
  live.close().unwrap();
  let mut o = opts(dir.path(), 1 << 20);
  o.slot = Slot::Auto;
  let (mut again, _) = Spool::open(o).unwrap();
  assert_eq!(again.slot_dir(), slot);
  let (back, _) = replay_all(&mut again);
  assert_eq!(back.into_iter().map(|(_, b)| b).collect::<Vec<_>>(), want);
}
