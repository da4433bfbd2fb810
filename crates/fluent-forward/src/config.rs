//! Client options with their defaults. The binding passes `Option`s; everything unset gets a default here.

use crate::codec::event_time::TimeFormat;
use crate::error::Error;
use std::time::Duration;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
  Tcp { host: String, port: u16 },
  Unix(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Mode {
  /// One request per event.
  Message,
  /// An array of entries per request.
  Forward,
  /// Concatenated entries in one `bin` per request (the fastest form to decode).
  #[default]
  PackedForward,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Overflow {
  /// Refuse the record being added; what is buffered stays.
  #[default]
  DropNewest,
  /// Discard the oldest buffered batch(es) to make room.
  DropOldest,
  /// Refuse the record and make the caller see an error.
  Error,
}

#[derive(Clone, Debug)]
pub struct Config {
  pub target: Target,
  pub mode: Mode,
  pub time_format: TimeFormat,
  pub gzip: Option<u32>,
  pub require_ack: bool,
  /// Cap on all buffered record bytes: waiting, being written and waiting for an ack.
  pub max_buffer_bytes: usize,
  pub overflow: Overflow,
  /// A batch is sent once it holds this many bytes...
  pub batch_bytes: usize,
  /// ...or once its first record has waited this long.
  pub flush_interval: Duration,
  /// Largest single record, so that no request can exceed what servers accept (Fluent Bit: 6,144,000 B).
  pub max_record_bytes: usize,
  pub connect_timeout: Duration,
  pub write_timeout: Duration,
  pub ack_timeout: Duration,
  /// Batches written but not yet acknowledged, at most.
  pub max_in_flight: usize,
  pub reconnect_initial: Duration,
  pub reconnect_max: Duration,
  /// Attempts a batch gets while the server keeps dropping the connection on it (or leaves it
  /// unacknowledged while acknowledging others) before it is split to isolate the rejected record(s).
  pub max_batch_attempts: u32,
}

impl Default for Config {
  fn default() -> Self {
    Self {
      target: Target::Tcp {
        host: "127.0.0.1".into(),
        port: 24224,
      },
      mode: Mode::default(),
      time_format: TimeFormat::default(),
      gzip: None,
      require_ack: false,
      max_buffer_bytes: 64 << 20,
      overflow: Overflow::default(),
      batch_bytes: 512 << 10,
      flush_interval: Duration::from_millis(50),
      max_record_bytes: 4 << 20,
      connect_timeout: Duration::from_secs(5),
      write_timeout: Duration::from_secs(10),
      ack_timeout: Duration::from_secs(30),
      max_in_flight: 8,
      reconnect_initial: Duration::from_millis(100),
      reconnect_max: Duration::from_secs(10),
      max_batch_attempts: 5,
    }
  }
}

impl Config {
  pub fn validate(&self) -> Result<(), Error> {
    let bad = |m: &str| Err(Error::Config(m.into()));
    if let Target::Tcp { host, .. } = &self.target {
      if host.is_empty() {
        return bad("host must not be empty");
      }
    }
    if let Target::Unix(path) = &self.target {
      if path.is_empty() {
        return bad("path must not be empty");
      }
    }
    if self.batch_bytes == 0 || self.batch_bytes > 64 << 20 {
      return bad("batchBytes must be between 1 and 64 MiB");
    }
    if self.max_record_bytes == 0 || self.max_record_bytes > 64 << 20 {
      return bad("maxRecordBytes must be between 1 and 64 MiB");
    }
    if self.max_buffer_bytes < self.max_record_bytes {
      return bad("maxBufferBytes must be at least maxRecordBytes");
    }
    if self.max_in_flight == 0 || self.max_in_flight > 1024 {
      return bad("maxInFlight must be between 1 and 1024");
    }
    if matches!(self.gzip, Some(level) if level > 9) {
      return bad("gzip level must be between 0 and 9");
    }
    if self.gzip.is_some() && self.mode != Mode::PackedForward {
      return bad("compression needs packedForward mode");
    }
    if self.reconnect_initial.is_zero() || self.reconnect_max < self.reconnect_initial {
      return bad("reconnect delays must be positive and initial <= max");
    }
    for (name, d) in [
      ("connectTimeoutMs", self.connect_timeout),
      ("writeTimeoutMs", self.write_timeout),
      ("ackTimeoutMs", self.ack_timeout),
      ("flushIntervalMs", self.flush_interval),
    ] {
      if d.is_zero() {
        return Err(Error::Config(format!("{name} must be positive")));
      }
    }
    Ok(())
  }
}
