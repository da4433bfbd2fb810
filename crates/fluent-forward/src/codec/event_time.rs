//! Entry time: EventTime (ext type 0, fixext 8) or integer seconds (PROTOCOL.md §3).

use super::primitives::write_uint;
use std::time::{SystemTime, UNIX_EPOCH};

/// A point in time as the protocol carries it: unsigned seconds (valid to 2106) and nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventTime {
  pub seconds: u32,
  pub nanos: u32,
}

impl EventTime {
  /// Returns `None` when `nanos` is not below one second.
  pub fn new(seconds: u32, nanos: u32) -> Option<Self> {
    (nanos < 1_000_000_000).then_some(Self { seconds, nanos })
  }

  pub fn now() -> Self {
    // A clock before 1970 or past 2106 cannot be expressed; 0 makes fluentd substitute its own "now".
    match SystemTime::now().duration_since(UNIX_EPOCH) {
      Ok(d) if d.as_secs() <= u32::MAX as u64 => Self {
        seconds: d.as_secs() as u32,
        nanos: d.subsec_nanos(),
      },
      _ => Self { seconds: 0, nanos: 0 },
    }
  }
}

/// How the time of each entry goes on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TimeFormat {
  /// `d7 00 <u32 sec> <u32 nsec>`: needs fluentd >= 0.14; keeps nanoseconds.
  #[default]
  EventTime,
  /// Plain unsigned seconds, for fluentd 0.12 receivers; drops the sub-second part.
  Integer,
}

/// Largest encoded size of a time, to reserve space up front.
pub const MAX_TIME_LEN: usize = 10;

pub fn write_time(out: &mut Vec<u8>, t: EventTime, format: TimeFormat) {
  match format {
    TimeFormat::EventTime => {
      out.extend_from_slice(&[0xd7, 0x00]);
      out.extend_from_slice(&t.seconds.to_be_bytes());
      out.extend_from_slice(&t.nanos.to_be_bytes());
    }
    TimeFormat::Integer => write_uint(out, t.seconds as u64),
  }
}
