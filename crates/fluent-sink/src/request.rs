//! Decoding of one complete request: mode detection, entries, option map.

use crate::decode::{skip, str_at, value, Malformed, Value};
use crate::event::{forward, packed, time_and_record, Counts, EventSink};
use std::sync::Arc;

use crate::inflate::{gunzip, release, unzstd, InflateError};
use crate::limits::DEFAULT_MAX_INFLATED_BYTES;
use crate::memory::Memory;

/// Why a request could not be decoded; the connection is closed after any of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fatal {
  Malformed,
  /// A top-level value that is not an array (or `nil`).
  NotRequest,
  /// `compressed` names an algorithm we do not implement.
  Compression,
  CorruptGzip,
  CorruptZstd,
  TooLarge,
}

impl From<Malformed> for Fatal {
  fn from(_: Malformed) -> Self {
    Fatal::Malformed
  }
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Outcome<'a> {
  /// False for a `nil` heartbeat.
  pub request: bool,
  pub counts: Counts,
  pub size_mismatch: bool,
  /// The `chunk` id to acknowledge.
  pub chunk: Option<&'a [u8]>,
  /// Bytes a gzip or zstd payload inflated to (0 for other requests).
  pub inflated: usize,
}

/// What decoding a request may use beyond the request itself: the inflate buffer (held only while
/// its request is walked) and the limit on it.
#[derive(Debug)]
pub struct Scratch {
  inflated: Vec<u8>,
  max_inflated: usize,
  memory: Arc<Memory>,
}

impl Default for Scratch {
  fn default() -> Self {
    Scratch::new(DEFAULT_MAX_INFLATED_BYTES, Arc::default())
  }
}

impl Scratch {
  pub fn new(max_inflated: usize, memory: Arc<Memory>) -> Self {
    Scratch {
      inflated: Vec::new(),
      max_inflated,
      memory,
    }
  }
}

/// [`gunzip`] or [`unzstd`]: the same bounds for either.
type Inflate = fn(&[u8], &mut Vec<u8>, usize, &Memory) -> Result<(), InflateError>;

#[derive(Debug, Default)]
struct Options<'a> {
  chunk: Option<&'a [u8]>,
  /// `Some(None)`: a `size` key whose value is not a non-negative integer.
  size: Option<Option<u64>>,
  compressed: Option<&'a [u8]>,
}

/// Reads the option map; anything that is not a map, and keys we do not know, are ignored
/// (the spec lets servers ignore options).
fn options(buf: &[u8], pos: usize) -> Options<'_> {
  let mut o = Options::default();
  let Some((Value::Map(n), mut p)) = value(buf, pos) else {
    return o;
  };
  for _ in 0..n {
    let key = str_at(buf, p).map(|(k, _)| k);
    let Ok(v) = skip(buf, p, 1) else { break };
    match key {
      Some(b"chunk") => o.chunk = str_at(buf, v).map(|(s, _)| s),
      Some(b"size") => {
        o.size = Some(match value(buf, v) {
          Some((Value::UInt(n), _)) => Some(n),
          _ => None,
        })
      }
      Some(b"compressed") => o.compressed = str_at(buf, v).map(|(s, _)| s),
      _ => {}
    }
    let Ok(next) = skip(buf, v, 1) else { break };
    p = next;
  }
  o
}

fn invalid_request<'a>() -> Outcome<'a> {
  Outcome {
    request: true,
    counts: Counts { entries: 1, valid: 0 },
    ..Outcome::default()
  }
}

