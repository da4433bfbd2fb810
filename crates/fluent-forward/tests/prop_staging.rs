//! Property tests of the staged-block format: `staging::write_frame` (what the JS side writes) and
//! `staging::frames` (what the native side reads).

use fluent_forward::staging::{frames, write_frame, Anchor, FrameTime, HEADER, NOW};
use fluent_forward::EventTime;
use proptest::prelude::*;

fn event_time() -> impl Strategy<Value = EventTime> {
  (any::<u32>(), 0u32..=999_999_999).prop_map(|(seconds, nanos)| EventTime { seconds, nanos })
}

fn frame_time() -> impl Strategy<Value = FrameTime> {
  prop_oneof![
    3 => event_time().prop_map(FrameTime::At),
    // the top second (0xFFFFFFFF) with real nanoseconds: NOW lives in the nanoseconds slot
    1 => (0u32..=999_999_999).prop_map(|nanos| FrameTime::At(EventTime { seconds: u32::MAX, nanos })),
    2 => (0.0f64..1e12).prop_map(FrameTime::StampMs),
    1 => any::<f64>().prop_map(FrameTime::StampMs), // NaN, infinities, negatives
  ]
}

fn anchor() -> impl Strategy<Value = Anchor> {
  (0u64..=(u32::MAX as u64 + 1) * 1_000_000_000, 0.0f64..1e12)
    .prop_map(|(wall_ns, mono_ms)| Anchor { wall_ns, mono_ms })
}

#[derive(Debug, Clone)]
struct Frame {
  tag: u32,
  time: FrameTime,
  record: Vec<u8>,
}

fn frame() -> impl Strategy<Value = Frame> {
  (
    any::<u32>(),
    frame_time(),
    prop::collection::vec(any::<u8>(), 0..300),
  )
    .prop_map(|(tag, time, record)| Frame { tag, time, record })
}

fn expected_time(t: FrameTime, anchor: &Anchor) -> EventTime {
  match t {
    FrameTime::At(t) => t,
    FrameTime::StampMs(ms) => anchor.time_of(ms),
  }
}

fn offset_in(whole: &[u8], part: &[u8]) -> Option<usize> {
  let off = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
  (off + part.len() <= whole.len()).then_some(off)
}

/// For any block: no panic, a bounded number of frames, records inside the block right after
/// their header, valid nanoseconds, and nothing after an error.
fn check_any(block: &[u8], anchor: Anchor) -> Result<(), TestCaseError> {
  let mut it = frames(block, anchor);
  let mut count = 0;
  while let Some(frame) = it.next() {
    count += 1;
    prop_assert!(count <= block.len() / HEADER + 1, "too many frames");
    match frame {
      Ok(f) => {
        let off = offset_in(block, f.record);
        prop_assert!(off.is_some(), "record slice outside the block");
        let off = off.unwrap();
        prop_assert!(
          off >= HEADER && (off - HEADER).is_multiple_of(8),
          "record at {} is not after an aligned header",
          off
        );
        let len = u32::from_ne_bytes(block[off - 20..off - 16].try_into().unwrap()) as usize;
        prop_assert_eq!(f.record.len(), len);
        prop_assert!(f.time.nanos <= 999_999_999, "nanos {}", f.time.nanos);
      }
      Err(_) => {
        prop_assert!(it.next().is_none(), "frames went on after an error");
        break;
      }
    }
  }
  Ok(())
}

