//! The spool engine: storing, settling, rotation, the
//! byte cap, files removed from under it, and a directory it cannot create.

mod spool_util;

use fluent_forward::spool::{DamageKind, Slot, Spool, SpoolError};
use spool_util::{batch, opts, replay_all, segment_files, TempDir};

#[test]
fn unsettled_batches_come_back_after_reopen_in_order_and_settled_ones_do_not() {
  let dir = TempDir::new("roundtrip");
  let sent: Vec<_> = (0..20)
    .map(|i| batch(i, 1 + i as usize % 4, 10 + i as usize))
    .collect();
  {
    let (mut spool, left) = Spool::open(opts(dir.path(), 1 << 20)).unwrap();
    assert_eq!(left.files, 0);
    let ids: Vec<_> = sent.iter().map(|b| spool.append(b.as_ref()).unwrap()).collect();
    for (i, id) in ids.into_iter().enumerate() {
      if i % 2 == 1 {
        assert_eq!(spool.settle(id), Some(sent[i].records() as u32));
      }
    }
    let st = spool.stats();
    assert_eq!((st.appended, st.settled, st.batches), (20, 10, 10));
    spool.close().unwrap();
  }
  let (mut spool, left) = Spool::open(opts(dir.path(), 1 << 20)).unwrap();
  assert_eq!(left.files, 1);
  let (back, damage) = replay_all(&mut spool);
  assert!(damage.is_empty());
  let want: Vec<_> = sent.iter().step_by(2).cloned().collect();
  assert_eq!(back.iter().map(|(_, b)| b.clone()).collect::<Vec<_>>(), want);
  let st = spool.stats();
  assert_eq!(st.replayed, 10);
  assert_eq!(
    st.replayed_records,
    want.iter().map(|b| b.records() as u64).sum::<u64>()
  );
  assert_eq!(st.records, st.replayed_records);
  for (id, _) in back {
    assert!(spool.settle(id).is_some());
  }
  assert_eq!(spool.stats().files, 0, "a fully settled leftover file is deleted");
  assert!(segment_files(dir.path()).is_empty());
  spool.close().unwrap();
  let (mut spool, left) = Spool::open(opts(dir.path(), 1 << 20)).unwrap();
  assert_eq!(left.files, 0);
  assert!(replay_all(&mut spool).0.is_empty());
}

#[test]
fn segments_rotate_and_a_file_goes_when_its_last_batch_is_settled() {
  let dir = TempDir::new("rotate");
  let mut o = opts(dir.path(), 1 << 20);
  o.segment_bytes = 4096;
  let (mut spool, _) = Spool::open(o).unwrap();
  let sent: Vec<_> = (0..40).map(|i| batch(i, 4, 250)).collect();
  let mut ids: Vec<_> = sent.iter().map(|b| spool.append(b.as_ref()).unwrap()).collect();
  let files = segment_files(dir.path()).len();
  assert!(
    files >= 10,
    "about 1 KiB a batch in 4 KiB segments: {files} files"
  );
  assert_eq!(spool.stats().files as usize, files);
  // Batches 0..3 share the first file: settling the later ones first keeps it.
  let first: Vec<_> = ids.drain(..3).collect();
  let mut first = first.into_iter().rev();
  spool.settle(first.next().unwrap()).unwrap();
  spool.settle(first.next().unwrap()).unwrap();
  assert_eq!(segment_files(dir.path()).len(), files);
  spool.settle(first.next().unwrap()).unwrap();
  assert_eq!(segment_files(dir.path()).len(), files - 1);
  // Reading back by id works in sealed files and the active one.
  assert_eq!(spool.read(&ids[0]).unwrap(), sent[3]);
  assert_eq!(spool.read(ids.last().unwrap()).unwrap(), sent[39]);
  for id in ids {
    spool.settle(id).unwrap();
  }
  // The active segment stays open until sealed; closing deletes it since it is all settled.
  assert_eq!(segment_files(dir.path()).len(), 1);
  spool.close().unwrap();
  assert!(segment_files(dir.path()).is_empty());
}