/// Decodes one complete request (as delimited by the framer) and feeds its valid events to `sink`.
///
/// Well-formed msgpack with the wrong shape is counted as invalid events and the stream goes on;
/// bytes that cannot be decoded at all are [`Fatal`].
pub fn handle<'a, S: EventSink>(
  frame: &'a [u8],
  scratch: &mut Scratch,
  sink: &mut S,
) -> Result<Outcome<'a>, Fatal> {
  let (n, p) = match value(frame, 0) {
    Some((Value::Nil, _)) => return Ok(Outcome::default()),
    Some((Value::Array(n), p)) => (n, p),
    _ => return Err(Fatal::NotRequest),
  };
  if n < 2 {
    return Ok(invalid_request());
  }
  let tag = str_at(frame, p).map(|(t, _)| t);
  let p = skip(frame, p, 1)?;
  let mut inflated_len = 0;
  let (counts, opts) = match value(frame, p) {
    Some((Value::Str(blob) | Value::Bin(blob), after)) => {
      if n > 3 {
        return Ok(invalid_request());
      }
      let opts = if n == 3 {
        options(frame, after)
      } else {
        Options::default()
      };
      let counts = match opts.compressed {
        None | Some(b"text") => packed(blob, tag, sink)?,
        Some(algorithm @ (b"gzip" | b"zstd")) => {
          let (inflate, corrupt): (Inflate, _) = match algorithm {
            b"gzip" => (gunzip, Fatal::CorruptGzip),
            _ => (unzstd, Fatal::CorruptZstd),
          };
          // Taken out of `scratch` so the sink can borrow the bytes while `scratch` stays usable.
          let mut inflated = std::mem::take(&mut scratch.inflated);
          let res = inflate(blob, &mut inflated, scratch.max_inflated, &scratch.memory);
          inflated_len = inflated.len();
          let counts = match res {
            Ok(()) => packed(&inflated, tag, sink).map_err(Fatal::from),
            Err(InflateError::Corrupt) => Err(corrupt),
            Err(InflateError::TooLarge) => Err(Fatal::TooLarge),
          };
          release(&mut inflated, &scratch.memory);
          counts?
        }
        Some(_) => return Err(Fatal::Compression),
      };
      (counts, opts)
    }
    Some((Value::Array(entries), first)) => {
      if n > 3 {
        return Ok(invalid_request());
      }
      let (counts, after) = forward(frame, first, entries, tag, sink)?;
      let opts = if n == 3 {
        options(frame, after)
      } else {
        Options::default()
      };
      (counts, opts)
    }
    Some(_) => {
      if !(3..=4).contains(&n) {
        return Ok(invalid_request());
      }
      let (after, ok) = time_and_record(frame, p, tag, sink)?;
      let opts = if n == 4 {
        options(frame, after)
      } else {
        Options::default()
      };
      (
        Counts {
          entries: 1,
          valid: u64::from(ok),
        },
        opts,
      )
    }
    None => return Err(Fatal::Malformed),
  };
  Ok(Outcome {
    request: true,
    counts,
    size_mismatch: opts.size.is_some_and(|s| s != Some(counts.entries)),
    chunk: opts.chunk,
    inflated: inflated_len,
  })
}

#[cfg(test)]
mod tests {
  use std::io::Write;

  use flate2::{write::GzEncoder, Compression};

  use super::*;
  use crate::decode::Time;

  #[derive(Default)]
  struct Collect(Vec<(String, Time, Vec<u8>)>);

  impl EventSink for Collect {
    fn event(&mut self, tag: &[u8], time: Time, record: &[u8]) {
      self
        .0
        .push((String::from_utf8(tag.to_vec()).unwrap(), time, record.to_vec()));
    }
  }

  fn run(frame: &[u8]) -> (Result<Outcome<'_>, Fatal>, Collect) {
    let mut sink = Collect::default();
    let out = handle(frame, &mut Scratch::default(), &mut sink);
    (out, sink)
  }

  fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
  }

  fn bin(data: &[u8]) -> Vec<u8> {
    let mut v = vec![0xc6];
    v.extend((data.len() as u32).to_be_bytes());
    v.extend(data);
    v
  }

  const ENTRY_A1: [u8; 15] = [
    0x92, 0xd7, 0x00, 0x65, 0x53, 0xf1, 0x00, 0x00, 0x00, 0x00, 0x00, 0x81, 0xa1, 0x61, 0x01,
  ];
  const TAG: [u8; 8] = [0xa7, b'a', b'p', b'p', b'.', b'l', b'o', b'g'];

  #[test]
  fn protocol_md_message_example() {
    let frame = [
      0x93, 0xa7, 0x61, 0x70, 0x70, 0x2e, 0x6c, 0x6f, 0x67, 0xd7, 0x00, 0x65, 0x53, 0xf1, 0x00, 0x07, 0x5b,
      0xcd, 0x15, 0x81, 0xa3, 0x6d, 0x73, 0x67, 0xa2, 0x68, 0x69,
    ];
    let (out, sink) = run(&frame);
    let out = out.unwrap();
    assert!(out.request);
    assert_eq!(out.counts, Counts { entries: 1, valid: 1 });
    assert_eq!(out.chunk, None);
    assert!(!out.size_mismatch);
    assert_eq!(
      sink.0,
      vec![(
        "app.log".into(),
        Time::Event(1_700_000_000, 123_456_789),
        vec![0x81, 0xa3, b'm', b's', b'g', 0xa2, b'h', b'i']
      )]
    );
  }

  #[test]
  fn protocol_md_packed_forward_example() {
    let frame = [
      0x93, 0xa7, 0x61, 0x70, 0x70, 0x2e, 0x6c, 0x6f, 0x67, 0xc4, 0x0f, 0x92, 0xd7, 0x00, 0x65, 0x53, 0xf1,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x81, 0xa1, 0x61, 0x01, 0x81, 0xa4, 0x73, 0x69, 0x7a, 0x65, 0x01,
    ];
    let (out, sink) = run(&frame);
    let out = out.unwrap();
    assert_eq!(out.counts, Counts { entries: 1, valid: 1 });
    assert!(!out.size_mismatch);
    assert_eq!(
      sink.0,
      vec![(
        "app.log".into(),
        Time::Event(1_700_000_000, 0),
        vec![0x81, 0xa1, b'a', 0x01]
      )]
    );
  }

  #[test]
  fn forward_mode_with_ack_and_size_mismatch() {
    let mut frame = vec![0x93];
    frame.extend(TAG);
    frame.extend([0x93]);
    frame.extend(ENTRY_A1);
    frame.extend([0x92, 0x05, 0x80]);
    frame.extend([0x92, 0x05, 0xc0]); // nil record: invalid
    frame.extend([
      0x82, 0xa4, b's', b'i', b'z', b'e', 0x02, 0xa5, b'c', b'h', b'u', b'n', b'k', 0xa2, b'i', b'd',
    ]);
    let (out, sink) = run(&frame);
    let out = out.unwrap();
    assert_eq!(out.counts, Counts { entries: 3, valid: 2 });
    assert!(out.size_mismatch);
    assert_eq!(out.chunk, Some(&b"id"[..]));
    assert_eq!(sink.0[1], ("app.log".into(), Time::Secs(5), vec![0x80]));
  }

  #[test]
  fn gzip_of_two_members() {
    let mut entries = Vec::new();
    for _ in 0..3 {
      entries.extend(ENTRY_A1);
    }
    let mut gz = gzip(&entries[..15]);
    gz.extend(gzip(&entries[15..]));
    let frame = compressed_frame(&gz, b"gzip", 3);
    let (out, sink) = run(&frame);
    let out = out.unwrap();
    assert_eq!(out.counts, Counts { entries: 3, valid: 3 });
    assert!(!out.size_mismatch);
    assert_eq!(out.inflated, 45);
    assert_eq!(sink.0.len(), 3);
  }

  #[test]
  fn inflation_is_bounded_and_its_buffer_released() {
    // 600 entries of 15 bytes: 9,000 bytes inflated.
    let mut frame = vec![0x92];
    frame.extend(TAG);
    frame.extend(bin(&gzip(&ENTRY_A1.repeat(600))));
    let mut gz = frame.clone();
    gz[0] = 0x93;
    gz.extend([0x81, 0xaa]);
    gz.extend(b"compressed");
    gz.extend([0xa4]);
    gz.extend(b"gzip");
    let memory = Arc::new(Memory::default());
    let mut small = Scratch::new(8_999, memory.clone());
    assert_eq!(handle(&gz, &mut small, &mut ()), Err(Fatal::TooLarge));
    let mut enough = Scratch::new(9_000, memory.clone());
    assert_eq!(handle(&gz, &mut enough, &mut ()).unwrap().counts.valid, 600);
    assert!(memory.peak() >= 9_000);
    assert_eq!(
      memory.now(),
      0,
      "the inflate buffer is given back after each request"
    );
  }

  /// A CompressedPackedForward frame: `compressed` entries, `{compressed: algorithm, size}`
  /// (`algorithm` is 4 bytes: gzip or zstd).
  fn compressed_frame(compressed: &[u8], algorithm: &[u8; 4], size: u8) -> Vec<u8> {
    let mut frame = vec![0x93];
    frame.extend(TAG);
    frame.extend(bin(compressed));
    frame.extend([0x82, 0xaa]);
    frame.extend(b"compressed");
    frame.extend([0xa4]);
    frame.extend(algorithm);
    frame.extend([0xa4, b's', b'i', b'z', b'e', size]);
    frame
  }

  /// A CompressedPackedForward frame of `entries` compressed as zstd, with `size`.
  fn zstd_frame(entries: &[u8], size: u8) -> Vec<u8> {
    compressed_frame(&zstd::bulk::compress(entries, 3).unwrap(), b"zstd", size)
  }

  #[test]
  fn zstd_entries_decode() {
    let frame = zstd_frame(&ENTRY_A1.repeat(3), 3);
    let (out, sink) = run(&frame);
    let out = out.unwrap();
    assert_eq!(out.counts, Counts { entries: 3, valid: 3 });
    assert!(!out.size_mismatch);
    assert_eq!(out.inflated, 45);
    assert_eq!(sink.0.len(), 3);
  }

  #[test]
  fn zstd_inflation_is_bounded_and_its_buffer_released() {
    let frame = zstd_frame(&ENTRY_A1.repeat(600), 0);
    let memory = Arc::new(Memory::default());
    let mut small = Scratch::new(8_999, memory.clone());
    assert_eq!(handle(&frame, &mut small, &mut ()), Err(Fatal::TooLarge));
    let mut enough = Scratch::new(9_000, memory.clone());
    assert_eq!(handle(&frame, &mut enough, &mut ()).unwrap().counts.valid, 600);
    assert_eq!(memory.now(), 0, "buffer and window are given back");
  }

  #[test]
  fn zstd_errors_are_fatal() {
    let mut frame = vec![0x93];
    frame.extend(TAG);
    frame.extend(bin(b"definitely not zstd"));
    frame.extend([0x81, 0xaa]);
    frame.extend(b"compressed");
    frame.extend([0xa4]);
    frame.extend(b"zstd");
    assert_eq!(run(&frame).0, Err(Fatal::CorruptZstd));
  }

  #[test]
  fn gzip_errors_are_fatal() {
    let mut frame = vec![0x93];
    frame.extend(TAG);
    frame.extend(bin(b"definitely not gzip"));
    frame.extend([0x81, 0xaa]);
    frame.extend(b"compressed");
    frame.extend([0xa4]);
    frame.extend(b"gzip");
    assert_eq!(run(&frame).0, Err(Fatal::CorruptGzip));
    let name = frame.len() - 4;
    frame[name..].copy_from_slice(b"zlib");
    assert_eq!(run(&frame).0, Err(Fatal::Compression));
  }

  #[test]
  fn str_typed_packed_entries_and_text_compression() {
    // fluentd's out_forward sends entries as str32 and always sets compressed: "text".
    let mut frame = vec![0x93];
    frame.extend(TAG);
    frame.extend([0xdb, 0, 0, 0, 30]);
    frame.extend(ENTRY_A1);
    frame.extend(ENTRY_A1);
    frame.extend([0x81, 0xaa]);
    frame.extend(b"compressed");
    frame.extend([0xa4]);
    frame.extend(b"text");
    let (out, sink) = run(&frame);
    assert_eq!(out.unwrap().counts, Counts { entries: 2, valid: 2 });
    assert_eq!(sink.0.len(), 2);
  }

  #[test]
  fn ext8_event_time() {
    let mut frame = vec![0x94];
    frame.extend(TAG);
    frame.extend([0xc7, 0x08, 0x00, 0x65, 0x53, 0xf1, 0x00, 0x00, 0x00, 0x00, 0x09]);
    frame.extend([0x81, 0xa1, b'a', 0x01]);
    frame.extend([0x81, 0xa5, b'c', b'h', b'u', b'n', b'k', 0xa1, b'x']);
    let (out, sink) = run(&frame);
    let out = out.unwrap();
    assert_eq!(out.counts, Counts { entries: 1, valid: 1 });
    assert_eq!(out.chunk, Some(&b"x"[..]));
    assert_eq!(sink.0[0].1, Time::Event(1_700_000_000, 9));
  }

  #[test]
  fn shapes_that_are_invalid_but_decodable() {
    // [tag]
    let (out, _) = run(&[0x91, 0xa1, b't']);
    assert_eq!(out.unwrap().counts, Counts { entries: 1, valid: 0 });
    // int tag in message mode
    let (out, sink) = run(&[0x93, 0x01, 0x01, 0x80]);
    assert_eq!(out.unwrap().counts, Counts { entries: 1, valid: 0 });
    assert!(sink.0.is_empty());
    // message mode with five elements, PING-like
    let (out, _) = run(&[0x95, 0xa1, b't', 0x01, 0x80, 0x80, 0x80]);
    assert_eq!(out.unwrap().counts, Counts { entries: 1, valid: 0 });
    // a nil option and a non-int size are tolerated / counted as a mismatch
    let (out, _) = run(&[0x93, 0xa1, b't', 0x90, 0xc0]);
    assert!(!out.unwrap().size_mismatch);
    let (out, _) = run(&[
      0x93, 0xa1, b't', 0x90, 0x81, 0xa4, b's', b'i', b'z', b'e', 0xa1, b'0',
    ]);
    assert!(out.unwrap().size_mismatch);
  }

  #[test]
  fn heartbeat_and_garbage() {
    assert_eq!(run(&[0xc0]).0, Ok(Outcome::default()));
    assert_eq!(run(&[0x01]).0, Err(Fatal::NotRequest));
    // packed blob that ends inside an entry
    let mut frame = vec![0x92];
    frame.extend(TAG);
    frame.extend([0xc4, 0x04, 0x92, 0x01, 0x81, 0xa1]);
    assert_eq!(run(&frame).0, Err(Fatal::Malformed));
  }
}
