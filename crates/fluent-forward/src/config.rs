//! Client options with their defaults. The binding passes `Option`s; everything unset gets a default here.

use crate::codec::event_time::TimeFormat;
use crate::error::Error;
use crate::options::check_int;
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
  /// At process or worker exit, how long the exit blocks while buffered records drain (the binding
  /// keeps it per client; the core only carries it so its default lives in one place).
  pub exit_flush_timeout: Duration,
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
      exit_flush_timeout: Duration::from_secs(2),
    }
  }
}

impl Config {
  /// Checks every value against the option table (`options::specs`), then the rules between options.
  pub fn validate(&self) -> Result<(), Error> {
    let bad = |m: &str| Err(Error::Config(m.into()));
    match &self.target {
      Target::Tcp { host, port } => {
        if host.is_empty() {
          return bad("host must not be empty");
        }
        check_int("port", *port as u64)?;
      }
      Target::Unix(path) if path.is_empty() => return bad("path must not be empty"),
      Target::Unix(_) => {}
    }
    let ms = |d: Duration| d.as_millis() as u64;
    for (name, value) in [
      ("maxBufferBytes", self.max_buffer_bytes as u64),
      ("batchBytes", self.batch_bytes as u64),
      ("maxRecordBytes", self.max_record_bytes as u64),
      ("maxInFlight", self.max_in_flight as u64),
      ("maxBatchAttempts", self.max_batch_attempts as u64),
      ("flushIntervalMs", ms(self.flush_interval)),
      ("connectTimeoutMs", ms(self.connect_timeout)),
      ("writeTimeoutMs", ms(self.write_timeout)),
      ("ackTimeoutMs", ms(self.ack_timeout)),
      ("reconnectInitialDelayMs", ms(self.reconnect_initial)),
      ("reconnectMaxDelayMs", ms(self.reconnect_max)),
      ("exitFlushTimeoutMs", ms(self.exit_flush_timeout)),
    ] {
      check_int(name, value)?;
    }
    if let Some(level) = self.gzip {
      check_int("compressionLevel", level as u64)?;
    }
    if self.max_buffer_bytes < self.max_record_bytes {
      return bad("maxBufferBytes must be at least maxRecordBytes");
    }
    if self.gzip.is_some() && self.mode != Mode::PackedForward {
      return bad("compression needs packedForward mode");
    }
    if self.reconnect_max < self.reconnect_initial {
      return bad("reconnectMaxDelayMs must be at least reconnectInitialDelayMs");
    }
    Ok(())
  }
}
