//! The block handover: a block of frames staged by the JS thread enters the queue under one lock,
//! each frame checked (cheaply in release builds) rather than trusted.

use super::{Admission, Client, StagedPush};
use crate::codec::validate::{record_len, Invalid};
use crate::error::Error;
use crate::event::Event;
use crate::queue::Pushed;
use crate::staging::{self, Anchor, Staged};

impl Client {
  /// Buffers a staged block from the JS thread (see `staging`): one lock for the whole block.
  /// Returns the bytes buffered afterwards, which JS uses to anticipate the cap, and what happened
  /// to the last frame (JS hands a record over on its own when its estimate says it may not fit, and
  /// reports this answer from `emit`).
  ///
  /// Frames are checked, not trusted: one the JS side got wrong (unknown tag, too large, not a
  /// msgpack map) is not queued, counts as dropped and is reported once per block through the event
  /// sink as `Error::Internal`, while the block's other frames go in; so the answer stays true.
  /// (`Err` is not returned for frame problems, since it would lose that answer.)
  pub fn push_staged(&self, block: &[u8], anchor: Anchor) -> Result<StagedPush, Error> {
    let max = self.shared.config.max_record_bytes;
    let mut wake = false;
    let mut bad: Option<(usize, String)> = None;
    let mut bad_count = 0u64;
    let mut last = None;
    let mut not_queued = 0u64;
    let queued = {
      let mut q = self.shared.queue.lock();
      let before = q.unreported_drops;
      // Prefetch distances in records: far enough for a miss to arrive, near enough to stay cached.
      let mut slots_ahead = staging::tags(block).skip(8);
      let mut tails_ahead = staging::tags(block).skip(4);
      for (i, frame) in staging::frames(block, anchor).enumerate() {
        if let Some(t) = slots_ahead.next() {
          q.prefetch_slot(t);
        }
        if let Some(t) = tails_ahead.next() {
          q.prefetch_tail(t);
        }
        let f = match frame {
          Ok(f) => f,
          Err(e) => {
            // The walk cannot go on: whatever followed is lost with this frame, at least one record.
            bad_count += 1;
            bad.get_or_insert_with(|| (i, format!("{e}; the rest of the block is lost")));
            last = Some(Admission::Dropped);
            break;
          }
        };
        if let Some(why) = staged_fault(&f, max, q.has_tag(f.tag)) {
          bad_count += 1;
          bad.get_or_insert_with(|| (i, format!("tag {}, {} bytes: {why}", f.tag, f.record.len())));
          last = Some(Admission::Dropped);
          continue;
        }
        let pushed = q.push(f.tag, f.time, f.record, &self.shared.limits);
        last = Some(match pushed {
          Pushed::Accepted { wake: w } => {
            wake |= w;
            Admission::Accepted
          }
          // Under the `error` policy the caller throws for this record; it is counted as refused.
          Pushed::Full => Admission::Full,
          Pushed::Dropped => Admission::Dropped,
          Pushed::Closed => Admission::Closed,
        });
        not_queued += u64::from(last != Some(Admission::Accepted));
      }
      q.refused += bad_count;
      wake |= before == 0 && q.unreported_drops > 0;
      q.bytes + q.held_bytes
    };
    if wake {
      self.shared.wake.notify_one();
    }
    if let Some((i, what)) = bad {
      let more = match bad_count {
        1 => String::new(),
        n => format!(" ({} more bad frame(s) in the block)", n - 1),
      };
      self.shared.emit(Event::Error {
        error: Error::Internal(format!("staged frame {i} dropped: {what}{more}")),
        records: bad_count,
        tag: None,
      });
    }
    Ok(StagedPush {
      queued_bytes: queued as u64,
      last,
      refused: not_queued + bad_count,
    })
  }
}

/// Why a staged frame cannot be queued, if it cannot. The full msgpack walk runs in debug builds
/// only: it costs several times the rest of the handover (see `examples/staged_cost.rs`), so release
/// builds check what is cheap and catches a frame that is misplaced or overwritten, its first byte.
fn staged_fault(f: &Staged<'_>, max: usize, known_tag: bool) -> Option<String> {
  if !known_tag {
    return Some("unknown tag id".into());
  }
  if f.record.len() > max {
    return Some(format!("larger than maxRecordBytes ({max})"));
  }
  if cfg!(debug_assertions) {
    return match record_len(f.record) {
      Ok(n) if n == f.record.len() => None,
      Ok(n) => Some(format!("{} trailing bytes after the record", f.record.len() - n)),
      Err(e) => Some(e.to_string()),
    };
  }
  match f.record.first() {
    Some(0x80..=0x8f | 0xde | 0xdf) => None,
    _ => Some(Invalid::NotAMap.to_string()),
  }
}