proptest! {
  #![proptest_config(ProptestConfig::with_cases(1024))]

  #[test]
  fn frames_round_trip(fs in prop::collection::vec(frame(), 0..12), anchor in anchor()) {
    let mut block = Vec::new();
    for f in &fs {
      let before = block.len();
      write_frame(&mut block, f.tag, f.time, &f.record);
      prop_assert!(block.len().is_multiple_of(8));
      prop_assert_eq!(block.len() - before, (HEADER + f.record.len()).next_multiple_of(8));
    }
    let got: Vec<_> = frames(&block, anchor).collect::<Result<_, _>>().map_err(TestCaseError::fail)?;
    prop_assert_eq!(got.len(), fs.len());
    for (g, f) in got.iter().zip(&fs) {
      prop_assert_eq!(g.tag, f.tag);
      prop_assert_eq!(g.record, &f.record[..]);
      prop_assert_eq!(g.time, expected_time(f.time, &anchor));
    }
  }

  /// The last frame's padding is optional: a block cut right after its record still reads.
  #[test]
  fn unpadded_last_frame_reads(fs in prop::collection::vec(frame(), 1..6), anchor in anchor()) {
    let mut block = Vec::new();
    for f in &fs {
      write_frame(&mut block, f.tag, f.time, &f.record);
    }
    let last = fs.last().unwrap();
    let padding = (HEADER + last.record.len()).next_multiple_of(8) - (HEADER + last.record.len());
    let unpadded = block.len() - padding;
    let got: Vec<_> = frames(&block[..unpadded], anchor).collect::<Result<_, _>>().map_err(TestCaseError::fail)?;
    prop_assert_eq!(got.len(), fs.len());
    prop_assert_eq!(got.last().unwrap().record, &last.record[..]);
  }

  /// Every second is a usable second: only the nanoseconds slot carries the NOW sentinel.
  #[test]
  fn top_second_with_real_nanos_round_trips(nanos in 0u32..=999_999_999, anchor in anchor()) {
    let t = EventTime { seconds: u32::MAX, nanos };
    let mut block = Vec::new();
    write_frame(&mut block, 7, FrameTime::At(t), &[0x80]);
    let got: Vec<_> = frames(&block, anchor).collect::<Result<_, _>>().map_err(TestCaseError::fail)?;
    prop_assert_eq!(got.len(), 1);
    prop_assert_eq!(got[0].time, t);
  }

  /// A stamp maps to the anchor's wall time minus its age (never later than the anchor).
  #[test]
  fn stamps_map_to_wall_time_before_the_anchor(
    wall_ns in 0u64..u32::MAX as u64 * 1_000_000_000,
    mono_ms in 0.0f64..1e12,
    age_ms in 0.0f64..1e9,
  ) {
    let anchor = Anchor { wall_ns, mono_ms };
    let mut block = Vec::new();
    write_frame(&mut block, 1, FrameTime::StampMs(mono_ms - age_ms), &[]);
    prop_assert_eq!(u32::from_ne_bytes(block[12..16].try_into().unwrap()), NOW);
    let got = frames(&block, anchor).next().unwrap().map_err(TestCaseError::fail)?;
    let got_ns = got.time.seconds as u64 * 1_000_000_000 + got.time.nanos as u64;
    prop_assert!(got_ns <= wall_ns, "{} is later than the anchor {}", got_ns, wall_ns);
    // mono_ms - (mono_ms - age_ms) loses up to an ulp of mono_ms (~0.2 us at 1e12 ms)
    let want = wall_ns.saturating_sub((age_ms * 1e6).round() as u64);
    prop_assert!(got_ns.abs_diff(want) <= 1_000, "got {} want {}", got_ns, want);
  }

  #[test]
  fn arbitrary_bytes_never_panic_or_overrun(
    block in prop::collection::vec(any::<u8>(), 0..512),
    anchor in anchor(),
  ) {
    check_any(&block, anchor)?;
  }

  /// Valid blocks with one header byte changed (lengths, times, the sentinel).
  #[test]
  fn mutated_blocks_never_panic_or_overrun(
    fs in prop::collection::vec(frame(), 1..6),
    anchor in anchor(),
    at in any::<prop::sample::Index>(),
    byte in any::<u8>(),
    cut in any::<prop::sample::Index>(),
  ) {
    let mut block = Vec::new();
    for f in &fs {
      write_frame(&mut block, f.tag, f.time, &f.record);
    }
    let i = at.index(block.len());
    block[i] = byte;
    check_any(&block, anchor)?;
    check_any(&block[..cut.index(block.len() + 1)], anchor)?;
  }
}
