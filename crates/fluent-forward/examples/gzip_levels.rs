//! Measures gzip speed and ratio per level on the benchmark's large records (1 KiB of pseudo-random
//! text each) and on repetitive small records; this chose the default `compressionLevel`.
//! Run: `cargo run --release -p fluent-forward --example gzip_levels`
use fluent_forward::codec::gzip::GzipWriter;
use std::time::Instant;

fn pseudo_random_text() -> Vec<u8> {
  // The same generator as bench/worker.ts uses for its large records.
  let alphabet = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,:;-_/=+()[]{}";
  let mut seed: u32 = 0x2545f491;
  let pool: Vec<u8> = (0..65536)
    .map(|_| {
      seed = seed.wrapping_mul(1103515245).wrapping_add(12345);
      alphabet[((seed >> 16) as usize) % alphabet.len()]
    })
    .collect();
  let mut input = Vec::new();
  for i in 0..480usize {
    let o = (i * 7919) % (65536 - 1024);
    input.extend_from_slice(&pool[o..o + 1024]);
    input.extend_from_slice(b"\x86\xa5level\xa4info\xa3msg\xabhello world");
  }
  input
}

fn small_records() -> Vec<u8> {
  let mut input = Vec::new();
  for i in 0..8000u32 {
    input.extend_from_slice(b"\x92\xd7\x00\x65\x53\xf1\x00\x00\x00\x00\x00");
    input.extend_from_slice(b"\x85\xa5level\xa4info\xa3msg\xabhello world\xa1n\xce");
    input.extend_from_slice(&i.to_be_bytes());
    input.extend_from_slice(b"\xa4user\xa4u123\xa2ok\xc3");
  }
  input
}

fn main() {
  for (name, input) in [
    ("large (pseudo-random text)", pseudo_random_text()),
    ("small records", small_records()),
  ] {
    for level in [1, 3, 6, 9] {
      let mut gz = GzipWriter::new(level);
      let mut out = Vec::new();
      let rounds = 40;
      let t = Instant::now();
      for _ in 0..rounds {
        out.clear();
        gz.compress_into(&input, &mut out);
      }
      let mbps = (input.len() * rounds) as f64 / t.elapsed().as_secs_f64() / 1e6;
      let ratio = out.len() as f64 / input.len() as f64;
      println!(
        "{name:28} level {level}: {mbps:6.0} MB/s  compressed to {:.0} %",
        ratio * 100.0
      );
    }
  }
}