#[test]
fn the_byte_cap_refuses_with_full_and_settling_frees_space() {
  let dir = TempDir::new("cap");
  let max = 64 * 1024;
  let (mut spool, _) = Spool::open(opts(dir.path(), max)).unwrap();
  let b = batch(1, 4, 250);
  let mut ids = Vec::new();
  let full = loop {
    match spool.append(b.as_ref()) {
      Ok(id) => ids.push(id),
      Err(e) => break e,
    }
    assert!(ids.len() < 1000, "never full");
  };
  match &full {
    SpoolError::Full { needed, used, max: m } => {
      assert_eq!(*m, max);
      assert!(used + needed > max && *used <= max);
    }
    e => panic!("expected Full, got {e}"),
  }
  assert_eq!(full.code(), "SPOOL_FULL");
  assert!(spool.stats().bytes <= max);
  let on_disk: u64 = segment_files(dir.path())
    .iter()
    .map(|f| f.metadata().unwrap().len())
    .sum();
  assert_eq!(on_disk, spool.stats().bytes);
  // Settling the oldest quarter frees whole files, so appends fit again.
  let n = ids.len();
  for id in ids.drain(..n / 4) {
    spool.settle(id).unwrap();
  }
  assert!(spool.stats().bytes < max - 4096);
  spool.append(b.as_ref()).expect("room again after settling");
  // A batch that can never fit is told apart from a full spool.
  let huge = batch(2, 1, max as usize);
  let e = spool.append(huge.as_ref()).unwrap_err();
  assert!(matches!(e, SpoolError::TooLarge { .. }), "{e}");
}

#[test]
fn a_spool_smaller_than_a_segment_reuses_its_space_once_settled() {
  let dir = TempDir::new("tiny");
  let (mut spool, _) = Spool::open(opts(dir.path(), 2048)).unwrap();
  for i in 0..200 {
    let id = spool.append(batch(i, 2, 100).as_ref()).unwrap();
    spool.settle(id).unwrap();
  }
  assert!(spool.stats().bytes <= 2048);
}

#[test]
fn a_malformed_batch_is_refused_and_the_spool_goes_on() {
  let dir = TempDir::new("malformed");
  let (mut spool, _) = Spool::open(opts(dir.path(), 1 << 20)).unwrap();
  let mut bad = batch(1, 2, 10);
  bad.offsets[1] = 100;
  let e = spool.append(bad.as_ref()).unwrap_err();
  assert_eq!(e.code(), "SPOOL_INVALID", "{e}");
  let id = spool.append(batch(2, 2, 10).as_ref()).unwrap();
  assert_eq!(spool.read(&id).unwrap(), batch(2, 2, 10));
}

#[test]
fn a_sealed_file_removed_under_it_fails_reads_by_name_and_does_not_stop_the_spool() {
  let dir = TempDir::new("removed");
  let mut o = opts(dir.path(), 1 << 20);
  o.segment_bytes = 2048;
  let (mut spool, _) = Spool::open(o.clone()).unwrap();
  let ids: Vec<_> = (0..12)
    .map(|i| spool.append(batch(i, 2, 250).as_ref()).unwrap())
    .collect();
  let files = segment_files(dir.path());
  assert!(files.len() >= 3);
  std::fs::remove_file(&files[0]).unwrap();
  match spool.read(&ids[0]).unwrap_err() {
    SpoolError::Io { path, source, .. } => {
      assert_eq!(path, files[0]);
      assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
    }
    e => panic!("expected Io, got {e}"),
  }
  // Settling what was in it is harmless; appending goes on.
  for id in ids {
    spool.settle(id);
  }
  spool.append(batch(99, 1, 10).as_ref()).unwrap();
  spool.close().unwrap();

  // A leftover removed between open and replay is reported with its name; the spool goes on.
  let (mut spool, left) = Spool::open(o).unwrap();
  assert_eq!(left.files, 1);
  let leftover = segment_files(dir.path());
  std::fs::remove_file(&leftover[0]).unwrap();
  let (back, damage) = replay_all(&mut spool);
  assert!(back.is_empty());
  assert_eq!(damage.len(), 1);
  assert_eq!(damage[0].file, leftover[0]);
  assert_eq!(damage[0].kind, DamageKind::Missing);
  assert_eq!(spool.stats().corrupted, 1);
  spool.append(batch(100, 1, 10).as_ref()).unwrap();
}

