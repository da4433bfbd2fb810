//! Writer-thread cost of `vet` (the full msgpack walk of every record before a batch is sent), per
//! record, for a small and a medium log record. Run: `cargo run --release -p fluent-forward --example vet_cost`
use fluent_forward::codec::entry::write_entry;
use fluent_forward::queue::Chunk;
use fluent_forward::{EventTime, TimeFormat};
use std::sync::Arc;
use std::time::Instant;

fn chunk(record: &[u8], n: usize) -> Chunk {
  let mut c = Chunk {
    tag: Arc::from("bench"),
    tag_id: 0,
    entries: Vec::new(),
    offsets: Vec::new(),
    since: Instant::now(),
  };
  let t = EventTime::new(1_700_000_000, 5).unwrap();
  for _ in 0..n {
    c.offsets.push(c.entries.len() as u32);
    write_entry(&mut c.entries, t, TimeFormat::EventTime, record);
  }
  c
}

fn main() {
  // {level, msg, n, user, ok}: the benchmark's small record, about 60 bytes.
  let small: &[u8] =
    b"\x85\xa5level\xa4info\xa3msg\xb2request handled ok\xa1n\xcd\x30\x39\xa4user\xa5alice\xa2ok\xc3";
  // 20 fields of mixed kinds, about 400 bytes.
  let mut medium = vec![0xde, 0x00, 0x14];
  for i in 0..20u8 {
    medium.push(0xa6);
    medium.extend_from_slice(format!("field{:1}", i % 10).as_bytes());
    match i % 4 {
      0 => medium.extend_from_slice(b"\xb4a value of 20 chars."),
      1 => medium.extend_from_slice(&[0xcd, 0x01, i]),
      2 => medium.extend_from_slice(&[0xcb, 0x40, 0x09, 0x21, 0xfb, 0x54, 0x44, 0x2d, 0x18]),
      _ => medium.extend_from_slice(b"\x82\xa1a\x01\xa1b\xa8nested!!"),
    }
  }
  for (name, record) in [("small", small), ("medium", &medium[..])] {
    let n = (512 << 10) / (record.len() + 11);
    let mut c = chunk(record, n);
    let rounds = 200;
    let start = Instant::now();
    for _ in 0..rounds {
      assert_eq!(fluent_forward::vet::vet(&mut c), (0, 0));
    }
    let ns = start.elapsed().as_nanos() as f64 / (rounds * n) as f64;
    println!(
      "vet {name} ({} B records): {ns:.1} ns per record on the writer thread",
      record.len()
    );
  }
}
