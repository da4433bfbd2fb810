//! Replaying leftovers: segment by segment, oldest first, through the reader, registering each
//! batch with the tracker so it can be settled.

use std::io;

use super::format::FILE_HEADER_LEN;
use super::reader::{Damage, DamageKind, Item, SegmentReader};
use super::{batch, Replayed, Spool, SpoolId};

impl Spool {
  /// The next leftover batch or damaged stretch, oldest first; `None` when replay is done.
  pub fn replay_next(&mut self) -> Option<Replayed> {
    loop {
      let (seq, reader) = match self.reader.as_mut() {
        Some((seq, r)) => (*seq, r),
        None => {
          let seq = self.unread.pop_front()?;
          let Some(seg) = self.tracker.get(seq) else {
            continue;
          };
          let recorded = self.recorded.remove(&seq);
          match SegmentReader::open(&seg.path, seg.cursor, recorded) {
            Ok(r) => self.reader = Some((seq, r)),
            Err(e) => return Some(Replayed::Damaged(self.lose_segment(seq, e))),
          }
          continue;
        }
      };
      let item = reader.next_item();
      let pos = reader.pos();
      match item {
        Ok(Some(Item::Frame { offset, payload })) => {
          if self.tracker.take_skip(seq, offset) {
            self.tracker.push_settled(seq, offset, pos);
            self.ledger_dirty = true;
            continue;
          }
          match batch::decode(&payload) {
            Ok(b) => {
              self.tracker.push(seq, offset, b.records() as u32, pos);
              self.stats.replayed += 1;
              self.stats.replayed_records += b.records() as u64;
              let id = SpoolId {
                seq,
                offset,
                len: payload.len() as u32,
              };
              return Some(Replayed::Batch(id, b));
            }
            Err(_) => {
              self.set_cursor(seq, pos);
              let file = self.path_of(seq);
              return Some(Replayed::Damaged(self.damaged(Damage {
                file,
                offset,
                bytes: pos - offset,
                kind: DamageKind::Malformed,
              })));
            }
          }
        }
        Ok(Some(Item::Damage(d))) => {
          self.set_cursor(seq, pos);
          return Some(Replayed::Damaged(self.damaged(d)));
        }
        Ok(None) => self.finish_reading(seq),
        Err(_) => {
          // An unreadable stretch: give up on the rest of this file, keep the batches read so far.
          let end = self.tracker.get(seq).map_or(pos, |s| s.bytes.max(pos));
          self.finish_reading(seq);
          let file = self.path_of(seq);
          return Some(Replayed::Damaged(self.damaged(Damage {
            file,
            offset: pos,
            bytes: end - pos,
            kind: DamageKind::Unreadable,
          })));
        }
      }
    }
  }

  fn set_cursor(&mut self, seq: u64, pos: u64) {
    if let Some(seg) = self.tracker.get_mut(seq) {
      seg.cursor = pos;
    }
    self.ledger_dirty = true;
  }

  fn finish_reading(&mut self, seq: u64) {
    self.reader = None;
    let done = self.tracker.get_mut(seq).is_some_and(|seg| {
      seg.complete = true;
      seg.done()
    });
    if done {
      self.delete_segment(seq);
    }
  }

  fn damaged(&mut self, d: Damage) -> Damage {
    self.stats.corrupted += 1;
    self.stats.corrupted_bytes += d.bytes;
    d
  }

  /// A leftover file that cannot be opened (removed under us): counted as damage, forgotten.
  fn lose_segment(&mut self, seq: u64, e: io::Error) -> Damage {
    let kind = if e.kind() == io::ErrorKind::NotFound {
      DamageKind::Missing
    } else {
      DamageKind::Unreadable
    };
    self.ledger_dirty = true;
    self.recorded.remove(&seq);
    let (file, offset, bytes) = match self.tracker.remove(seq) {
      Some(seg) => (seg.path, seg.cursor, seg.bytes.saturating_sub(seg.cursor)),
      None => (self.path_of(seq), FILE_HEADER_LEN, 0),
    };
    self.damaged(Damage {
      file,
      offset,
      bytes,
      kind,
    })
  }
}
