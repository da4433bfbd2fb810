//! `staging::frames` on arbitrary blocks: no panic, every record slice lies inside the block,
//! nanoseconds are always valid, and the walk ends after an error.
#![no_main]

use fluent_forward::staging::{frames, Anchor, HEADER};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
  // The first 16 bytes pick the anchor, the rest is the block.
  if data.len() < 16 {
    return;
  }
  let (head, block) = data.split_at(16);
  let anchor = Anchor {
    wall_ns: u64::from_le_bytes(head[..8].try_into().unwrap()),
    mono_ms: f64::from_le_bytes(head[8..16].try_into().unwrap()),
  };
  let (lo, hi) = (block.as_ptr() as usize, block.as_ptr() as usize + block.len());
  let mut seen = 0usize;
  let mut it = frames(block, anchor);
  while let Some(frame) = it.next() {
    seen += 1;
    assert!(
      seen <= block.len() / HEADER + 1,
      "more frames than the block can hold"
    );
    match frame {
      Ok(f) => {
        let start = f.record.as_ptr() as usize;
        assert!(
          start >= lo + HEADER && start + f.record.len() <= hi,
          "record outside the block"
        );
        assert!(
          f.time.nanos <= 999_999_999,
          "invalid nanoseconds {}",
          f.time.nanos
        );
      }
      Err(_) => {
        assert!(it.next().is_none(), "walk continued after an error");
        break;
      }
    }
  }
});
