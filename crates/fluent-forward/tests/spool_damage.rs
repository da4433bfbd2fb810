//! The spool engine: damaged files are detected, the damaged
//! stretches skipped, counted and reported with their file, and everything else replayed.

mod spool_util;

use std::fs::OpenOptions;
use std::path::PathBuf;

use fluent_forward::spool::{Batch, DamageKind, Spool, SpoolError};
use spool_util::{batch, opts, replay_all, segment_files, TempDir};

/// Ten unsettled batches in one segment file, closed; returns the file and each batch's frame
/// offset.
fn ten_batches(dir: &TempDir) -> (PathBuf, Vec<u64>, Vec<Batch>) {
  let (mut spool, _) = Spool::open(opts(dir.path(), 1 << 20)).unwrap();
  let sent: Vec<_> = (0..10).map(|i| batch(i, 3, 40)).collect();
  let offsets = sent
    .iter()
    .map(|b| spool.append(b.as_ref()).unwrap().position().1)
    .collect();
  spool.close().unwrap();
  let files = segment_files(dir.path());
  assert_eq!(files.len(), 1);
  (files[0].clone(), offsets, sent)
}

fn flip(file: &PathBuf, at: u64) {
  let mut bytes = std::fs::read(file).unwrap();
  bytes[at as usize] ^= 0x5a;
  std::fs::write(file, bytes).unwrap();
}

fn replayed(dir: &TempDir) -> (Vec<Batch>, Vec<fluent_forward::spool::Damage>, Spool) {
  let (mut spool, _) = Spool::open(opts(dir.path(), 1 << 20)).unwrap();
  let (back, damage) = replay_all(&mut spool);
  (back.into_iter().map(|(_, b)| b).collect(), damage, spool)
}

#[test]
fn a_torn_tail_is_detected_and_the_batches_before_it_replayed() {
  let dir = TempDir::new("torn");
  let (file, offsets, sent) = ten_batches(&dir);
  let len = file.metadata().unwrap().len();
  OpenOptions::new()
    .write(true)
    .open(&file)
    .unwrap()
    .set_len(len - 5)
    .unwrap();
  let (back, damage, spool) = replayed(&dir);
  assert_eq!(back, sent[..9]);
  assert_eq!(damage.len(), 1, "one cut is one report: {damage:?}");
  assert_eq!(damage[0].file, file);
  assert_eq!(damage[0].kind, DamageKind::Torn);
  assert_eq!(damage[0].offset, offsets[9]);
  assert_eq!(damage[0].offset + damage[0].bytes, len - 5);
  assert_eq!((spool.stats().corrupted, spool.stats().replayed), (1, 9));
}

#[test]
fn a_flipped_payload_byte_is_caught_by_the_checksum_and_only_that_batch_skipped() {
  let dir = TempDir::new("flip");
  let (file, offsets, sent) = ten_batches(&dir);
  flip(&file, offsets[4] + 12 + 30);
  let (back, damage, spool) = replayed(&dir);
  let want: Vec<_> = sent
    .iter()
    .enumerate()
    .filter(|(i, _)| *i != 4)
    .map(|(_, b)| b.clone())
    .collect();
  assert_eq!(back, want);
  assert_eq!(damage.len(), 1);
  assert_eq!((damage[0].file.clone(), damage[0].offset), (file, offsets[4]));
  assert_eq!(damage[0].bytes, offsets[5] - offsets[4]);
  assert_eq!(damage[0].kind, DamageKind::Checksum);
  assert_eq!(spool.stats().corrupted, 1);
  assert_eq!(spool.stats().corrupted_bytes, offsets[5] - offsets[4]);
}

#[test]
fn a_flipped_length_is_caught_and_the_reader_finds_the_next_frame() {
  let dir = TempDir::new("flip-len");
  let (file, offsets, sent) = ten_batches(&dir);
  flip(&file, offsets[6] + 5); // second byte of the length: it now points far past the next frame
  let (back, damage, _) = replayed(&dir);
  let want: Vec<_> = sent
    .iter()
    .enumerate()
    .filter(|(i, _)| *i != 6)
    .map(|(_, b)| b.clone())
    .collect();
  assert_eq!(back, want);
  assert_eq!(damage.len(), 1);
  assert_eq!(
    (damage[0].offset, damage[0].bytes),
    (offsets[6], offsets[7] - offsets[6])
  );
}

#[test]
fn garbage_over_several_frames_is_one_damaged_stretch_and_a_bad_header_does_not_stop_replay() {
  let dir = TempDir::new("garbage");
  let (file, offsets, sent) = ten_batches(&dir);
  let mut bytes = std::fs::read(&file).unwrap();
  for b in &mut bytes[offsets[2] as usize + 3..offsets[5] as usize + 7] {
    *b = 0xee;
  }
  bytes[1] = b'X'; // file magic
  std::fs::write(&file, bytes).unwrap();
  let (back, damage, spool) = replayed(&dir);
  let want: Vec<_> = sent
    .iter()
    .enumerate()
    .filter(|(i, _)| !(2..=5).contains(i))
    .map(|(_, b)| b.clone())
    .collect();
  assert_eq!(back, want);
  let kinds: Vec<_> = damage.iter().map(|d| (d.kind, d.offset)).collect();
  assert_eq!(
    kinds,
    vec![(DamageKind::Header, 0), (DamageKind::Checksum, offsets[2])]
  );
  assert_eq!(damage[1].bytes, offsets[6] - offsets[2]);
  assert_eq!(spool.stats().corrupted, 2);
}

