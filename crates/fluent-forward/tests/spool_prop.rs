//! The spool engine, properties: whatever sequence of appends,
//! settles (in any order), partial replays, syncs and reopens, a reopened spool replays exactly the
//! batches not settled, oldest first, and the byte cap holds throughout; a crash at any point (a
//! snapshot of the slot's files) replays every unsettled batch in order, plus at most some settled
//! ones (at least once); and damage to a file never yields a batch that was not stored.

mod spool_util;

use fluent_forward::spool::{Batch, Replayed, Spool, SpoolError, SpoolId, SpoolOptions};
use proptest::prelude::*;
use spool_util::{batch, TempDir};

#[derive(Debug, Clone)]
enum Op {
  Append {
    records: usize,
    entry: usize,
  },
  /// Settles the n-th (modulo) batch this spool has an id for.
  Settle(usize),
  Replay(usize),
  Sync,
  Reopen,
  /// What a process killed now leaves: the slot's files, opened and replayed elsewhere.
  Crash,
}

fn op() -> impl Strategy<Value = Op> {
  prop_oneof![
    4 => (1usize..4, 1usize..300).prop_map(|(records, entry)| Op::Append { records, entry }),
    3 => any::<usize>().prop_map(Op::Settle),
    1 => (1usize..6).prop_map(Op::Replay),
    1 => Just(Op::Sync),
    1 => Just(Op::Reopen),
    1 => Just(Op::Crash),
  ]
}

/// What the spool must hold, oldest first: each batch and, once this spool instance has handed
/// it out (appended or replayed), its id.
struct Model(Vec<(Batch, Option<SpoolId>)>);

const MAX: u64 = 16 * 1024;

fn options(dir: &TempDir) -> SpoolOptions {
  let mut o = SpoolOptions::new(dir.path(), MAX);
  o.sync_interval = None;
  o.segment_bytes = 1024;
  o
}

fn replay(spool: &mut Spool, model: &mut Model, n: usize) -> Result<(), TestCaseError> {
  for _ in 0..n {
    match spool.replay_next() {
      Some(Replayed::Batch(id, b)) => {
        let slot = model.0.iter_mut().find(|(_, id)| id.is_none());
        let slot =
          slot.ok_or_else(|| TestCaseError::fail(format!("replayed a batch not expected: {b:?}")))?;
        prop_assert_eq!(&slot.0, &b);
        slot.1 = Some(id);
      }
      Some(Replayed::Damaged(d)) => return Err(TestCaseError::fail(format!("damage: {d:?}"))),
      None => {
        prop_assert!(model.0.iter().all(|(_, id)| id.is_some()), "replay ended early");
        return Ok(());
      }
    }
  }
  Ok(())
}

proptest! {
  #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

  #[test]
  fn a_reopened_spool_replays_exactly_the_unsettled_batches_in_order(ops in prop::collection::vec(op(), 1..60)) {
    let dir = TempDir::new("prop");
    let (mut spool, _) = Spool::open(options(&dir)).unwrap();
    let mut model = Model(Vec::new());
    let mut appended = Vec::new();
    let mut n = 0u32;
    for op in ops {
      match op {
        Op::Append { records, entry } => {
          n += 1;
          let b = batch(n, records, entry);
          match spool.append(b.as_ref()) {
            Ok(id) => {
              appended.push(b.clone());
              model.0.push((b, Some(id)));
            }
            Err(SpoolError::Full { .. }) => {}
            Err(e) => return Err(TestCaseError::fail(e.to_string())),
          }
        }
        Op::Settle(k) => {
          let held: Vec<usize> = (0..model.0.len()).filter(|i| model.0[*i].1.is_some()).collect();
          if !held.is_empty() {
            let i = held[k % held.len()];
            let (b, id) = model.0.remove(i);
            prop_assert_eq!(spool.settle(id.unwrap()), Some(b.records() as u32));
          }
        }
        Op::Replay(k) => replay(&mut spool, &mut model, k)?,
        Op::Sync => spool.sync().unwrap(),
        Op::Crash => {
          let copy = TempDir::new("prop-crash");
          let dest = copy.path().join("slot-0");
          std::fs::create_dir(&dest).unwrap();
          for f in std::fs::read_dir(spool.slot_dir()).unwrap() {
            let f = f.unwrap().path();
            if f.file_name().unwrap() != "lock" {
              std::fs::copy(&f, dest.join(f.file_name().unwrap())).unwrap();
            }
          }
          let mut o = options(&copy);
          o.max_bytes = 1 << 30;
          let (mut other, _) = Spool::open(o).unwrap();
          let (back, damage) = spool_util::replay_all(&mut other);
          prop_assert!(damage.is_empty(), "{:?}", damage);
          let mut wanted = model.0.iter().map(|(b, _)| b).peekable();
          for (_, b) in &back {
            prop_assert!(appended.contains(b), "never appended: {:?}", b);
            if wanted.peek() == Some(&b) {
              wanted.next();
            }
          }
          prop_assert!(wanted.next().is_none(), "an unsettled batch is missing after a crash, or out of order");
        }
        Op::Reopen => {
          spool.close().unwrap();
          for m in &mut model.0 {
            m.1 = None;
          }
          spool = Spool::open(options(&dir)).unwrap().0;
        }
      }
      let st = spool.stats();
      prop_assert!(st.bytes <= MAX);
      let known: u64 = model.0.iter().filter(|(_, id)| id.is_some()).map(|(b, _)| b.records() as u64).sum();
      prop_assert_eq!(st.records, known);
    }
    spool.close().unwrap();
    for m in &mut model.0 {
      m.1 = None;
    }
    let (mut spool, _) = Spool::open(options(&dir)).unwrap();
    replay(&mut spool, &mut model, usize::MAX)?;
    prop_assert!(spool.replay_next().is_none());
  }
}

