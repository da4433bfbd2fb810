//! A bounds-checked msgpack walker: finds where one object ends without building it.
//! Used to accept records that callers encoded themselves (`emitRaw`): they are checked, not trusted,
//! because one malformed record would corrupt every request that shares its batch.

/// Nesting deeper than this is refused rather than risking the stack.
pub const MAX_DEPTH: usize = 512;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalid {
  /// The bytes end inside an object.
  Truncated,
  /// 0xc1, the one byte msgpack never uses.
  Reserved,
  /// A map key that is not a string (fluentd and Fluent Bit want str keys).
  NonStringKey,
  /// A str whose bytes are not UTF-8.
  BadUtf8,
  TooDeep,
  /// The top-level object is not a map.
  NotAMap,
  /// An ext type other than 0 (EventTime). fluentd's unpacker (msgpack-ruby) raises on unknown ext
  /// types and drops the connection, so such a record would fail its batch on every attempt.
  ExtType(i8),
}

impl Invalid {
  /// A fixed description, for callers that keep a `&'static str` (the ext type is left out).
  pub fn describe(self) -> &'static str {
    match self {
      Invalid::Truncated => "truncated msgpack",
      Invalid::Reserved => "reserved msgpack byte 0xc1",
      Invalid::NonStringKey => "map key is not a string",
      Invalid::BadUtf8 => "string is not valid utf-8",
      Invalid::TooDeep => "nesting too deep",
      Invalid::NotAMap => "record is not a msgpack map",
      Invalid::ExtType(_) => "msgpack ext type other than 0 (EventTime)",
    }
  }
}

impl std::fmt::Display for Invalid {
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    match self {
      Invalid::ExtType(t) => write!(
        f,
        "msgpack ext type {t} cannot be decoded by fluentd or Fluent Bit; only EventTime (ext 0) can"
      ),
      other => f.write_str(other.describe()),
    }
  }
}

/// Length of the record (a map) at the start of `buf`.
pub fn record_len(buf: &[u8]) -> Result<usize, Invalid> {
  record_len_with::<true>(buf)
}

/// `record_len` without checking that strings are UTF-8: the structure alone, which is what a
/// server needs to decode a batch (neither fluentd's nor Fluent Bit's unpacker checks UTF-8). For
/// bytes already checked once, or made by an encoder that cannot write anything else (the writer's
/// last check before the wire, `vet.rs`): the UTF-8 pass was about half of that check's CPU.
pub fn structure_len(buf: &[u8]) -> Result<usize, Invalid> {
  record_len_with::<false>(buf)
}

fn record_len_with<const UTF8: bool>(buf: &[u8]) -> Result<usize, Invalid> {
  match buf.first() {
    Some(0x80..=0x8f | 0xde | 0xdf) => walk::<UTF8>(buf, 0),
    Some(_) => Err(Invalid::NotAMap),
    None => Err(Invalid::Truncated),
  }
}

fn read_be(buf: &[u8], at: usize, n: usize) -> Result<usize, Invalid> {
  let bytes = buf.get(at..at + n).ok_or(Invalid::Truncated)?;
  Ok(bytes.iter().fold(0usize, |acc, b| (acc << 8) | *b as usize))
}

/// End offset of `len` bytes of payload starting at `start`, checked against the buffer.
fn span(buf: &[u8], start: usize, len: usize) -> Result<usize, Invalid> {
  let end = start.checked_add(len).ok_or(Invalid::Truncated)?;
  if end > buf.len() {
    return Err(Invalid::Truncated);
  }
  Ok(end)
}

/// End of an ext whose type byte is at `type_at` and payload of `len` bytes follows it.
fn ext_end(buf: &[u8], type_at: usize, len: usize) -> Result<usize, Invalid> {
  match *buf.get(type_at).ok_or(Invalid::Truncated)? as i8 {
    0 => span(buf, type_at + 1, len),
    t => Err(Invalid::ExtType(t)),
  }
}

