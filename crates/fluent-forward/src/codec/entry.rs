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
