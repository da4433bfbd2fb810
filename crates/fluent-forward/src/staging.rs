//! The staged-batch format in which the JS thread hands records over: many records per native call,
//! because one Node-API call costs more than encoding a small record (see docs/design.md).
//!
//! A block is a sequence of 8-byte-aligned frames, each a 24-byte header in native byte order
//! (JS writes it through typed arrays) followed by one msgpack map:
//!
//! | offset | type | field |
//! |---|---|---|
//! | 0 | u32 | tag id (from `Client::tag_id`) |
//! | 4 | u32 | record length in bytes |
//! | 8 | u32 | seconds |
//! | 12 | u32 | nanoseconds, or `NOW` to use the stamp (never a valid nanosecond count, so every second is usable) |
//! | 16 | f64 | monotonic stamp in ms (`performance.now()`) when nanoseconds is `NOW` |

use crate::codec::event_time::EventTime;
use std::time::{SystemTime, UNIX_EPOCH};

pub const HEADER: usize = 24;
/// In the nanoseconds slot: "stamp me now". Valid nanoseconds stop at 999,999,999.
pub const NOW: u32 = u32::MAX;

/// Ties the JS monotonic clock to the wall clock at the moment of the handover, so each record's
/// stamp becomes a wall-clock time with nanosecond resolution. Nanoseconds since the epoch fit a u64
/// until 2554; the per-record arithmetic stays in 64 bits, where division by a constant and the
/// float conversions are inline instructions rather than the library calls that u128 needs.
#[derive(Clone, Copy, Debug)]
pub struct Anchor {
  pub wall_ns: u64,
  pub mono_ms: f64,
}

impl Anchor {
  pub fn now(mono_ms: f64) -> Self {
    let wall_ns = SystemTime::now()
      .duration_since(UNIX_EPOCH)
      .map(|d| d.as_nanos().min(u64::MAX as u128) as u64)
      .unwrap_or(0);
    Self { wall_ns, mono_ms }
  }

  pub fn time_of(&self, stamp_ms: f64) -> EventTime {
    let age = (self.mono_ms - stamp_ms) * 1e6;
    // A stamp from the future (clock quirk) or NaN counts as "now".
    let age_ns = if age.is_finite() && age > 0.0 {
      round_positive(age)
    } else {
      0
    };
    let wall = self.wall_ns.saturating_sub(age_ns);
    let seconds = (wall / 1_000_000_000).min(u32::MAX as u64) as u32;
    EventTime {
      seconds,
      nanos: (wall % 1_000_000_000) as u32,
    }
  }
}

/// `x.round() as u64` for a finite `x > 0` (half away from zero; saturating past u64), without the
/// libm call `round` is on x86-64's baseline. Above 2^53 every f64 is an integer, so the
/// truncation is exact there and the fraction is 0.
fn round_positive(x: f64) -> u64 {
  let whole = x as u64;
  if x - whole as f64 >= 0.5 {
    whole.saturating_add(1)
  } else {
    whole
  }
}

/// When a staged record happened: a fixed time, or a monotonic stamp to map at the handover.
#[derive(Clone, Copy, Debug)]
pub enum FrameTime {
  At(EventTime),
  StampMs(f64),
}

/// Appends one frame, as the JS side writes it (for tests and tools on the Rust side).
pub fn write_frame(out: &mut Vec<u8>, tag: u32, time: FrameTime, record: &[u8]) {
  let (sec, nsec, stamp) = match time {
    FrameTime::At(t) => (t.seconds, t.nanos, 0.0),
    FrameTime::StampMs(ms) => (0, NOW, ms),
  };
  out.extend_from_slice(&tag.to_ne_bytes());
  out.extend_from_slice(&(record.len() as u32).to_ne_bytes());
  out.extend_from_slice(&sec.to_ne_bytes());
  out.extend_from_slice(&nsec.to_ne_bytes());
  out.extend_from_slice(&stamp.to_ne_bytes());
  out.extend_from_slice(record);
  out.resize(out.len().next_multiple_of(8), 0);
}

/// One staged record.
pub struct Staged<'a> {
  pub tag: u32,
  pub time: EventTime,
  pub record: &'a [u8],
}

/// Walks a staged block. A frame whose header or length runs past the block ends the walk with `Err`
/// (the JS side wrote it, so that is a bug, reported rather than trusted).
pub fn frames(block: &[u8], anchor: Anchor) -> impl Iterator<Item = Result<Staged<'_>, &'static str>> {
  let mut at = 0usize;
  std::iter::from_fn(move || {
    if at >= block.len() {
      return None;
    }
    let Some(head) = block.get(at..at + HEADER) else {
      at = block.len();
      return Some(Err("staged block ends inside a header"));
    };
    let u32_at = |i: usize| u32::from_ne_bytes(head[i..i + 4].try_into().expect("4 bytes"));
    let (tag, len, sec, nsec) = (u32_at(0), u32_at(4) as usize, u32_at(8), u32_at(12));
    let stamp = f64::from_ne_bytes(head[16..24].try_into().expect("8 bytes"));
    let start = at + HEADER;
    let Some(record) = block.get(start..start + len) else {
      at = block.len();
      return Some(Err("staged record runs past the block"));
    };
    at = (start + len + 7) & !7;
    let time = if nsec == NOW {
      anchor.time_of(stamp)
    } else {
      EventTime {
        seconds: sec,
        nanos: nsec.min(999_999_999),
      }
    };
    Some(Ok(Staged { tag, time, record }))
  })
}

