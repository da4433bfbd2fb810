//! One Entry, `[time, record]`, appended to a batch buffer (PROTOCOL.md §2).

use super::event_time::{write_time, EventTime, TimeFormat};

/// Appends `[time, record]`; `record` must already be one msgpack map.
pub fn write_entry(out: &mut Vec<u8>, time: EventTime, format: TimeFormat, record: &[u8]) {
  out.push(0x92);
  write_time(out, time, format);
  out.extend_from_slice(record);
}

/// Bytes an entry occupies before its record: the array header and the time.
pub fn entry_prefix_len(time: EventTime, format: TimeFormat) -> usize {
  1 + match format {
    TimeFormat::EventTime => 10,
    TimeFormat::Integer => match time.seconds {
      0..=127 => 1,
      128..=255 => 2,
      256..=65535 => 3,
      _ => 5,
    },
  }
}

/// Reads one entry `[time, record]` from the start of `buf` (what a batch holds): the time (an
/// EventTime ext, or integer seconds), the record's bytes (validated as one map) and the entry's
/// length.
pub fn read_entry(buf: &[u8]) -> Result<(EventTime, &[u8], usize), String> {
  if buf.first() != Some(&0x92) {
    return Err("an entry is a 2-element array [time, record]".into());
  }
  let be = |at: usize, n: usize| -> Result<u64, String> {
    let bytes = buf.get(at..at + n).ok_or("truncated entry time")?;
    Ok(bytes.iter().fold(0u64, |v, b| (v << 8) | *b as u64))
  };
  let (seconds, nanos, at) = match buf.get(1).copied() {
    Some(0xd7) if buf.get(2) == Some(&0x00) => (be(3, 4)?, be(7, 4)?, 11),
    Some(b @ 0x00..=0x7f) => (b as u64, 0, 2),
    Some(0xcc) => (be(2, 1)?, 0, 3),
    Some(0xcd) => (be(2, 2)?, 0, 4),
    Some(0xce) => (be(2, 4)?, 0, 6),
    _ => return Err("entry time must be an EventTime or integer seconds".into()),
  };
  let time = EventTime::new(seconds as u32, nanos as u32).ok_or("entry time out of range")?;
  let rest = &buf[at..];
  let n = super::validate::record_len(rest).map_err(|e| e.to_string())?;
  Ok((time, &rest[..n], at + n))
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn read_entry_round_trips_both_time_forms() {
    for (format, t) in [
      (TimeFormat::EventTime, EventTime::new(1_700_000_000, 123).unwrap()),
      (TimeFormat::Integer, EventTime::new(300, 0).unwrap()),
      (TimeFormat::Integer, EventTime::new(5, 0).unwrap()),
    ] {
      let mut buf = Vec::new();
      write_entry(&mut buf, t, format, &[0x81, 0xa1, b'a', 0x01]);
      write_entry(&mut buf, t, format, &[0x80]);
      let (time, record, used) = read_entry(&buf).unwrap();
      assert_eq!((time, record), (t, &[0x81, 0xa1, b'a', 0x01][..]));
      let (_, second, used2) = read_entry(&buf[used..]).unwrap();
      assert_eq!((second, used + used2), (&[0x80][..], buf.len()));
    }
    assert!(read_entry(&[0x92, 0x01, 0x01]).is_err(), "record is not a map");
    assert!(read_entry(&[0x91, 0x01]).is_err());
  }
}
