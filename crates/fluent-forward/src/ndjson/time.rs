//! The time field of a log line as an EventTime. pino writes `time` as epoch milliseconds by
//! default; `pino.stdTimeFunctions` also offer epoch seconds (`unixTime`) and ISO 8601 strings
//! (`isoTime`, and nanosecond ISO strings). Other loggers write the same shapes.

use super::transcode::Scalar;
use crate::codec::event_time::EventTime;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Numbers below this are seconds, at or above it milliseconds: 1e11 s is the year 5138, 1e11 ms
/// is March 1973, so no time a log line carries falls on the wrong side.
const MILLIS_FROM: f64 = 1e11;

/// The time a field's value stands for; `None` for a value that is not a time or is outside what
/// EventTime carries (1970 to 2106).
pub fn event_time(value: Scalar, line_out: &[u8]) -> Option<EventTime> {
  match value {
    Scalar::U64(v) if (v as f64) < MILLIS_FROM => EventTime::new(u32::try_from(v).ok()?, 0),
    Scalar::U64(ms) => EventTime::new(u32::try_from(ms / 1000).ok()?, (ms % 1000) as u32 * 1_000_000),
    Scalar::I64(_) => None,
    // NaN as well as negatives: neither is a time.
    Scalar::F64(v) if v.is_nan() || v < 0.0 => None,
    Scalar::F64(v) if v < MILLIS_FROM => from_seconds(v),
    Scalar::F64(ms) => from_seconds(ms / 1000.0),
    Scalar::Str(a, b) => from_iso(std::str::from_utf8(&line_out[a..b]).ok()?),
    Scalar::Other => None,
  }
}

fn from_seconds(v: f64) -> Option<EventTime> {
  if v >= u32::MAX as f64 + 1.0 {
    return None;
  }
  let seconds = v.trunc();
  // Rounded to the microsecond: a double near 1.7e9 s has about 0.2 µs of precision, and the
  // noise below that would show as odd nanoseconds.
  let nanos = (((v - seconds) * 1e6).round() as u32 * 1000).min(999_999_000);
  EventTime::new(seconds as u32, nanos)
}

/// RFC 3339 (what `Date.prototype.toISOString` writes, with any offset and fraction).
fn from_iso(s: &str) -> Option<EventTime> {
  let t = OffsetDateTime::parse(s, &Rfc3339).ok()?;
  EventTime::new(u32::try_from(t.unix_timestamp()).ok()?, t.nanosecond())
}

#[cfg(test)]
mod tests {
  use super::*;

  fn t(seconds: u32, nanos: u32) -> Option<EventTime> {
    EventTime::new(seconds, nanos)
  }

  #[test]
  fn milliseconds_seconds_and_iso() {
    assert_eq!(
      event_time(Scalar::U64(1_733_111_222_333), &[]),
      t(1_733_111_222, 333_000_000)
    );
    assert_eq!(event_time(Scalar::U64(1_733_111_222), &[]), t(1_733_111_222, 0));
    assert_eq!(
      event_time(Scalar::F64(1_733_111_222.25), &[]),
      t(1_733_111_222, 250_000_000)
    );
    assert_eq!(
      event_time(Scalar::F64(1_733_111_222_333.0), &[]),
      t(1_733_111_222, 333_000_000)
    );
    let iso = b"2024-12-02T03:47:02.333Z";
    assert_eq!(
      event_time(Scalar::Str(0, iso.len()), iso),
      t(1_733_111_222, 333_000_000)
    );
    let nano = b"2024-12-02T04:47:02.123456789+01:00";
    assert_eq!(
      event_time(Scalar::Str(0, nano.len()), nano),
      t(1_733_111_222, 123_456_789)
    );
  }

  #[test]
  fn not_a_time() {
    assert_eq!(event_time(Scalar::I64(-5), &[]), None);
    assert_eq!(event_time(Scalar::F64(f64::NAN), &[]), None);
    assert_eq!(event_time(Scalar::U64(u64::MAX), &[]), None);
    assert_eq!(event_time(Scalar::F64(5e9), &[]), None);
    assert_eq!(event_time(Scalar::Other, &[]), None);
    let bad = b"yesterday";
    assert_eq!(event_time(Scalar::Str(0, bad.len()), bad), None);
  }
}