#[test]
fn a_damaged_batch_read_by_id_is_a_corrupt_error_naming_the_file() {
  let dir = TempDir::new("read-corrupt");
  let (mut spool, _) = Spool::open(opts(dir.path(), 1 << 20)).unwrap();
  let id = spool.append(batch(1, 2, 50).as_ref()).unwrap();
  let file = segment_files(dir.path())[0].clone();
  flip(&file, id.position().1 + 12 + 20);
  match spool.read(&id).unwrap_err() {
    SpoolError::Corrupt { file: f, offset, .. } => assert_eq!((f, offset), (file, id.position().1)),
    e => panic!("expected Corrupt, got {e}"),
  }
}

#[test]
fn a_damaged_ledger_replays_everything_still_on_disk() {
  let dir = TempDir::new("ledger");
  let sent: Vec<_> = (0..6).map(|i| batch(i, 1, 20)).collect();
  {
    let (mut spool, _) = Spool::open(opts(dir.path(), 1 << 20)).unwrap();
    let ids: Vec<_> = sent.iter().map(|b| spool.append(b.as_ref()).unwrap()).collect();
    for id in ids.into_iter().take(3) {
      spool.settle(id);
    }
    spool.close().unwrap();
  }
  assert_eq!(
    replayed(&dir).0,
    sent[3..],
    "the ledger says the first three are settled"
  );
  let ledger = segment_files(dir.path())[0].parent().unwrap().join("ledger");
  let len = ledger.metadata().unwrap().len();
  flip(&ledger, len / 2);
  let (back, _, spool) = replayed(&dir);
  assert_eq!(
    back, sent,
    "at least once: settles the ledger lost are sent again"
  );
  assert_eq!(spool.stats().ledger_damaged, 1);
}

#[test]
fn a_segment_cut_short_inside_its_header_is_reported_and_the_others_replayed() {
  let dir = TempDir::new("short-header");
  let (file, _, sent) = ten_batches(&dir);
  let later = file.with_file_name("00000000000000ff.seg");
  std::fs::write(&later, &std::fs::read(&file).unwrap()[..7]).unwrap();
  let (back, damage, spool) = replayed(&dir);
  assert_eq!(back, sent);
  assert_eq!(damage.len(), 1);
  assert_eq!(
    (damage[0].file.clone(), damage[0].kind, damage[0].bytes),
    (later.clone(), DamageKind::Torn, 7)
  );
  drop(spool);
  assert!(
    !later.exists(),
    "a damaged file with nothing left to settle is deleted"
  );
}

#[test]
fn a_file_cut_exactly_between_two_batches_is_found_shorter_than_the_ledger_recorded() {
  let dir = TempDir::new("cut-between");
  let (file, offsets, sent) = ten_batches(&dir);
  let len = file.metadata().unwrap().len();
  OpenOptions::new()
    .write(true)
    .open(&file)
    .unwrap()
    .set_len(offsets[7])
    .unwrap();
  let (back, damage, spool) = replayed(&dir);
  assert_eq!(back, sent[..7]);
  assert_eq!(damage.len(), 1, "{damage:?}");
  assert_eq!(damage[0].kind, DamageKind::Truncated);
  assert_eq!(
    (damage[0].file.clone(), damage[0].offset, damage[0].bytes),
    (file, offsets[7], len - offsets[7])
  );
  assert_eq!(spool.stats().corrupted, 1);
}

#[test]
fn a_frame_whose_checksum_holds_but_is_no_batch_is_reported_malformed() {
  let dir = TempDir::new("malformed");
  let (file, _, sent) = ten_batches(&dir);
  // A well-framed payload (marker, length, CRC32C over length and payload) claiming 9 records
  // with no room for their offsets.
  let payload = [9u8, 0, 0, 0, 1, 0, b't'];
  let len = (payload.len() as u32).to_le_bytes();
  let crc = crc32c::crc32c_append(crc32c::crc32c(&len), &payload);
  let mut bytes = std::fs::read(&file).unwrap();
  let at = bytes.len() as u64;
  bytes.extend_from_slice(b"SPL\x01");
  bytes.extend_from_slice(&len);
  bytes.extend_from_slice(&crc.to_le_bytes());
  bytes.extend_from_slice(&payload);
  std::fs::write(&file, bytes).unwrap();
  let (back, damage, _) = replayed(&dir);
  assert_eq!(back, sent);
  assert_eq!(damage.len(), 1, "{damage:?}");
  assert_eq!(
    (damage[0].kind, damage[0].offset, damage[0].bytes),
    (DamageKind::Malformed, at, 12 + 7)
  );
}
