//! A hand-written msgpack walker over byte slices.
//!
//! Nothing here allocates: values are described by positions and borrowed sub-slices, which is what
//! lets the counting mode decode millions of events per second. There are two flavours because a
//! stream reader must tell "not arrived yet" from "never valid" ([`step`]), while a complete request
//! only needs to know whether its bytes are well formed ([`skip`], [`value`]).
//!
//! Containers are walked with a counter of values still owed instead of a stack, so hostile nesting
//! depth costs no memory and cannot overflow the call stack.

/// Why [`step`] cannot read a value at a position of a possibly incomplete buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
  /// At least this many bytes, counted from the value's first byte, must be present.
  Need(usize),
  /// The marker byte is never valid msgpack (0xc1).
  Bad,
}

/// The bytes of a complete slice are not valid msgpack (or end in the middle of a value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Malformed;

/// A decoded value header. Containers carry their element count; their contents follow.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value<'a> {
  Nil,
  Bool(bool),
  /// Every non-negative integer, whichever encoding the sender picked.
  UInt(u64),
  /// Only negative integers.
  Int(i64),
  F32(f32),
  F64(f64),
  Str(&'a [u8]),
  Bin(&'a [u8]),
  Ext(i8, &'a [u8]),
  Array(u64),
  /// Number of key/value pairs.
  Map(u64),
}

/// Fluentd event time: plain seconds, or the EventTime extension (seconds, nanoseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Time {
  Secs(u64),
  Event(u32, u32),
}

#[derive(Clone, Copy)]
struct Shape {
  /// Total size and child count follow from the marker byte alone.
  fixed: bool,
  size: u8,
  kids: u8,
}

const VAR: Shape = Shape {
  fixed: false,
  size: 0,
  kids: 0,
};

const fn fixed(size: u8, kids: u8) -> Shape {
  Shape {
    fixed: true,
    size,
    kids,
  }
}

const fn shape_of(b: u8) -> Shape {
  match b {
    0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => fixed(1, 0),
    0x80..=0x8f => fixed(1, (b & 0x0f) * 2),
    0x90..=0x9f => fixed(1, b & 0x0f),
    0xa0..=0xbf => fixed(1 + (b & 0x1f), 0),
    0xcc | 0xd0 => fixed(2, 0),
    0xcd | 0xd1 => fixed(3, 0),
    0xca | 0xce | 0xd2 => fixed(5, 0),
    0xcb | 0xcf | 0xd3 => fixed(9, 0),
    0xd4 => fixed(3, 0),
    0xd5 => fixed(4, 0),
    0xd6 => fixed(6, 0),
    0xd7 => fixed(10, 0),
    0xd8 => fixed(18, 0),
    _ => VAR,
  }
}

/// A lookup table keeps the hot skip loop to one load and an add for almost every marker.
static SHAPES: [Shape; 256] = {
  let mut t = [VAR; 256];
  let mut i = 0;
  while i < 256 {
    t[i] = shape_of(i as u8);
    i += 1;
  }
  t
};

#[inline]
fn be(bytes: &[u8]) -> u64 {
  bytes.iter().fold(0, |acc, &b| (acc << 8) | u64::from(b))
}

#[inline]
fn u32_at(buf: &[u8], pos: usize) -> u32 {
  u32::from_be_bytes([buf[pos], buf[pos + 1], buf[pos + 2], buf[pos + 3]])
}

/// Size of the value starting at `buf[pos]` (for containers: the header only) and its child count.
#[inline]
pub fn step(buf: &[u8], pos: usize) -> Result<(usize, u64), Step> {
  let Some(&b) = buf.get(pos) else {
    return Err(Step::Need(1));
  };
  let s = SHAPES[b as usize];
  if s.fixed {
    let size = s.size as usize;
    if buf.len() - pos < size {
      return Err(Step::Need(size));
    }
    return Ok((size, u64::from(s.kids)));
  }
  step_var(buf, pos, b)
}

/// The markers whose size is given by a length field. `pos < buf.len()` holds.
#[cold]
fn step_var(buf: &[u8], pos: usize, b: u8) -> Result<(usize, u64), Step> {
  // (header bytes, width of the big-endian length field right after the marker)
  let (hdr, width) = match b {
    0xc4 | 0xd9 => (2, 1),
    0xc5 | 0xda => (3, 2),
    0xc6 | 0xdb => (5, 4),
    // ext: the type byte sits between the length field and the payload
    0xc7 => (3, 1),
    0xc8 => (4, 2),
    0xc9 => (6, 4),
    0xdc | 0xde => (3, 2),
    0xdd | 0xdf => (5, 4),
    _ => return Err(Step::Bad),
  };
  let avail = buf.len() - pos;
  if avail < hdr {
    return Err(Step::Need(hdr));
  }
  let len = be(&buf[pos + 1..pos + 1 + width]);
  match b {
    0xdc | 0xdd => Ok((hdr, len)),
    0xde | 0xdf => Ok((hdr, len * 2)),
    _ => {
      let total = hdr + len as usize;
      if avail < total {
        Err(Step::Need(total))
      } else {
        Ok((total, 0))
      }
    }
  }
}

/// Skips `n` consecutive values of a complete slice, walking into every container.
#[inline]
pub fn skip(buf: &[u8], mut pos: usize, mut n: u64) -> Result<usize, Malformed> {
  while n > 0 {
    let b = *buf.get(pos).ok_or(Malformed)?;
    let s = SHAPES[b as usize];
    if s.fixed {
      // A payload running past the end is caught by the next `get` or the final check.
      pos += s.size as usize;
      n += u64::from(s.kids);
    } else {
      let (size, kids) = step_var(buf, pos, b).map_err(|_| Malformed)?;
      pos += size;
      n += kids;
    }
    n -= 1;
  }
  if pos > buf.len() {
    return Err(Malformed);
  }
  Ok(pos)
}

/// Like `skip(buf, pos, 1)` with leaf values handled inline, for the per-field loop of records.
/// The result may point past the end of `buf` when a leaf is truncated; the caller checks once
/// after its walk (any further read at that position fails as well).
#[inline(always)]
pub fn skip_one_unchecked(buf: &[u8], pos: usize) -> Result<usize, Malformed> {
  let b = *buf.get(pos).ok_or(Malformed)?;
  let s = SHAPES[b as usize];
  if s.fixed && s.kids == 0 {
    return Ok(pos + s.size as usize);
  }
  skip(buf, pos, 1)
}

#[inline]
fn slice(buf: &[u8], start: usize, len: usize) -> Option<&[u8]> {
  buf.get(start..start.checked_add(len)?)
}

#[inline]
fn uint(buf: &[u8], start: usize, width: usize) -> Option<u64> {
  Some(be(slice(buf, start, width)?))
}

/// Decodes the header of the value at `pos`; returns it and the position right after it
/// (for containers: the first child).
pub fn value(buf: &[u8], pos: usize) -> Option<(Value<'_>, usize)> {
  let b = *buf.get(pos)?;
  let p = pos + 1;
  Some(match b {
    0x00..=0x7f => (Value::UInt(u64::from(b)), p),
    0xe0..=0xff => (Value::Int(i64::from(b as i8)), p),
    0x80..=0x8f => (Value::Map(u64::from(b & 0x0f)), p),
    0x90..=0x9f => (Value::Array(u64::from(b & 0x0f)), p),
    0xa0..=0xbf => {
      let n = (b & 0x1f) as usize;
      (Value::Str(slice(buf, p, n)?), p + n)
    }
    0xc0 => (Value::Nil, p),
    0xc1 => return None,
    0xc2 => (Value::Bool(false), p),
    0xc3 => (Value::Bool(true), p),
    0xc4..=0xc6 => {
      let w = 1 << (b - 0xc4);
      let n = uint(buf, p, w)? as usize;
      (Value::Bin(slice(buf, p + w, n)?), p + w + n)
    }
    0xc7..=0xc9 => {
      let w = 1 << (b - 0xc7);
      let n = uint(buf, p, w)? as usize;
      let t = *buf.get(p + w)? as i8;
      (Value::Ext(t, slice(buf, p + w + 1, n)?), p + w + 1 + n)
    }
    0xca => (Value::F32(f32::from_bits(uint(buf, p, 4)? as u32)), p + 4),
    0xcb => (Value::F64(f64::from_bits(uint(buf, p, 8)?)), p + 8),
    0xcc..=0xcf => {
      let w = 1 << (b - 0xcc);
      (Value::UInt(uint(buf, p, w)?), p + w)
    }
    0xd0..=0xd3 => {
      let w = 1 << (b - 0xd0);
      let shift = 64 - 8 * w as u32;
      let v = ((uint(buf, p, w)? << shift) as i64) >> shift;
      let v = if v >= 0 {
        Value::UInt(v as u64)
      } else {
        Value::Int(v)
      };
      (v, p + w)
    }
    0xd4..=0xd8 => {
      let n = 1 << (b - 0xd4);
      let t = *buf.get(p)? as i8;
      (Value::Ext(t, slice(buf, p + 1, n)?), p + 1 + n)
    }
    0xd9..=0xdb => {
      let w = 1 << (b - 0xd9);
      let n = uint(buf, p, w)? as usize;
      (Value::Str(slice(buf, p + w, n)?), p + w + n)
    }
    0xdc | 0xdd => {
      let w = 2 << (b - 0xdc);
      (Value::Array(uint(buf, p, w)?), p + w)
    }
    0xde | 0xdf => {
      let w = 2 << (b - 0xde);
      (Value::Map(uint(buf, p, w)?), p + w)
    }
  })
}

/// Whether a marker byte starts a msgpack `str`.
#[inline]
pub fn is_str_marker(b: u8) -> bool {
  matches!(b, 0xa0..=0xbf | 0xd9..=0xdb)
}

pub fn str_at(buf: &[u8], pos: usize) -> Option<(&[u8], usize)> {
  match value(buf, pos)? {
    (Value::Str(s), p) => Some((s, p)),
    _ => None,
  }
}

/// Reads an event time; `None` when the value is well formed but not a valid time.
/// Signed encodings of non-negative numbers count as unsigned: some encoders always pick them.
#[inline]
pub fn time_at(buf: &[u8], pos: usize) -> Result<(Option<Time>, usize), Malformed> {
  if let Some(t) = buf.get(pos..pos + 10) {
    if t[0] == 0xd7 && t[1] == 0 {
      return Ok((Some(Time::Event(u32_at(t, 2), u32_at(t, 6))), pos + 10));
    }
  }
  let end = skip(buf, pos, 1)?;
  let time = match value(buf, pos) {
    // Fluent Bit >= 2.1 (and its out_forward by default since v5.0.4) sends `[time, metadata]`;
    // fluentd accepts it since #5411. The metadata map is not part of the event: skipped. One
    // level only: the inner time must be a plain one.
    Some((Value::Array(2), inner)) => {
      match value(buf, inner).and_then(|(v, meta)| Some((plain_time(v)?, meta))) {
        Some((t, meta)) if matches!(value(buf, meta), Some((Value::Map(_), _))) => Some(t),
        _ => None,
      }
    }
    Some((v, _)) => plain_time(v),
    None => None,
  };
  Ok((time, end))
}

/// An integer or an EventTime.
#[inline]
fn plain_time(v: Value<'_>) -> Option<Time> {
  match v {
    Value::UInt(v) => Some(Time::Secs(v)),
    Value::Ext(0, d) if d.len() == 8 => Some(Time::Event(u32_at(d, 0), u32_at(d, 4))),
    _ => None,
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  /// One sample of every msgpack encoding, each followed by its expected header.
  fn samples() -> Vec<(Vec<u8>, Value<'static>)> {
    vec![
      (vec![0x05], Value::UInt(5)),
      (vec![0xff], Value::Int(-1)),
      (vec![0xc0], Value::Nil),
      (vec![0xc3], Value::Bool(true)),
      (vec![0xcc, 0xff], Value::UInt(255)),
      (vec![0xcd, 0x01, 0x00], Value::UInt(256)),
      (vec![0xce, 0, 1, 0, 0], Value::UInt(65536)),
      (
        vec![0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        Value::UInt(u64::MAX),
      ),
      (vec![0xd0, 0x80], Value::Int(-128)),
      (vec![0xd1, 0xff, 0x00], Value::Int(-256)),
      (vec![0xd2, 0, 0, 0, 7], Value::UInt(7)),
      (vec![0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0], Value::Int(i64::MIN)),
      (vec![0xca, 0x3f, 0x80, 0, 0], Value::F32(1.0)),
      (vec![0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0], Value::F64(1.5)),
      (vec![0xa2, b'h', b'i'], Value::Str(b"hi")),
      (vec![0xd9, 2, b'h', b'i'], Value::Str(b"hi")),
      (vec![0xda, 0, 2, b'h', b'i'], Value::Str(b"hi")),
      (vec![0xdb, 0, 0, 0, 2, b'h', b'i'], Value::Str(b"hi")),
      (vec![0xc4, 1, 9], Value::Bin(&[9])),
      (vec![0xc5, 0, 1, 9], Value::Bin(&[9])),
      (vec![0xc6, 0, 0, 0, 1, 9], Value::Bin(&[9])),
      (vec![0xd4, 3, 9], Value::Ext(3, &[9])),
      (vec![0xd5, 3, 9, 9], Value::Ext(3, &[9, 9])),
      (vec![0xd6, 3, 1, 2, 3, 4], Value::Ext(3, &[1, 2, 3, 4])),
      (
        vec![0xd7, 0xff, 1, 2, 3, 4, 5, 6, 7, 8],
        Value::Ext(-1, &[1, 2, 3, 4, 5, 6, 7, 8]),
      ),
      (
        vec![0xd8, 3, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
        Value::Ext(3, &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]),
      ),
      (vec![0xc7, 1, 3, 9], Value::Ext(3, &[9])),
      (vec![0xc8, 0, 1, 3, 9], Value::Ext(3, &[9])),
      (vec![0xc9, 0, 0, 0, 1, 3, 9], Value::Ext(3, &[9])),
    ]
  }

  #[test]
  fn scalars_decode_and_skip() {
    for (bytes, want) in samples() {
      let (got, next) = value(&bytes, 0).unwrap();
      assert_eq!(got, want, "{bytes:02x?}");
      assert_eq!(next, bytes.len(), "{bytes:02x?}");
      assert_eq!(skip(&bytes, 0, 1), Ok(bytes.len()), "{bytes:02x?}");
      assert_eq!(step(&bytes, 0), Ok((bytes.len(), 0)), "{bytes:02x?}");
      for cut in 0..bytes.len() {
        assert!(
          matches!(step(&bytes[..cut], 0), Err(Step::Need(n)) if n > cut),
          "{bytes:02x?} cut {cut}"
        );
        assert_eq!(
          skip(&bytes[..cut], 0, 1),
          Err(Malformed),
          "{bytes:02x?} cut {cut}"
        );
      }
    }
  }

  #[test]
  fn containers_skip_nested() {
    // {"a":[1,{"b":nil}],"c":map16{}} then array16[true, array32[]]
    let bytes = [
      0x82, 0xa1, b'a', 0x92, 0x01, 0x81, 0xa1, b'b', 0xc0, 0xa1, b'c', 0xde, 0, 0, 0xdc, 0, 2, 0xc3, 0xdd,
      0, 0, 0, 0,
    ];
    assert_eq!(skip(&bytes, 0, 1), Ok(14));
    assert_eq!(skip(&bytes, 0, 2), Ok(bytes.len()));
    assert_eq!(value(&bytes, 11), Some((Value::Map(0), 14)));
    assert_eq!(value(&bytes, 14), Some((Value::Array(2), 17)));
    assert_eq!(step(&bytes, 0), Ok((1, 4)));
    assert_eq!(step(&bytes, 14), Ok((3, 2)));
    assert_eq!(step(&bytes, 18), Ok((5, 0)));
  }

  #[test]
  fn rejects_reserved_and_lying_counts() {
    assert_eq!(skip(&[0xc1], 0, 1), Err(Malformed));
    assert_eq!(step(&[0xc1], 0), Err(Step::Bad));
    assert_eq!(value(&[0xc1], 0), None);
    // array32 claiming four billion elements with none present
    assert_eq!(skip(&[0xdd, 0xff, 0xff, 0xff, 0xff], 0, 1), Err(Malformed));
    // str8 running past the end
    assert_eq!(skip(&[0xd9, 5, b'a'], 0, 1), Err(Malformed));
    assert_eq!(step(&[0xd9, 5, b'a'], 0), Err(Step::Need(7)));
  }

  #[test]
  fn times() {
    let event = [0xd7, 0x00, 0x65, 0x53, 0xf1, 0x00, 0x07, 0x5b, 0xcd, 0x15];
    assert_eq!(
      time_at(&event, 0),
      Ok((Some(Time::Event(1_700_000_000, 123_456_789)), 10))
    );
    let ext8 = [0xc7, 0x08, 0x00, 0x65, 0x53, 0xf1, 0x00, 0, 0, 0, 1];
    assert_eq!(time_at(&ext8, 0), Ok((Some(Time::Event(1_700_000_000, 1)), 11)));
    assert_eq!(
      time_at(&[0xce, 0x65, 0x53, 0xf1, 0x00], 0),
      Ok((Some(Time::Secs(1_700_000_000)), 5))
    );
    assert_eq!(time_at(&[0x07], 0), Ok((Some(Time::Secs(7)), 1)));
    // negative, float, wrong ext type, wrong ext size, string
    assert_eq!(time_at(&[0xff], 0), Ok((None, 1)));
    assert_eq!(time_at(&[0xca, 0, 0, 0, 0], 0), Ok((None, 5)));
    assert_eq!(time_at(&[0xd7, 0x01, 0, 0, 0, 0, 0, 0, 0, 0], 0), Ok((None, 10)));
    assert_eq!(time_at(&[0xd6, 0x00, 0, 0, 0, 0], 0), Ok((None, 6)));
    assert_eq!(time_at(&[0xa1, b'x'], 0), Ok((None, 2)));
    assert_eq!(time_at(&[0xd7, 0x00, 0], 0), Err(Malformed));
  }
}
