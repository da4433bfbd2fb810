//! A connection's framing and request decoding (`conn::Session`) on arbitrary client bytes, fed in
//! pieces whose sizes the first byte picks: no panic; the same counts as feeding everything at
//! once; the accounted read buffer never above `max_request_bytes` + 4 KiB; nothing accounted
//! once the session is dropped.
#![no_main]

use std::sync::Arc;

use fluent_sink::conn::Session;
use fluent_sink::limits::Limits;
use fluent_sink::memory::Memory;
use libfuzzer_sys::fuzz_target;

const LIMITS: Limits = Limits {
  max_request_bytes: 4096,
  max_inflated_bytes: 16 << 10,
  ..fluent_sink::limits::DEFAULT_LIMITS
};

fn feed(data: &[u8], piece: usize) -> (fluent_sink::stats::Tally, Vec<u8>, bool, u64) {
  let memory = Arc::new(Memory::default());
  let mut s = Session::with_limits((), true, LIMITS, memory.clone());
  let mut rest = data;
  let mut ok = true;
  'feed: while !rest.is_empty() {
    let space = s.space();
    let n = space.len().min(rest.len()).min(piece);
    space[..n].copy_from_slice(&rest[..n]);
    rest = &rest[n..];
    if s.filled(n).is_err() {
      ok = false;
      break;
    }
    while s.backlog() {
      if s.filled(0).is_err() {
        ok = false;
        break 'feed;
      }
    }
  }
  let peak = memory.peak();
  let acks = s.acks().to_vec();
  let tally = s.tally;
  drop(s);
  assert_eq!(memory.now(), 0, "a dropped session holds nothing");
  (tally, acks, ok, peak)
}

fuzz_target!(|data: &[u8]| {
  let Some((&first, data)) = data.split_first() else {
    return;
  };
  let piece = usize::from(first) + 1;
  let (split, split_acks, split_ok, peak) = feed(data, piece);
  let (whole, whole_acks, whole_ok, _) = feed(data, usize::MAX);
  // Buffer (<= limit + 4 KiB) plus at most one inflate buffer (<= max_inflated + 1 + one step).
  // The zstd decoder's window (accounted while it lives) on top of the inflate buffer.
  let window = 1usize << fluent_sink::inflate::zstd_window_log(LIMITS.max_inflated_bytes);
  let bound = (LIMITS.max_request_bytes + 4096 + LIMITS.max_inflated_bytes + 1 + (64 << 10) + window) as u64;
  assert!(peak <= bound, "peak {peak} over {bound}");
  assert_eq!(split_ok, whole_ok);
  assert_eq!(split.events, whole.events);
  assert_eq!(split.requests, whole.requests);
  assert_eq!(split.invalid, whole.invalid);
  assert_eq!(split_acks, whole_acks);
});
