//! `inflate::unzstd` with a 64 KiB limit: on raw bytes, and on a real zstd frame of the input with
//! one byte changed or cut short (the first byte picks). No panic; the output never above the
//! limit; the accounted memory never above the output buffer's bound plus the decoder's window; a
//! clean frame round-trips.
#![no_main]

use fluent_sink::inflate::{release, unzstd, zstd_window_log, InflateError};
use fluent_sink::memory::Memory;
use libfuzzer_sys::fuzz_target;

const LIMIT: usize = 64 << 10;

fuzz_target!(|data: &[u8]| {
  let Some((&mode, body)) = data.split_first() else {
    return;
  };
  let memory = Memory::default();
  let mut out = Vec::new();
  let input = match mode % 4 {
    0 => body.to_vec(),
    m => {
      let mut z = zstd::bulk::compress(body, 1 + i32::from(mode % 19)).unwrap();
      let at = usize::from(mode) % z.len();
      match m {
        1 => {}
        2 => z[at] ^= 0x5a,
        _ => z.truncate(at),
      }
      z
    }
  };
  let res = unzstd(&input, &mut out, LIMIT, &memory);
  let window = 1u64 << zstd_window_log(LIMIT);
  assert!(out.len() <= LIMIT + 1);
  assert!(memory.peak() <= (2 * LIMIT + 2) as u64 + window, "peak {}", memory.peak());
  if mode % 4 == 1 {
    if body.len() <= LIMIT {
      assert_eq!(res, Ok(()));
      assert_eq!(out, body);
    } else {
      assert!(matches!(res, Err(InflateError::TooLarge | InflateError::Corrupt)));
    }
  }
  release(&mut out, &memory);
  assert_eq!(memory.now(), 0);
});
