//! Validation of single events (`[time, record]`), the innermost and hottest loop of the sink.

use crate::decode::{is_str_marker, skip, skip_one_unchecked, time_at, value, Malformed, Time, Value};

/// Receives every valid event. The counting mode uses `()`, so validation compiles to a pure walk.
pub trait EventSink {
  /// `record` holds the msgpack bytes of the record map, already checked to be well formed.
  fn event(&mut self, tag: &[u8], time: Time, record: &[u8]);

  /// Called once per read batch, after its requests are handled.
  fn flush_batch(&mut self) {}
}

impl EventSink for () {
  #[inline]
  fn event(&mut self, _tag: &[u8], _time: Time, _record: &[u8]) {}
}

/// Walks a record; returns whether it is a map with `str` keys, and where it ends.
#[inline]
fn record(buf: &[u8], pos: usize) -> Result<(bool, usize), Malformed> {
  let b = *buf.get(pos).ok_or(Malformed)?;
  let (pairs, mut p) = if b & 0xf0 == 0x80 {
    (u64::from(b & 0x0f), pos + 1)
  } else if let Some((Value::Map(n), p)) = value(buf, pos) {
    (n, p)
  } else {
    return Ok((false, skip(buf, pos, 1)?));
  };
  let mut ok = true;
  // A lying pair count stops at the end of the buffer: every pair takes at least two bytes.
  for _ in 0..pairs {
    let k = *buf.get(p).ok_or(Malformed)?;
    if k & 0xe0 == 0xa0 {
      p += 1 + (k & 0x1f) as usize;
    } else {
      ok &= is_str_marker(k);
      p = skip_one_unchecked(buf, p)?;
    }
    p = skip_one_unchecked(buf, p)?;
  }
  if p > buf.len() {
    return Err(Malformed);
  }
  Ok((ok, p))
}

/// Validates the time and record starting at `pos` (the elements of an entry, or elements [1] and
/// [2] of a Message-mode request) and hands a valid event to the sink. Returns the end position and
/// whether the event was valid. A `None` tag (not a `str`) makes every event invalid.
#[inline]
pub fn time_and_record<S: EventSink>(
  buf: &[u8],
  pos: usize,
  tag: Option<&[u8]>,
  sink: &mut S,
) -> Result<(usize, bool), Malformed> {
  let (time, rec) = time_at(buf, pos)?;
  let (rec_ok, end) = record(buf, rec)?;
  match (tag, time, rec_ok) {
    (Some(tag), Some(time), true) => {
      sink.event(tag, time, &buf[rec..end]);
      Ok((end, true))
    }
    _ => Ok((end, false)),
  }
}

/// Validates one Entry (`[time, record]`) at `pos`.
#[inline]
pub fn entry<S: EventSink>(
  buf: &[u8],
  pos: usize,
  tag: Option<&[u8]>,
  sink: &mut S,
) -> Result<(usize, bool), Malformed> {
  let b = *buf.get(pos).ok_or(Malformed)?;
  if b == 0x92 {
    return time_and_record(buf, pos + 1, tag, sink);
  }
  match value(buf, pos) {
    Some((Value::Array(2), p)) => time_and_record(buf, p, tag, sink),
    _ => Ok((skip(buf, pos, 1)?, false)),
  }
}

/// Counts of one batch of entries.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
  pub entries: u64,
  pub valid: u64,
}

/// Walks a PackedForward stream: entries concatenated with no array header, ending exactly at the
/// end of `blob`.
pub fn packed<S: EventSink>(blob: &[u8], tag: Option<&[u8]>, sink: &mut S) -> Result<Counts, Malformed> {
  let mut c = Counts::default();
  let mut pos = 0;
  while pos < blob.len() {
    let (next, ok) = entry(blob, pos, tag, sink)?;
    c.entries += 1;
    c.valid += u64::from(ok);
    pos = next;
  }
  Ok(c)
}

/// Walks the `n` entries of a Forward-mode array starting at `pos`; returns the end position too.
pub fn forward<S: EventSink>(
  buf: &[u8],
  mut pos: usize,
  n: u64,
  tag: Option<&[u8]>,
  sink: &mut S,
) -> Result<(Counts, usize), Malformed> {
  let mut c = Counts::default();
  for _ in 0..n {
    let (next, ok) = entry(buf, pos, tag, sink)?;
    c.entries += 1;
    c.valid += u64::from(ok);
    pos = next;
  }
  Ok((c, pos))
}

#[cfg(test)]
mod tests {
  use super::*;

  #[derive(Default)]
  struct Collect(Vec<(Vec<u8>, Time, Vec<u8>)>);

  impl EventSink for Collect {
    fn event(&mut self, tag: &[u8], time: Time, record: &[u8]) {
      self.0.push((tag.to_vec(), time, record.to_vec()));
    }
  }

  #[test]
  fn valid_and_invalid_entries() {
    let mut blob = Vec::new();
    // valid: [7, {"a":1}]
    blob.extend([0x92, 0x07, 0x81, 0xa1, b'a', 0x01]);
    // record with an int key
    blob.extend([0x92, 0x07, 0x81, 0x01, 0x01]);
    // record that is an array
    blob.extend([0x92, 0x07, 0x91, 0x01]);
    // float time
    blob.extend([0x92, 0xca, 0, 0, 0, 0, 0x80]);
    // entry of three elements
    blob.extend([0x93, 0x07, 0x80, 0x80]);
    // entry that is not an array
    blob.extend([0xa1, b'x']);
    // valid, with array16 entry header, str16 key and every value type nested
    blob.extend([
      0xdc, 0, 2, 0x07, 0xde, 0, 1, 0xda, 0, 1, b'k', 0x93, 0xc4, 1, 0xff, 0xc7, 1, 5, 0, 0xcb,
    ]);
    blob.extend([0; 8]);
    let mut sink = Collect::default();
    let c = packed(&blob, Some(b"t"), &mut sink).unwrap();
    assert_eq!(c, Counts { entries: 7, valid: 2 });
    assert_eq!(
      sink.0[0],
      (b"t".to_vec(), Time::Secs(7), vec![0x81, 0xa1, b'a', 0x01])
    );
  }

  #[test]
  fn bad_tag_invalidates_every_entry() {
    let blob = [0x92, 0x07, 0x80, 0x92, 0x07, 0x80];
    let c = packed(&blob, None, &mut ()).unwrap();
    assert_eq!(c, Counts { entries: 2, valid: 0 });
  }

  #[test]
  fn truncated_entry_is_malformed() {
    let blob = [0x92, 0x07, 0x81, 0xa1, b'a'];
    assert_eq!(packed(&blob, Some(b"t"), &mut ()), Err(Malformed));
    let blob = [0x92, 0x07, 0x81, 0xa5, b'a'];
    assert_eq!(packed(&blob, Some(b"t"), &mut ()), Err(Malformed));
    assert_eq!(packed(&[0xc1], Some(b"t"), &mut ()), Err(Malformed));
  }
}