fn str_end<const UTF8: bool>(buf: &[u8], start: usize, len: usize) -> Result<usize, Invalid> {
  let end = span(buf, start, len)?;
  if UTF8 {
    std::str::from_utf8(&buf[start..end]).map_err(|_| Invalid::BadUtf8)?;
  }
  Ok(end)
}

/// Length in bytes of the msgpack object at the start of `buf`.
pub fn object_len(buf: &[u8], depth: usize) -> Result<usize, Invalid> {
  walk::<true>(buf, depth)
}

/// `object_len` without the UTF-8 check of strings (see `structure_len`).
pub fn object_structure_len(buf: &[u8], depth: usize) -> Result<usize, Invalid> {
  walk::<false>(buf, depth)
}

fn walk<const UTF8: bool>(buf: &[u8], depth: usize) -> Result<usize, Invalid> {
  if depth > MAX_DEPTH {
    return Err(Invalid::TooDeep);
  }
  let b = *buf.first().ok_or(Invalid::Truncated)?;
  match b {
    0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => Ok(1),
    0xa0..=0xbf => str_end::<UTF8>(buf, 1, (b & 0x1f) as usize),
    0xd9 => str_end::<UTF8>(buf, 2, read_be(buf, 1, 1)?),
    0xda => str_end::<UTF8>(buf, 3, read_be(buf, 1, 2)?),
    0xdb => str_end::<UTF8>(buf, 5, read_be(buf, 1, 4)?),
    0xc4 => span(buf, 2, read_be(buf, 1, 1)?),
    0xc5 => span(buf, 3, read_be(buf, 1, 2)?),
    0xc6 => span(buf, 5, read_be(buf, 1, 4)?),
    0xcc | 0xd0 => span(buf, 1, 1),
    0xcd | 0xd1 => span(buf, 1, 2),
    0xce | 0xd2 | 0xca => span(buf, 1, 4),
    0xcf | 0xd3 | 0xcb => span(buf, 1, 8),
    // fixext 1/2/4/8/16: type byte plus payload
    0xd4 => ext_end(buf, 1, 1),
    0xd5 => ext_end(buf, 1, 2),
    0xd6 => ext_end(buf, 1, 4),
    0xd7 => ext_end(buf, 1, 8),
    0xd8 => ext_end(buf, 1, 16),
    // ext 8/16/32: length, type byte, payload
    0xc7 => ext_end(buf, 2, read_be(buf, 1, 1)?),
    0xc8 => ext_end(buf, 3, read_be(buf, 1, 2)?),
    0xc9 => ext_end(buf, 5, read_be(buf, 1, 4)?),
    0x90..=0x9f => items_len::<UTF8>(buf, 1, (b & 0x0f) as usize, false, depth),
    0xdc => items_len::<UTF8>(buf, 3, read_be(buf, 1, 2)?, false, depth),
    0xdd => items_len::<UTF8>(buf, 5, read_be(buf, 1, 4)?, false, depth),
    0x80..=0x8f => items_len::<UTF8>(buf, 1, (b & 0x0f) as usize, true, depth),
    0xde => items_len::<UTF8>(buf, 3, read_be(buf, 1, 2)?, true, depth),
    0xdf => items_len::<UTF8>(buf, 5, read_be(buf, 1, 4)?, true, depth),
    0xc1 => Err(Invalid::Reserved),
  }
}

