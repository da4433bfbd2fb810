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

/// A secret (shared key, password, private key): its `Debug` never shows it and it has no `Display`,
/// so it cannot end up in an error, an event or a log line by formatting.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(pub Vec<u8>);

impl Secret {
  pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
    Self(bytes.into())
  }

  pub fn expose(&self) -> &[u8] {
    &self.0
  }

  pub fn is_empty(&self) -> bool {
    self.0.is_empty()
  }
}

impl std::fmt::Debug for Secret {
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    f.write_str("Secret(<redacted>)")
  }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TlsVersion {
  #[default]
  V1_2,
  V1_3,
}

/// TLS to the server (rustls). Server certificates are verified by default against the compiled-in
/// Mozilla roots (`webpki-roots`, the same set Node's `tls` uses by default), or only against `ca`.
#[derive(Clone, Debug)]
pub struct TlsConfig {
  /// PEM, one or more CA certificates; replaces the default roots.
  pub ca: Option<Vec<u8>>,
  /// PEM client certificate chain for mutual TLS (needs `key`).
  pub cert: Option<Vec<u8>>,
  /// PEM private key for `cert`.
  pub key: Option<Secret>,
  /// Name for SNI and verification; defaults to `host`. An IP address verifies against IP SANs.
  pub servername: Option<String>,
  /// `false` accepts any certificate (the handshake signature is still checked).
  pub reject_unauthorized: bool,
  pub min_version: TlsVersion,
}

impl Default for TlsConfig {
  fn default() -> Self {
    Self {
      ca: None,
      cert: None,
      key: None,
      servername: None,
      reject_unauthorized: true,
      min_version: TlsVersion::V1_2,
    }
  }
}

/// The forward protocol's handshake (PROTOCOL.md section 6): set when the server requires it.
#[derive(Clone, Debug, Default)]
pub struct Security {
  /// Our name in PING; must differ from the server's `self_hostname`.
  pub client_hostname: String,
  pub shared_key: Secret,
  pub username: String,
  pub password: Secret,
}

/// Circuit breaker: after `failure_threshold` consecutive connection failures (or at once for errors
/// that do not fix themselves: authentication, certificates, TLS mismatch) no connection is tried
/// for `cooldown`, doubling per consecutive opening up to `max_cooldown`, then one probe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Breaker {
  pub failure_threshold: u32,
  pub cooldown: Duration,
  pub max_cooldown: Duration,
}

impl Default for Breaker {
  fn default() -> Self {
    Self {
      failure_threshold: 5,
      cooldown: Duration::from_secs(10),
      max_cooldown: Duration::from_secs(300),
    }
  }
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
  pub tls: Option<TlsConfig>,
  pub security: Option<Security>,
  /// Bounds TLS plus the forward handshake (HELO, PING, PONG), after the connect.
  pub handshake_timeout: Duration,
  pub breaker: Breaker,
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
      tls: None,
      security: None,
      handshake_timeout: Duration::from_secs(10),
      breaker: Breaker::default(),
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
      ("handshakeTimeoutMs", ms(self.handshake_timeout)),
      ("breaker.failureThreshold", self.breaker.failure_threshold as u64),
      ("breaker.cooldownMs", ms(self.breaker.cooldown)),
      ("breaker.maxCooldownMs", ms(self.breaker.max_cooldown)),
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
    if self.breaker.max_cooldown < self.breaker.cooldown {
      return bad("breaker.maxCooldownMs must be at least breaker.cooldownMs");
    }
    if let Some(tls) = &self.tls {
      if matches!(self.target, Target::Unix(_)) {
        return bad("tls needs a host and port, not a unix socket path");
      }
      if tls.cert.is_some() && tls.key.is_none() {
        return bad("tls.cert needs tls.key");
      }
      if tls.key.is_some() && tls.cert.is_none() {
        return bad("tls.key needs tls.cert");
      }
      if tls.servername.as_deref() == Some("") {
        return bad("tls.servername must not be empty");
      }
    }
    if let Some(sec) = &self.security {
      if sec.client_hostname.is_empty() {
        return bad("security.clientHostname must not be empty");
      }
      if sec.shared_key.is_empty() {
        return bad("security.sharedKey must not be empty");
      }
    }
    Ok(())
  }
}