/// The tag ids of a block's frames, in order, read from their headers alone (for prefetching; ends
/// quietly where `frames` would report a bad frame).
pub fn tags(block: &[u8]) -> impl Iterator<Item = u32> + '_ {
  let mut at = 0usize;
  std::iter::from_fn(move || {
    let head = block.get(at..at + HEADER)?;
    let tag = u32::from_ne_bytes(head[0..4].try_into().expect("4 bytes"));
    let len = u32::from_ne_bytes(head[4..8].try_into().expect("4 bytes")) as usize;
    at = (at + HEADER).checked_add(len)?.checked_add(7)? & !7;
    Some(tag)
  })
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn walks_frames_and_maps_stamps_to_wall_time() {
    let mut block = Vec::new();
    write_frame(
      &mut block,
      1,
      FrameTime::At(EventTime {
        seconds: 1_700_000_000,
        nanos: 5,
      }),
      &[0x80],
    );
    write_frame(
      &mut block,
      2,
      FrameTime::StampMs(1000.25),
      &[0x81, 0xa1, b'a', 0x01],
    );
    let anchor = Anchor {
      wall_ns: 1_700_000_010_000_000_000,
      mono_ms: 1000.5,
    };
    let got: Vec<_> = frames(&block, anchor).map(|f| f.unwrap()).collect();
    assert_eq!(got.len(), 2);
    assert_eq!(
      (got[0].tag, got[0].time, got[0].record),
      (
        1,
        EventTime {
          seconds: 1_700_000_000,
          nanos: 5
        },
        &[0x80][..]
      )
    );
    // 0.25 ms before the anchor
    assert_eq!(
      got[1].time,
      EventTime {
        seconds: 1_700_000_009,
        nanos: 999_750_000
      }
    );
    assert_eq!(got[1].record.len(), 4);
  }

  #[test]
  fn tags_reads_the_headers_in_order_and_stops_where_a_frame_is_cut() {
    let mut block = Vec::new();
    for (tag, len) in [(3u32, 1usize), (9, 13), (3, 8)] {
      write_frame(&mut block, tag, FrameTime::StampMs(1.0), &vec![0x80; len]);
    }
    assert_eq!(tags(&block).collect::<Vec<_>>(), [3, 9, 3]);
    // Cut inside the third header: the walk ends after the second frame.
    let cut = block.len() - HEADER - 8 + 4;
    assert_eq!(tags(&block[..cut]).collect::<Vec<_>>(), [3, 9]);
    // A length running past the block yields its tag (a prefetch is harmless) and ends there.
    let mut huge = Vec::new();
    write_frame(&mut huge, 5, FrameTime::StampMs(1.0), &[0x80]);
    huge[4..8].copy_from_slice(&u32::MAX.to_ne_bytes());
    assert_eq!(tags(&huge).collect::<Vec<_>>(), [5]);
  }

  #[test]
  fn rejects_truncated_frames() {
    let mut block = Vec::new();
    write_frame(
      &mut block,
      1,
      FrameTime::At(EventTime { seconds: 1, nanos: 0 }),
      &[0x80, 0x80],
    );
    block.truncate(HEADER + 1);
    let anchor = Anchor::now(0.0);
    assert!(frames(&block, anchor).next().unwrap().is_err());
    assert!(frames(&block[..10], anchor).next().unwrap().is_err());
  }

  #[test]
  fn stamps_round_to_the_nearest_nanosecond_as_f64_round_does() {
    let anchor = Anchor {
      wall_ns: 1_700_000_000_000_000_000,
      mono_ms: 10_000.0,
    };
    // Reference: the same arithmetic in u128 with `f64::round`, as it was done before.
    let reference = |stamp: f64| {
      let age = ((anchor.mono_ms - stamp) * 1e6).round();
      let age = if age.is_finite() && age > 0.0 {
        age as u128
      } else {
        0
      };
      let wall = (anchor.wall_ns as u128).saturating_sub(age);
      EventTime {
        seconds: (wall / 1_000_000_000) as u32,
        nanos: (wall % 1_000_000_000) as u32,
      }
    };
    let mut stamps = vec![
      10_000.0,
      10_001.0,
      9_999.999_999_5,
      9_999.999_999_4,
      9_999.999_999_6,
      0.0,
      -1.0,
      1e-9,
      f64::NAN,
      f64::INFINITY,
      f64::NEG_INFINITY,
      9_000.000_000_5,
      4.999_999_999_5,
    ];
    // And a spread of stamps with fractional nanoseconds.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..10_000 {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      stamps.push((x % 10_000_000_000_000) as f64 / 1e9);
    }
    for stamp in stamps {
      assert_eq!(anchor.time_of(stamp), reference(stamp), "stamp {stamp}");
    }
    assert_eq!(round_positive(0.5), 1);
    assert_eq!(round_positive(0.499_999_999_999_999_94), 0);
    assert_eq!(round_positive(2.5), 3);
    assert_eq!(round_positive(1e300), u64::MAX);
  }

  /// REVIEW #14: the sentinel lives in the nanoseconds slot, so the last second a u32 can hold is an
  /// ordinary time, not "now".
  #[test]
  fn last_second_with_real_nanoseconds_is_kept() {
    let at = EventTime {
      seconds: u32::MAX,
      nanos: 123_456_789,
    };
    let mut block = Vec::new();
    write_frame(&mut block, 7, FrameTime::At(at), &[0x80]);
    let anchor = Anchor {
      wall_ns: 1_700_000_000_000_000_000,
      mono_ms: 5.0,
    };
    let got: Vec<_> = frames(&block, anchor).map(|f| f.unwrap()).collect();
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].tag, got[0].time), (7, at));
  }
}
