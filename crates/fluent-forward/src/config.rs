//! Client options with their defaults. The binding passes `Option`s; everything unset gets a default here.

use crate::codec::event_time::TimeFormat;
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

/// How the writer learns that a server it is not connected to is up (PROTOCOL.md section 8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Heartbeat {
  /// A UDP datagram `0x00` to the server's port; fluentd answers it.
  Udp,
  /// A TCP connect (closed at once, no data): works with every server, Fluent Bit included.
  #[default]
  Tcp,
  /// No probes: health follows send results and the reconnect backoff only.
  None,
}

/// How a server entry's host name becomes members of the fleet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Resolve {
  /// One member: the first of the name's addresses that accepts a connection (looked up again
  /// after a failed connect and once `dns_ttl` has passed).
  #[default]
  First,
  /// One member per address of the name (every A and AAAA record, as `getaddrinfo` returns them),
  /// each with its own connection, breaker and the entry's weight; the name is looked up again
  /// every `dns_ttl`, and members join and leave (drained) as the answer changes (`discovery.rs`).
  All,
}

/// One server of the fleet, with its settings resolved (the client-wide `tls` and `security` apply
/// unless the server set its own).
#[derive(Clone, Debug)]
pub struct Server {
  pub target: Target,
  /// Share of the batches among the healthy regular servers (weighted round robin).
  pub weight: u32,
  /// Takes traffic only while no regular server is healthy.
  pub standby: bool,
  pub tls: Option<TlsConfig>,
  pub security: Option<Security>,
  /// One member for the name, or one per address (`Resolve::All`, a fleet found through DNS).
  pub resolve: Resolve,
}

impl Target {
  /// `host:port` or the socket path, as events and stats name the server.
  pub fn address(&self) -> String {
    match self {
      Target::Tcp { host, port } if host.contains(':') => format!("[{host}]:{port}"),
      Target::Tcp { host, port } => format!("{host}:{port}"),
      Target::Unix(path) => path.clone(),
    }
  }
}

/// How PackedForward entries are compressed, with the algorithm's level (`compressionLevel`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
  /// Level 0-9.
  Gzip(u32),
  /// Level 1-19 (codec::zstd::LEVELS).
  Zstd(u32),
}

impl Compression {
  /// The `compressed` option value on the wire (PROTOCOL.md §4).
  pub fn wire_name(self) -> &'static str {
    match self {
      Compression::Gzip(_) => "gzip",
      Compression::Zstd(_) => "zstd",
    }
  }
}

/// The durable spool (`spool` option, issue 27): every sealed batch is written to disk before it is
/// sent and removed once settled; the memory buffer becomes a cache in front of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpoolConfig {
  /// The spool directory (created if missing); each live process takes a slot in it.
  pub dir: std::path::PathBuf,
  /// Cap on the segment bytes this client's spool holds (its own and adopted leftovers).
  pub max_bytes: u64,
  /// `None`: never fsync (survives a crash of the process, not of the machine). `Some(ZERO)`:
  /// fsync after every batch. `Some(d)`: at most every `d`.
  pub sync_interval: Option<Duration>,
  /// A named slot (never adopted, never adopts); `None`: the first free auto slot.
  pub slot: Option<String>,
}

/// 1 GiB: a disk budget that rides out an outage of minutes at tens of MB/s of logs on any
/// ordinary volume, and 16x the memory buffer's default.
pub const SPOOL_MAX_BYTES: u64 = 1 << 30;
/// 1 s, Fluent Bit's `storage.sync normal` spirit: data is in the OS at once (a killed process
/// loses nothing), and on the device within a second (a machine crash loses at most that).
pub const SPOOL_SYNC: Duration = Duration::from_secs(1);

impl SpoolConfig {
  pub fn new(dir: impl Into<std::path::PathBuf>) -> Self {
    Self {
      dir: dir.into(),
      max_bytes: SPOOL_MAX_BYTES,
      sync_interval: Some(SPOOL_SYNC),
      slot: None,
    }
  }
}

#[derive(Clone, Debug)]
pub struct Config {
  /// The server when `servers` is empty (with the client-wide `tls` and `security`).
  pub target: Target,
  /// Several servers (failover, load spreading); empty: `target` alone.
  pub servers: Vec<Server>,
  /// `None`: TCP heartbeats, for a single server too: it has nowhere else to go, so the moment it
  /// listens again matters, and a refused connect every beat costs the server nothing. Without them
  /// a server back after a few seconds waited for the reconnect backoff or, once the breaker had
  /// opened, its whole cooldown (REVIEW-0.2 A3: ~10 s after a 2-5 s restart).
  pub heartbeat: Option<Heartbeat>,
  /// How often a server the client is not connected to is probed. 500 ms: a server back from an
  /// outage of any length is probed, connected to and sent to within a second of listening again.
  pub heartbeat_interval: Duration,
  /// How long a resolved host name is reused; a failed connect resolves again at once. For a
  /// `Resolve::All` entry, how often the name is looked up again (at least `discovery::MIN_EVERY`).
  pub dns_ttl: Duration,
  /// `Resolve::All`: one member per address of `target`'s host (`servers` entries have their own).
  pub resolve: Resolve,
  /// Where `Resolve::All` entries look their names up: `None` is the system's resolver
  /// (`getaddrinfo`). Set by tests to script membership changes.
  #[doc(hidden)]
  pub lookup: Option<crate::lookup::Lookup>,
  /// Keep what leaves the pipeline undelivered (dropped, rejected, left at close) for the embedding's
  /// failure handler, as bytes, instead of only counting it.
  pub keep_undelivered: bool,
  /// Cap on undelivered record bytes waiting to reach the failure handler; beyond it records are
  /// only counted (`Stats::handler_overflow`).
  pub undelivered_max_bytes: usize,
  pub mode: Mode,
  pub time_format: TimeFormat,
  /// CompressedPackedForward with this algorithm and level (packedForward mode only).
  pub compression: Option<Compression>,
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
  /// The durable spool; `None`: memory only.
  pub spool: Option<SpoolConfig>,
  /// `Event::Delivered` on from the start (the embedding turns it off, `set_delivery_reports`,
  /// once it knows nobody listens): a spool's replay may deliver batches before the embedding has
  /// had a chance to ask for them.
  pub delivery_reports: bool,
}

impl Default for Config {
  fn default() -> Self {
    Self {
      target: Target::Tcp {
        host: "127.0.0.1".into(),
        port: 24224,
      },
      servers: Vec::new(),
      heartbeat: None,
      heartbeat_interval: Duration::from_millis(500),
      dns_ttl: Duration::from_secs(30),
      resolve: Resolve::First,
      lookup: None,
      keep_undelivered: false,
      undelivered_max_bytes: 8 << 20,
      mode: Mode::default(),
      time_format: TimeFormat::default(),
      compression: None,
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
      spool: None,
      delivery_reports: false,
    }
  }
}

impl Config {
  /// The heartbeat in effect (see `heartbeat`).
  pub fn heartbeat_mode(&self) -> Heartbeat {
    self.heartbeat.unwrap_or(Heartbeat::Tcp)
  }

  /// The servers the writer talks to: `servers`, or `target` alone with the client-wide settings.
  pub fn fleet(&self) -> Vec<Server> {
    if !self.servers.is_empty() {
      return self.servers.clone();
    }
    vec![Server {
      target: self.target.clone(),
      weight: 1,
      standby: false,
      tls: self.tls.clone(),
      security: self.security.clone(),
      resolve: self.resolve,
    }]
  }
}
