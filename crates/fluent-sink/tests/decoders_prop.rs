//! The fuzz targets' properties (fuzz/fuzz_targets), as a bounded proptest pass that every
//! `cargo test` runs, so a regression in the receiver's decoders is caught without anyone
//! remembering to fuzz: framing and request decoding split at any point, the inflate path, and
//! the handshake parser, on arbitrary bytes and on well-formed requests with mutations.

use std::io::Write;
use std::sync::Arc;

use flate2::{write::GzEncoder, Compression};
use fluent_sink::auth::{answer, Security};
use fluent_sink::conn::Session;
use fluent_sink::decode::{skip, Time};
use fluent_sink::event::EventSink;
use fluent_sink::inflate::{gunzip, release, unzstd, InflateError};
use fluent_sink::limits::Limits;
use fluent_sink::memory::Memory;
use fluent_sink::request::{handle, Scratch};
use fluent_sink::stats::Tally;
use proptest::prelude::*;

const LIMITS: Limits = Limits {
  max_request_bytes: 4096,
  max_inflated_bytes: 16 << 10,
  ..fluent_sink::limits::DEFAULT_LIMITS
};

/// Feeds `data` in pieces of `piece` bytes; the tally, whether it ended without error, the peak.
fn feed(data: &[u8], piece: usize) -> (Tally, bool, u64) {
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
  let tally = s.tally;
  let peak = memory.peak();
  drop(s);
  assert_eq!(memory.now(), 0);
  (tally, ok, peak)
}

fn gzip(data: &[u8]) -> Vec<u8> {
  let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
  enc.write_all(data).unwrap();
  enc.finish().unwrap()
}

/// A record `{"k<i>": <int>}` of `n` fields.
fn record(n: u8, v: u8) -> Vec<u8> {
  let mut r = vec![0x80 | (n & 0x0f)];
  for i in 0..(n & 0x0f) {
    r.extend([0xa2, b'k', b'0' + i % 10, v & 0x7f]);
  }
  r
}

/// One well-formed request of `entries` events in the mode `mode` picks.
fn request(mode: u8, entries: &[(u8, u8)]) -> Vec<u8> {
  let entry = |&(n, v): &(u8, u8)| {
    let mut e = vec![0x92, 0xce, 0x65, 0x53, 0xf1, 0x00];
    e.extend(record(n, v));
    e
  };
  let packed: Vec<u8> = entries.iter().flat_map(entry).collect();
  let mut req = vec![0x93, 0xa1, b't'];
  match mode % 3 {
    0 => {
      req.push(0xdc);
      req.extend((entries.len() as u16).to_be_bytes());
      req.extend(packed);
      req.push(0x80);
    }
    1 => {
      req.push(0xc5);
      req.extend((packed.len() as u16).to_be_bytes());
      req.extend(packed);
      req.push(0x80);
    }
    _ => {
      let gz = gzip(&packed);
      req.push(0xc5);
      req.extend((gz.len() as u16).to_be_bytes());
      req.extend(gz);
      req.extend([0x81, 0xaa]);
      req.extend(b"compressed");
      req.push(0xa4);
      req.extend(b"gzip");
    }
  }
  req
}

struct Check(u64);

impl EventSink for Check {
  fn event(&mut self, _tag: &[u8], _time: Time, record: &[u8]) {
    assert_eq!(skip(record, 0, 1), Ok(record.len()));
    self.0 += 1;
  }
}