#[derive(Debug, Clone)]
enum Hurt {
  /// XORs a byte at this position (modulo the file length) with a non-zero mask.
  Flip(usize, u8),
  /// Cuts the file to this length (modulo its length).
  Truncate(usize),
  /// Overwrites a stretch with one byte value.
  Smear(usize, usize, u8),
}

fn hurt() -> impl Strategy<Value = Hurt> {
  prop_oneof![
    4 => (any::<usize>(), 1u8..=255).prop_map(|(at, m)| Hurt::Flip(at, m)),
    1 => any::<usize>().prop_map(Hurt::Truncate),
    2 => (any::<usize>(), 1usize..400, any::<u8>()).prop_map(|(at, n, v)| Hurt::Smear(at, n, v)),
  ]
}

proptest! {
  #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

  /// Whatever happens to the bytes, replay never panics or stops early, and never hands back a
  /// batch that was not stored: what comes back is the stored batches in order, minus some.
  #[test]
  fn replay_of_a_damaged_file_returns_only_stored_batches_in_order(
    sizes in prop::collection::vec((1usize..4, 1usize..200), 1..30),
    hurts in prop::collection::vec(hurt(), 1..4),
  ) {
    let dir = TempDir::new("prop-damage");
    let mut o = options(&dir);
    o.max_bytes = 1 << 20;
    o.segment_bytes = 1 << 20;
    let sent: Vec<Batch> = sizes.iter().enumerate().map(|(i, (r, e))| batch(i as u32, *r, *e)).collect();
    {
      let (mut spool, _) = Spool::open(o.clone()).unwrap();
      for b in &sent {
        spool.append(b.as_ref()).unwrap();
      }
      spool.close().unwrap();
    }
    let file = spool_util::segment_files(dir.path())[0].clone();
    let mut bytes = std::fs::read(&file).unwrap();
    for h in &hurts {
      let len = bytes.len().max(1);
      match *h {
        Hurt::Flip(at, m) => {
          if let Some(b) = bytes.get_mut(at % len) {
            *b ^= m;
          }
        }
        Hurt::Truncate(at) => bytes.truncate(at % len),
        Hurt::Smear(at, n, v) => {
          let start = at % len;
          let end = (start + n).min(bytes.len());
          if start < end {
            bytes[start..end].fill(v);
          }
        }
      }
    }
    std::fs::write(&file, &bytes).unwrap();
    let (mut spool, _) = Spool::open(o).unwrap();
    let (back, damage) = spool_util::replay_all(&mut spool);
    let mut rest = sent.iter();
    for (_, b) in &back {
      prop_assert!(rest.any(|s| s == b), "a batch not stored, or out of order: {:?}", b);
    }
    if back.len() < sent.len() {
      prop_assert!(!damage.is_empty(), "batches lost without a damage report");
    }
    prop_assert_eq!(spool.stats().corrupted, damage.len() as u64);
  }
}
