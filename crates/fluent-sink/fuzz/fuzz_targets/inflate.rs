//! `inflate::gunzip` with a 64 KiB limit: on raw bytes, and on a real gzip stream of the input
//! with one byte changed or cut short (the first byte picks). No panic; the output never above
//! the limit; the accounted buffer never above limit + 1 + one step; a clean stream round-trips.
#![no_main]

use std::io::Write;

use flate2::{write::GzEncoder, Compression};
use fluent_sink::inflate::{gunzip, release, InflateError};
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
      let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
      enc.write_all(body).unwrap();
      let mut gz = enc.finish().unwrap();
      let at = usize::from(mode) % gz.len();
      match m {
        1 => {}
        2 => gz[at] ^= 0x5a,
        _ => gz.truncate(at),
      }
      gz
    }
  };
  let res = gunzip(&input, &mut out, LIMIT, &memory);
  assert!(out.len() <= LIMIT + 1);
  assert!(memory.peak() <= (2 * LIMIT + 2) as u64, "peak {}", memory.peak());
  if mode % 4 == 1 {
    if body.len() <= LIMIT {
      assert_eq!(res, Ok(()));
      assert_eq!(out, body);
    } else {
      assert_eq!(res, Err(InflateError::TooLarge));
    }
  }
  release(&mut out, &memory);
  assert_eq!(memory.now(), 0);
});