fn items_len<const UTF8: bool>(
  buf: &[u8],
  mut at: usize,
  count: usize,
  is_map: bool,
  depth: usize,
) -> Result<usize, Invalid> {
  if at > buf.len() {
    return Err(Invalid::Truncated);
  }
  for _ in 0..count {
    if is_map {
      if !matches!(buf.get(at), Some(0xa0..=0xbf | 0xd9 | 0xda | 0xdb)) {
        return Err(if at >= buf.len() {
          Invalid::Truncated
        } else {
          Invalid::NonStringKey
        });
      }
      at += walk::<UTF8>(&buf[at..], depth + 1)?;
    }
    at += walk::<UTF8>(buf.get(at..).ok_or(Invalid::Truncated)?, depth + 1)?;
  }
  Ok(at)
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn accepts_nested_map() {
    // {"a":[1,{"b":"c"}],"d":nil}
    let rec = [
      0x82, 0xa1, b'a', 0x92, 0x01, 0x81, 0xa1, b'b', 0xa1, b'c', 0xa1, b'd', 0xc0,
    ];
    assert_eq!(record_len(&rec), Ok(rec.len()));
  }

  #[test]
  fn rejects_bad_records() {
    assert_eq!(record_len(&[]), Err(Invalid::Truncated));
    assert_eq!(record_len(&[0x91, 0x01]), Err(Invalid::NotAMap));
    assert_eq!(record_len(&[0x81, 0xa1]), Err(Invalid::Truncated));
    assert_eq!(record_len(&[0x81, 0x01, 0x01]), Err(Invalid::NonStringKey));
    assert_eq!(record_len(&[0x81, 0xa1, b'a', 0xc1]), Err(Invalid::Reserved));
    assert_eq!(record_len(&[0x81, 0xa1, 0xff, 0x01]), Err(Invalid::BadUtf8));
    // The structure alone: the same bytes are one whole map.
    assert_eq!(structure_len(&[0x81, 0xa1, 0xff, 0x01]), Ok(4));
    assert_eq!(structure_len(&[0x81, 0xa1, b'a']), Err(Invalid::Truncated));
    assert_eq!(
      record_len(&[0x81, 0xa1, b'a', 0xdb, 0xff, 0xff, 0xff, 0xff]),
      Err(Invalid::Truncated)
    );
    let mut deep = vec![0x81, 0xa1, b'a'];
    deep.extend(std::iter::repeat_n(0x91, 600));
    deep.push(0x01);
    assert_eq!(record_len(&deep), Err(Invalid::TooDeep));
  }

  /// `{"t": <ext>}` for an ext of `len` payload bytes and type `t`, in the given form.
  fn with_ext(head: &[u8], t: u8, len: usize) -> Vec<u8> {
    let mut rec = vec![0x81, 0xa1, b't'];
    rec.extend_from_slice(head);
    rec.push(t);
    rec.extend(std::iter::repeat_n(0x2a, len));
    rec
  }

  #[test]
  fn only_ext_type_zero_is_accepted() {
    let forms: [(&[u8], usize); 8] = [
      (&[0xd4], 1),
      (&[0xd5], 2),
      (&[0xd6], 4),
      (&[0xd7], 8),
      (&[0xd8], 16),
      (&[0xc7, 12], 12),
      (&[0xc8, 0, 3], 3),
      (&[0xc9, 0, 0, 0, 5], 5),
    ];
    for (head, len) in forms {
      let ok = with_ext(head, 0, len);
      assert_eq!(record_len(&ok), Ok(ok.len()), "{head:x?}");
      for t in [-1i8, 1, 127, -128] {
        let rec = with_ext(head, t as u8, len);
        assert_eq!(record_len(&rec), Err(Invalid::ExtType(t)), "{head:x?} type {t}");
      }
      // The type byte is checked before the payload, but a missing type byte is still truncation.
      let cut = with_ext(head, 0, len);
      assert_eq!(
        record_len(&cut[..3 + head.len()]),
        Err(Invalid::Truncated),
        "{head:x?}"
      );
      assert_eq!(
        record_len(&cut[..cut.len() - 1]),
        Err(Invalid::Truncated),
        "{head:x?}"
      );
    }
    assert_eq!(
      Invalid::ExtType(-1).to_string(),
      "msgpack ext type -1 cannot be decoded by fluentd or Fluent Bit; only EventTime (ext 0) can"
    );
  }
}