#[cfg(unix)] // Windows keeps an open file's name until it is closed
#[test]
fn the_active_file_removed_under_it_is_reported_at_sync_and_a_new_one_started() {
  let dir = TempDir::new("vanished");
  let (mut spool, _) = Spool::open(opts(dir.path(), 1 << 20)).unwrap();
  spool.append(batch(1, 1, 10).as_ref()).unwrap();
  spool.append(batch(2, 1, 10).as_ref()).unwrap();
  let files = segment_files(dir.path());
  std::fs::remove_file(&files[0]).unwrap();
  match spool.sync().unwrap_err() {
    SpoolError::Vanished { file, batches } => {
      assert_eq!(file, files[0]);
      assert_eq!(batches, 2);
    }
    e => panic!("expected Vanished, got {e}"),
  }
  spool.append(batch(3, 1, 10).as_ref()).unwrap();
  spool.close().unwrap();
  let (mut spool, _) = Spool::open(opts(dir.path(), 1 << 20)).unwrap();
  let (back, damage) = replay_all(&mut spool);
  assert!(damage.is_empty());
  assert_eq!(
    back.into_iter().map(|(_, b)| b).collect::<Vec<_>>(),
    vec![batch(3, 1, 10)]
  );
}

#[test]
fn a_dir_that_cannot_be_created_is_a_clear_error_at_open() {
  // Tests run as root in CI, where permission bits do not stop writes; a regular file where the
  // directory (or its parent) should be stops anyone.
  let dir = TempDir::new("notadir");
  let file = dir.path().join("file");
  std::fs::write(&file, b"x").unwrap();
  for target in [file.clone(), file.join("spool")] {
    let e = Spool::open(opts(&target, 1 << 20)).err().expect("open must fail");
    assert_eq!(e.code(), "SPOOL_IO");
    let msg = e.to_string();
    assert!(
      msg.contains("create spool dir") && msg.contains(&*target.to_string_lossy()),
      "{msg}"
    );
  }
  // A slot path taken by a file fails the same way, naming it.
  let root = dir.path().join("root");
  std::fs::create_dir(&root).unwrap();
  std::fs::write(root.join("mine"), b"x").unwrap();
  let mut o = opts(&root, 1 << 20);
  o.slot = Slot::Named("mine".into());
  let msg = Spool::open(o).err().expect("open must fail").to_string();
  assert!(msg.contains("mine"), "{msg}");
}

#[test]
fn leftovers_count_against_the_cap_until_replay_settles_them() {
  let dir = TempDir::new("leftover-cap");
  let mut o = opts(dir.path(), 64 * 1024);
  o.segment_bytes = 4096;
  {
    let (mut spool, _) = Spool::open(o.clone()).unwrap();
    while spool.append(batch(1, 4, 250).as_ref()).is_ok() {}
    spool.close().unwrap();
  }
  // Reopened with the same cap: the backlog fills it, so new batches are refused until replayed.
  let (mut spool, left) = Spool::open(o).unwrap();
  assert!(left.bytes > 60 * 1024, "{left:?}");
  let e = spool.append(batch(2, 4, 250).as_ref()).unwrap_err();
  assert_eq!(e.code(), "SPOOL_FULL");
  let (back, _) = replay_all(&mut spool);
  for (id, _) in back {
    spool.settle(id).unwrap();
  }
  assert_eq!(spool.stats().files, 0);
  spool
    .append(batch(2, 4, 250).as_ref())
    .expect("room once the backlog is settled");
}

#[test]
fn a_slot_name_that_is_no_plain_file_name_is_refused() {
  let dir = TempDir::new("names");
  for bad in ["", "..", ".hidden", "a/b", "slot-3", &"x".repeat(65)] {
    let mut o = opts(dir.path(), 1 << 20);
    o.slot = Slot::Named(bad.to_string());
    let e = Spool::open(o).err().expect("refused");
    assert_eq!(e.code(), "SPOOL_INVALID", "{bad:?}: {e}");
  }
  let mut o = opts(dir.path(), 1 << 20);
  o.slot = Slot::Named("api-1.worker_a".into());
  Spool::open(o).unwrap();
}
