//! What is settled, in memory: per segment, the frames not yet known to be settled, in file order.
//!
//! A segment file is deleted once it is complete (no frame will be added: sealed after rotation,
//! or replayed to its end) and every frame in it is settled. For the ledger, each segment knows
//! where its first unsettled frame starts and which later frames are settled.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::PathBuf;

#[derive(Debug)]
struct Frame {
  offset: u64,
  records: u32,
  settled: bool,
}

#[derive(Debug)]
pub struct Segment {
  pub path: PathBuf,
  /// Bytes on disk, counted against `max_bytes`.
  pub bytes: u64,
  /// Where the next frame will be read (leftovers) or written (the active segment).
  pub cursor: u64,
  /// No frame will be added to this segment any more.
  pub complete: bool,
  /// Settled frames at the front are dropped; later ones stay so the ledger can list them.
  frames: VecDeque<Frame>,
  pub pending: u64,
  pub pending_records: u64,
}

impl Segment {
  pub fn done(&self) -> bool {
    self.complete && self.pending == 0
  }
}

#[derive(Debug, Default)]
pub struct Tracker {
  segs: BTreeMap<u64, Segment>,
  /// Frames a ledger says are settled, not yet reached by replay: replay skips them.
  skip: BTreeSet<(u64, u64)>,
}

/// What settling a frame did.
pub struct Settled {
  pub records: u32,
  /// The segment is done and its file can go.
  pub segment_done: bool,
}

impl Tracker {
  pub fn add(&mut self, seq: u64, path: PathBuf, bytes: u64, cursor: u64) {
    self.segs.insert(
      seq,
      Segment {
        path,
        bytes,
        cursor,
        complete: false,
        frames: VecDeque::new(),
        pending: 0,
        pending_records: 0,
      },
    );
  }

  pub fn get(&self, seq: u64) -> Option<&Segment> {
    self.segs.get(&seq)
  }

  pub fn get_mut(&mut self, seq: u64) -> Option<&mut Segment> {
    self.segs.get_mut(&seq)
  }

  pub fn remove(&mut self, seq: u64) -> Option<Segment> {
    self.skip.retain(|(s, _)| *s != seq);
    self.segs.remove(&seq)
  }

  pub fn add_skip(&mut self, seq: u64, offset: u64) {
    self.skip.insert((seq, offset));
  }

  /// Whether a ledger already settled the frame replay just read (then it is not replayed).
  pub fn take_skip(&mut self, seq: u64, offset: u64) -> bool {
    self.skip.remove(&(seq, offset))
  }

  /// A frame written or replayed; `end` is where the segment's cursor now stands.
  pub fn push(&mut self, seq: u64, offset: u64, records: u32, end: u64) {
    let seg = self
      .segs
      .get_mut(&seq)
      .expect("frames are pushed to known segments");
    debug_assert!(seg.frames.back().is_none_or(|f| f.offset < offset));
    seg.frames.push_back(Frame {
      offset,
      records,
      settled: false,
    });
    seg.pending += 1;
    seg.pending_records += records as u64;
    seg.cursor = end;
  }

  /// A frame replay read that the ledger already had as settled: it stays settled (listed in the
  /// next ledger while an earlier frame of its segment is not).
  pub fn push_settled(&mut self, seq: u64, offset: u64, end: u64) {
    let seg = self
      .segs
      .get_mut(&seq)
      .expect("frames are pushed to known segments");
    if !seg.frames.is_empty() {
      seg.frames.push_back(Frame {
        offset,
        records: 0,
        settled: true,
      });
    }
    seg.cursor = end;
  }

  /// `None` when the frame is unknown or already settled (settling twice changes nothing).
  pub fn settle(&mut self, seq: u64, offset: u64) -> Option<Settled> {
    let seg = self.segs.get_mut(&seq)?;
    let i = seg.frames.binary_search_by_key(&offset, |f| f.offset).ok()?;
    let f = &mut seg.frames[i];
    if f.settled {
      return None;
    }
    f.settled = true;
    let records = f.records;
    seg.pending -= 1;
    seg.pending_records -= records as u64;
    while seg.frames.front().is_some_and(|f| f.settled) {
      seg.frames.pop_front();
    }
    Some(Settled {
      records,
      segment_done: seg.done(),
    })
  }

  /// The lowest segment held (every lower one is settled), or `next_seq` when none is.
  pub fn below(&self, next_seq: u64) -> u64 {
    self.segs.keys().next().copied().unwrap_or(next_seq)
  }

  /// Per segment, where its first frame not known to be settled starts.
  pub fn starts(&self) -> Vec<(u64, u64)> {
    self
      .segs
      .iter()
      .map(|(seq, seg)| (*seq, seg.frames.front().map_or(seg.cursor, |f| f.offset)))
      .collect()
  }

  /// Per segment, its length on disk.
  pub fn lengths(&self) -> Vec<(u64, u64)> {
    self.segs.iter().map(|(seq, seg)| (*seq, seg.bytes)).collect()
  }

  /// Frames settled out of order (beyond each segment's first unsettled frame), and the skips
  /// replay has not reached yet: what the ledger must list besides the starts.
  pub fn settled_beyond(&self) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = self
      .segs
      .iter()
      .flat_map(|(seq, seg)| {
        seg
          .frames
          .iter()
          .filter(|f| f.settled)
          .map(move |f| (*seq, f.offset))
      })
      .chain(self.skip.iter().copied())
      .collect();
    out.sort_unstable();
    out
  }

  pub fn totals(&self) -> (u64, u64, u64, u64) {
    self
      .segs
      .values()
      .fold((0, 0, 0, 0), |(files, bytes, batches, records), s| {
        (
          files + 1,
          bytes + s.bytes,
          batches + s.pending,
          records + s.pending_records,
        )
      })
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn starts_follow_the_first_unsettled_frame_and_out_of_order_settles_are_listed() {
    let mut t = Tracker::default();
    t.add(1, "a".into(), 16, 16);
    t.push(1, 16, 2, 40);
    t.push(1, 40, 1, 60);
    t.push(1, 60, 1, 80);
    t.add(2, "b".into(), 16, 16);
    t.push(2, 16, 1, 30);
    t.push(2, 30, 1, 50);
    assert_eq!(t.starts(), vec![(1, 16), (2, 16)]);
    assert!(!t.settle(1, 40).unwrap().segment_done);
    assert!(t.settle(1, 40).is_none(), "settling twice is a no-op");
    assert_eq!(t.settled_beyond(), vec![(1, 40)]);
    t.settle(1, 16).unwrap();
    t.settle(2, 16).unwrap();
    assert_eq!(t.starts(), vec![(1, 60), (2, 30)]);
    assert!(t.settled_beyond().is_empty());
    t.get_mut(1).unwrap().complete = true;
    assert!(t.settle(1, 60).unwrap().segment_done);
    t.remove(1);
    assert_eq!(t.below(9), 2);
  }
}
