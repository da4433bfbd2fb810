//! What a Forward server receives, decoded and checked against PROTOCOL.md: framing, the four request
//! forms, their options and events, and acks; for the fake server and for servers written in a test.

use fluent_forward::Mode;
use rmpv::Value;
use std::io::{Cursor, Read};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
  Message,
  Forward,
  PackedForward,
  CompressedPackedForward,
}

#[derive(Clone, Debug)]
pub struct Request {
  pub conn: usize,
  pub tag: String,
  pub kind: Kind,
  pub events: usize,
  pub chunk: Option<String>,
  /// Keys of the option map, in order.
  pub option_keys: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct Received {
  pub tag: String,
  /// `(seconds, nanos)`; nanos is `None` for an integer time.
  pub time: (u64, Option<u32>),
  pub record: Value,
}

pub(super) fn ack_bytes(id: &str) -> Vec<u8> {
  let mut out = Vec::new();
  rmpv::encode::write_value(&mut out, &Value::Map(vec![(Value::from("ack"), Value::from(id))])).unwrap();
  out
}

/// End offset of the msgpack object at `at`; `Ok(None)` when the buffer ends inside it.
pub(super) fn object_end(buf: &[u8], at: usize, depth: usize) -> Result<Option<usize>, String> {
  if depth > 1000 {
    return Err("nested too deep".into());
  }
  let Some(&b) = buf.get(at) else { return Ok(None) };
  let be = |n: usize| {
    buf
      .get(at + 1..at + 1 + n)
      .map(|s| s.iter().fold(0usize, |a, x| (a << 8) | *x as usize))
  };
  macro_rules! len {
    ($n:expr) => {
      match be($n) {
        Some(v) => v,
        None => return Ok(None),
      }
    };
  }
  // (header bytes, payload bytes, child objects)
  let (head, payload, children) = match b {
    0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => (1, 0, 0),
    0x80..=0x8f => (1, 0, 2 * (b & 0x0f) as usize),
    0x90..=0x9f => (1, 0, (b & 0x0f) as usize),
    0xa0..=0xbf => (1, (b & 0x1f) as usize, 0),
    0xc4 | 0xd9 => (2, len!(1), 0),
    0xc5 | 0xda => (3, len!(2), 0),
    0xc6 | 0xdb => (5, len!(4), 0),
    0xc7 => (3, len!(1), 0),
    0xc8 => (4, len!(2), 0),
    0xc9 => (6, len!(4), 0),
    0xcc | 0xd0 => (1, 1, 0),
    0xcd | 0xd1 => (1, 2, 0),
    0xca | 0xce | 0xd2 => (1, 4, 0),
    0xcb | 0xcf | 0xd3 => (1, 8, 0),
    0xd4 => (2, 1, 0),
    0xd5 => (2, 2, 0),
    0xd6 => (2, 4, 0),
    0xd7 => (2, 8, 0),
    0xd8 => (2, 16, 0),
    0xdc => (3, 0, len!(2)),
    0xdd => (5, 0, len!(4)),
    0xde => (3, 0, 2 * len!(2)),
    0xdf => (5, 0, 2 * len!(4)),
    0xc1 => return Err("reserved byte 0xc1".into()),
  };
  let mut end = at + head + payload;
  for _ in 0..children {
    match object_end(buf, end, depth + 1)? {
      Some(e) => end = e,
      None => return Ok(None),
    }
  }
  Ok((end <= buf.len()).then_some(end))
}

fn str_of(v: &Value, what: &str) -> Result<String, String> {
  v.as_str()
    .map(str::to_string)
    .ok_or_else(|| format!("{what} is not a str"))
}

fn parse_time(v: &Value) -> Result<(u64, Option<u32>), String> {
  if let Some((ty, data)) = v.as_ext() {
    if ty != 0 || data.len() != 8 {
      return Err(format!("bad EventTime ext type {ty} len {}", data.len()));
    }
    let sec = u32::from_be_bytes(data[..4].try_into().unwrap());
    let nsec = u32::from_be_bytes(data[4..].try_into().unwrap());
    if nsec >= 1_000_000_000 {
      return Err(format!("nanoseconds out of range: {nsec}"));
    }
    return Ok((sec as u64, Some(nsec)));
  }
  if let Some(sec) = v.as_u64() {
    return Ok((sec, None));
  }
  Err(format!("time is neither EventTime nor uint: {v}"))
}

fn parse_entry(v: &Value, tag: &str) -> Result<Received, String> {
  let e = v.as_array().ok_or("entry is not an array")?;
  if e.len() != 2 {
    return Err(format!("entry has {} elements", e.len()));
  }
  if !e[1].is_map() {
    return Err("record is not a map".into());
  }
  Ok(Received {
    tag: tag.to_string(),
    time: parse_time(&e[0])?,
    record: e[1].clone(),
  })
}

#[derive(Default)]
struct Options {
  chunk: Option<String>,
  size: Option<u64>,
  compressed: Option<String>,
  keys: Vec<String>,
}

fn parse_option(v: Option<&Value>) -> Result<Options, String> {
  let mut o = Options::default();
  let Some(v) = v else { return Ok(o) };
  let m = v.as_map().ok_or("option is not a map")?;
  if m.is_empty() {
    return Err("empty option map".into());
  }
  for (k, val) in m {
    let k = str_of(k, "option key")?;
    match k.as_str() {
      "chunk" => o.chunk = Some(str_of(val, "chunk")?),
      "size" => o.size = Some(val.as_u64().ok_or("size is not a uint")?),
      "compressed" => o.compressed = Some(str_of(val, "compressed")?),
      other => return Err(format!("unexpected option key {other}")),
    }
    o.keys.push(k);
  }
  Ok(o)
}

/// Decodes one request in any of the four forms and checks it against PROTOCOL.md §2-4.
pub(super) fn parse_request(v: &Value, conn: usize) -> Result<(Request, Vec<Received>), String> {
  let a = v.as_array().ok_or("request is not an array")?;
  if a.len() < 2 {
    return Err("request too short".into());
  }
  let tag = str_of(&a[0], "tag")?;
  let second = &a[1];
  let (kind, events, opt) = if second.is_array() {
    if a.len() > 3 {
      return Err("forward request too long".into());
    }
    let es = second
      .as_array()
      .unwrap()
      .iter()
      .map(|e| parse_entry(e, &tag))
      .collect::<Result<Vec<_>, _>>()?;
    (Kind::Forward, es, a.get(2))
  } else if matches!(second, Value::Binary(_) | Value::String(_)) {
    // (rmpv's `is_bin` is also true for a str, hence the explicit match.)
    if !matches!(second, Value::Binary(_)) {
      return Err("packed entries should be bin".into());
    }
    if a.len() > 3 {
      return Err("packed request too long".into());
    }
    let compressed = parse_option(a.get(2))?.compressed;
    let raw = second.as_slice().unwrap();
    let (kind, plain) = match compressed.as_deref() {
      None => (Kind::PackedForward, raw.to_vec()),
      Some("gzip") => {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(raw)
          .read_to_end(&mut out)
          .map_err(|e| format!("gunzip: {e}"))?;
        (Kind::CompressedPackedForward, out)
      }
      Some("zstd") => {
        let out = zstd::stream::decode_all(raw).map_err(|e| format!("zstd: {e}"))?;
        (Kind::CompressedPackedForward, out)
      }
      Some(other) => return Err(format!("unknown compression {other}")),
    };
    let mut cur = Cursor::new(&plain[..]);
    let mut es = Vec::new();
    while (cur.position() as usize) < plain.len() {
      let e = rmpv::decode::read_value(&mut cur).map_err(|e| format!("packed entry: {e}"))?;
      es.push(parse_entry(&e, &tag)?);
    }
    (kind, es, a.get(2))
  } else {
    if a.len() != 3 && a.len() != 4 {
      return Err(format!("message request has {} elements", a.len()));
    }
    if !a[2].is_map() {
      return Err("message record is not a map".into());
    }
    let r = Received {
      tag: tag.clone(),
      time: parse_time(second)?,
      record: a[2].clone(),
    };
    (Kind::Message, vec![r], a.get(3))
  };
  let Options {
    chunk,
    size,
    compressed,
    keys: option_keys,
  } = parse_option(opt)?;
  if let Some(size) = size {
    if size as usize != events.len() {
      return Err(format!("size {size} but {} events", events.len()));
    }
  } else if kind != Kind::Message {
    return Err("batch request without size".into());
  }
  if compressed.is_some() && kind != Kind::CompressedPackedForward {
    return Err("compressed option outside packed forward".into());
  }
  if let Some(c) = &chunk {
    if c.len() != 24 || !c.ends_with("==") {
      return Err(format!("chunk id {c:?} is not 24-char base64"));
    }
  }
  let req = Request {
    conn,
    tag,
    kind,
    events: events.len(),
    chunk,
    option_keys,
  };
  Ok((req, events))
}

pub fn mode_kind(mode: Mode, gzip: bool) -> Kind {
  match (mode, gzip) {
    (Mode::Message, _) => Kind::Message,
    (Mode::Forward, _) => Kind::Forward,
    (Mode::PackedForward, false) => Kind::PackedForward,
    (Mode::PackedForward, true) => Kind::CompressedPackedForward,
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers for servers written in the test itself (tests/slow_reader.rs, tests/retry.rs)

/// Decodes and removes every complete request at the front of `buf` (any wire form), returning
/// their events; an incomplete last request stays in `buf`.
pub fn drain_requests(buf: &mut Vec<u8>) -> Result<Vec<Received>, String> {
  let mut out = Vec::new();
  let mut at = 0;
  while let Some(end) = object_end(buf, at, 0)? {
    let mut cur = Cursor::new(&buf[at..end]);
    let value = rmpv::decode::read_value(&mut cur).map_err(|e| format!("undecodable: {e}"))?;
    let (_, events) = parse_request(&value, 0)?;
    out.extend(events);
    at = end;
  }
  buf.drain(..at);
  Ok(out)
}

/// One request as the server got it: its bytes, its ack id and its events.
pub type RawRequest = (Vec<u8>, Option<String>, Vec<Received>);

/// Like `drain_requests`, but also returns each complete request's raw bytes and its ack id.
pub fn split_requests(buf: &mut Vec<u8>) -> Result<Vec<RawRequest>, String> {
  let mut out = Vec::new();
  let mut at = 0;
  while let Some(end) = object_end(buf, at, 0)? {
    let raw = buf[at..end].to_vec();
    let value =
      rmpv::decode::read_value(&mut Cursor::new(&raw[..])).map_err(|e| format!("undecodable: {e}"))?;
    let (req, events) = parse_request(&value, 0)?;
    out.push((raw, req.chunk, events));
    at = end;
  }
  buf.drain(..at);
  Ok(out)
}

/// The msgpack bytes of `{"ack": id}`.
pub fn ack_for(id: &str) -> Vec<u8> {
  ack_bytes(id)
}