proptest! {
  #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

  #[test]
  fn arbitrary_bytes_decode_the_same_split_or_whole(data in prop::collection::vec(any::<u8>(), 0..3000), piece in 1usize..300) {
    let (split, split_ok, peak) = feed(&data, piece);
    let (whole, whole_ok, _) = feed(&data, usize::MAX);
    let window = 1usize << fluent_sink::inflate::zstd_window_log(LIMITS.max_inflated_bytes);
    prop_assert!(peak <= (LIMITS.max_request_bytes + 4096 + LIMITS.max_inflated_bytes + 1 + window) as u64);
    prop_assert_eq!(split_ok, whole_ok);
    prop_assert_eq!((split.events, split.requests, split.invalid), (whole.events, whole.requests, whole.invalid));
  }

  #[test]
  fn well_formed_requests_count_every_event_at_any_split(
    reqs in prop::collection::vec((any::<u8>(), prop::collection::vec((0u8..6, any::<u8>()), 0..40)), 1..6),
    piece in 1usize..500,
  ) {
    let mut data = Vec::new();
    let mut want = 0;
    for (mode, entries) in &reqs {
      data.extend(request(*mode, entries));
      want += entries.len() as u64;
    }
    let (t, ok, _) = feed(&data, piece);
    prop_assert!(ok);
    prop_assert_eq!(t.events, want);
    prop_assert_eq!(t.requests, reqs.len() as u64);
    prop_assert_eq!(t.invalid + t.errors, 0);
  }

  #[test]
  fn a_mutated_request_never_panics_and_hands_over_only_whole_records(
    entries in prop::collection::vec((0u8..6, any::<u8>()), 1..30),
    mode in any::<u8>(),
    at in any::<prop::sample::Index>(),
    byte in any::<u8>(),
  ) {
    let mut req = request(mode, &entries);
    let i = at.index(req.len());
    req[i] = byte;
    let memory = Arc::new(Memory::default());
    let mut scratch = Scratch::new(16 << 10, memory.clone());
    let mut sink = Check(0);
    if let Ok(out) = handle(&req, &mut scratch, &mut sink) {
      prop_assert!(out.counts.valid <= out.counts.entries);
      prop_assert_eq!(out.counts.valid, sink.0);
    }
    prop_assert_eq!(memory.now(), 0);
  }

  #[test]
  fn inflate_is_bounded_on_any_input(body in prop::collection::vec(any::<u8>(), 0..40_000), mode in 0u8..4, at in any::<prop::sample::Index>()) {
    const LIMIT: usize = 16 << 10;
    let input = match mode {
      0 => body.clone(),
      m => {
        let mut gz = gzip(&body);
        let i = at.index(gz.len());
        match m {
          1 => {}
          2 => gz[i] ^= 0x5a,
          _ => gz.truncate(i),
        }
        gz
      }
    };
    let memory = Memory::default();
    let mut out = Vec::new();
    let res = gunzip(&input, &mut out, LIMIT, &memory);
    prop_assert!(out.len() <= LIMIT + 1);
    prop_assert!(memory.peak() <= (2 * LIMIT + 2) as u64);
    if mode == 1 {
      if body.len() <= LIMIT {
        prop_assert_eq!(res, Ok(()));
        prop_assert_eq!(&out, &body);
      } else {
        prop_assert_eq!(res, Err(InflateError::TooLarge));
      }
    }
    release(&mut out, &memory);
    prop_assert_eq!(memory.now(), 0);
  }

  #[test]
  fn zstd_inflate_is_bounded_on_any_input(body in prop::collection::vec(any::<u8>(), 0..40_000), mode in 0u8..4, at in any::<prop::sample::Index>(), level in 1i32..=19) {
    const LIMIT: usize = 16 << 10;
    let input = match mode {
      0 => body.clone(),
      m => {
        let mut z = zstd::bulk::compress(&body, level).unwrap();
        let i = at.index(z.len());
        match m {
          1 => {}
          2 => z[i] ^= 0x5a,
          _ => z.truncate(i),
        }
        z
      }
    };
    let memory = Memory::default();
    let mut out = Vec::new();
    let res = unzstd(&input, &mut out, LIMIT, &memory);
    prop_assert!(out.len() <= LIMIT + 1);
    // The output buffer as for gzip, plus the decoder's window (LIMIT, a power of two).
    prop_assert!(memory.peak() <= (3 * LIMIT + 2) as u64);
    if mode == 1 {
      if body.len() <= LIMIT {
        prop_assert_eq!(res, Ok(()));
        prop_assert_eq!(&out, &body);
      } else {
        prop_assert!(res.is_err());
      }
    }
    release(&mut out, &memory);
    prop_assert_eq!(memory.now(), 0);
  }

  #[test]
  fn the_handshake_parser_refuses_any_ping_it_cannot_verify(data in prop::collection::vec(any::<u8>(), 0..600), tweak in any::<bool>()) {
    let sec = Security { shared_key: "secret".into(), self_hostname: "server".into(), users: vec![] };
    // Half the cases are a PING-shaped array of six strings, so the parser gets past the shape.
    let frame = if tweak {
      let mut f = vec![0x96, 0xa4, b'P', b'I', b'N', b'G'];
      for chunk in data.chunks(data.len() / 5 + 1).take(5) {
        f.push(0xd9);
        f.push(chunk.len() as u8);
        f.extend(chunk);
      }
      f
    } else {
      data
    };
    let (reply, verdict) = answer(&sec, &[1; 16], &[2; 16], &frame);
    prop_assert!(verdict.is_err());
    prop_assert_eq!(skip(&reply, 0, 1), Ok(reply.len()));
    prop_assert_eq!(reply[6], 0xc2);
  }
}
