//! Plain conversions between JS objects and core types.

use fluent_forward::options::{self, Default, Kind};
use fluent_forward::{
  BreakerState, CloseReport, Compression, Config, Event, Heartbeat, Mode, Overflow, Secret, Security, Server,
  Stats, Target, TimeFormat, TlsConfig, TlsVersion,
};
use napi::bindgen_prelude::Buffer;
use napi::bindgen_prelude::Status;
use napi_derive::napi;
use std::time::Duration;

/// The `code` JS sees on errors thrown by the binding: `ERR_FLUENT_*`, from the core's stable codes.
pub enum Code {
  Core(String),
  InvalidTime,
  /// napi's own failures (argument conversion): kept as napi reports them.
  Napi(Status),
}

impl AsRef<str> for Code {
  fn as_ref(&self) -> &str {
    match self {
      Code::Core(code) => code,
      Code::InvalidTime => "ERR_FLUENT_INVALID_TIME",
      Code::Napi(s) => s.as_ref(),
    }
  }
}

impl From<Status> for Code {
  fn from(s: Status) -> Self {
    Code::Napi(s)
  }
}

/// `ERR_FLUENT_` + the core's stable code: the codes are defined once, in `fluent_forward::Error`.
pub fn error_code(e: &fluent_forward::Error) -> String {
  format!("ERR_FLUENT_{}", e.code())
}

pub fn to_napi(e: fluent_forward::Error) -> napi::Error<Code> {
  napi::Error::new(Code::Core(error_code(&e)), e.to_string())
}

/// One row of the option table (`fluent_forward::options`), for the JS side's checks.
#[napi(object)]
pub struct JsOptionSpec {
  pub name: String,
  /// `integer`, `boolean`, `string` or `enum`.
  pub kind: String,
  pub min: Option<f64>,
  pub max: Option<f64>,
  /// For `enum`.
  pub values: Option<Vec<String>>,
  pub default_number: Option<f64>,
  pub default_boolean: Option<bool>,
  pub default_text: Option<String>,
  /// Never echo the value (a key, a password): errors name the option only.
  pub secret: bool,
}

/// Every option with its type, range and default: the one source of truth for both sides.
#[napi]
pub fn option_specs() -> Vec<JsOptionSpec> {
  options::specs()
    .into_iter()
    .map(|s| {
      let mut out = JsOptionSpec {
        name: s.name.into(),
        kind: String::new(),
        min: None,
        max: None,
        values: None,
        default_number: None,
        default_boolean: None,
        default_text: None,
        secret: false,
      };
      out.kind = match s.kind {
        Kind::Integer { min, max } => {
          out.min = Some(min as f64);
          out.max = Some(max as f64);
          "integer"
        }
        Kind::Boolean => "boolean",
        Kind::Text => "string",
        Kind::Secret => {
          out.secret = true;
          "string"
        }
        Kind::Pem { secret } => {
          out.secret = secret;
          "pem"
        }
        Kind::OneOf(values) => {
          out.values = Some(values.iter().map(|v| v.to_string()).collect());
          "enum"
        }
      }
      .into();
      match s.default {
        Default::None => {}
        Default::Integer(v) => out.default_number = Some(v as f64),
        Default::Boolean(v) => out.default_boolean = Some(v),
        Default::Text(v) => out.default_text = Some(v),
      }
      out
    })
    .collect()
}

#[napi(string_enum = "camelCase")]
pub enum WireMode {
  Message,
  Forward,
  PackedForward,
}

/// The values of `compress` (options.rs COMPRESSIONS), each the `compressed` value on the wire.
#[napi(string_enum = "camelCase")]
pub enum Compress {
  Gzip,
  Zstd,
}

#[napi(string_enum = "camelCase")]
pub enum OverflowPolicy {
  DropNewest,
  DropOldest,
  Error,
}

/// Options as index.ts passes them; unset fields take the core's defaults.
#[napi(object)]
pub struct NativeOptions {
  pub host: Option<String>,
  pub port: Option<u32>,
  pub path: Option<String>,
  pub mode: Option<WireMode>,
  pub time_as_integer: Option<bool>,
  /// Send CompressedPackedForward with this algorithm.
  pub compress: Option<Compress>,
  /// The level of `compress`'s algorithm; unset takes that algorithm's default.
  pub compression_level: Option<u32>,
  pub require_ack: Option<bool>,
  pub max_buffer_bytes: Option<f64>,
  pub overflow: Option<OverflowPolicy>,
  pub batch_bytes: Option<u32>,
  pub flush_interval_ms: Option<u32>,
  pub max_record_bytes: Option<u32>,
  pub connect_timeout_ms: Option<u32>,
  pub write_timeout_ms: Option<u32>,
  pub ack_timeout_ms: Option<u32>,
  pub max_in_flight: Option<u32>,
  pub reconnect_initial_delay_ms: Option<u32>,
  pub reconnect_max_delay_ms: Option<u32>,
  pub max_batch_attempts: Option<u32>,
  pub exit_flush_timeout_ms: Option<u32>,
  pub handshake_timeout_ms: Option<u32>,
  pub tls: Option<NativeTls>,
  pub security: Option<NativeSecurity>,
  pub breaker: Option<NativeBreaker>,
  /// Several servers instead of host/port/path.
  pub servers: Option<Vec<NativeServer>>,
  /// `udp`, `tcp` or `none`; unset: TCP for several servers, none for one.
  pub heartbeat: Option<String>,
  pub heartbeat_interval_ms: Option<u32>,
  pub dns_ttl_ms: Option<u32>,
  /// A failure handler is set: keep undelivered records for it.
  pub keep_undelivered: Option<bool>,
  pub error_handler_max_bytes: Option<f64>,
}

/// One entry of `servers`. `tls`/`security` unset: the client-wide ones; `noTls`/`noSecurity`:
/// none for this server even if the client sets them.
#[napi(object)]
pub struct NativeServer {
  pub host: Option<String>,
  pub port: Option<u32>,
  pub path: Option<String>,
  pub weight: Option<u32>,
  pub standby: Option<bool>,
  pub tls: Option<NativeTls>,
  pub no_tls: Option<bool>,
  pub security: Option<NativeSecurity>,
  pub no_security: Option<bool>,
}

/// `tls` as src/options.ts passes it: PEM as bytes, everything else checked already.
#[napi(object)]
pub struct NativeTls {
  pub ca: Option<Buffer>,
  pub cert: Option<Buffer>,
  pub key: Option<Buffer>,
  pub servername: Option<String>,
  pub reject_unauthorized: Option<bool>,
  /// `TLSv1.2` or `TLSv1.3`.
  pub min_version: Option<String>,
}

#[napi(object)]
pub struct NativeSecurity {
  pub client_hostname: String,
  pub shared_key: String,
  pub username: Option<String>,
  pub password: Option<String>,
}

#[napi(object)]
pub struct NativeBreaker {
  pub failure_threshold: Option<u32>,
  pub cooldown_ms: Option<u32>,
  pub max_cooldown_ms: Option<u32>,
}

fn tls_from(t: NativeTls) -> TlsConfig {
  let d = TlsConfig::default();
  TlsConfig {
    ca: t.ca.map(|b| b.to_vec()),
    cert: t.cert.map(|b| b.to_vec()),
    key: t.key.map(|b| Secret::new(b.to_vec())),
    servername: t.servername,
    reject_unauthorized: t.reject_unauthorized.unwrap_or(d.reject_unauthorized),
    min_version: match t.min_version.as_deref() {
      Some("TLSv1.3") => TlsVersion::V1_3,
      Some(_) => TlsVersion::V1_2,
      None => d.min_version,
    },
  }
}

fn security_from(s: NativeSecurity) -> Security {
  Security {
    client_hostname: s.client_hostname,
    shared_key: Secret::new(s.shared_key),
    username: s.username.unwrap_or_default(),
    password: Secret::new(s.password.unwrap_or_default()),
  }
}

/// A TCP target from optional host and port (the defaults where unset), or a Unix path.
fn target_from(
  host: Option<String>,
  port: Option<u32>,
  path: Option<String>,
) -> Result<Target, fluent_forward::Error> {
  if let Some(path) = path {
    return Ok(Target::Unix(path));
  }
  let Target::Tcp {
    host: dhost,
    port: dport,
  } = Config::default().target
  else {
    unreachable!("the default target is TCP")
  };
  let port = port.unwrap_or(dport as u32);
  options::check_int("port", port as u64)?;
  Ok(Target::Tcp {
    host: host.unwrap_or(dhost),
    port: port as u16,
  })
}

/// A byte count passed as a JS number: an integer within the option's range.
fn bytes_option(name: &str, v: f64) -> Result<usize, fluent_forward::Error> {
  if !(v.is_finite() && v >= 0.0 && v.fract() == 0.0) {
    return Err(fluent_forward::Error::Config(format!(
      "{name} must be an integer"
    )));
  }
  options::check_int(name, v as u64)?;
  Ok(v as usize)
}

fn ms(v: u32) -> Duration {
  Duration::from_millis(v as u64)
}

pub fn config_from(o: NativeOptions) -> Result<Config, fluent_forward::Error> {
  let mut c = Config {
    target: target_from(o.host, o.port, o.path)?,
    ..Config::default()
  };
  if let Some(m) = o.mode {
    c.mode = match m {
      WireMode::Message => Mode::Message,
      WireMode::Forward => Mode::Forward,
      WireMode::PackedForward => Mode::PackedForward,
    };
  }
  if o.time_as_integer == Some(true) {
    c.time_format = TimeFormat::Integer;
  }
  // Each algorithm its own default level; `Config::validate` checks each its own range.
  let level = o.compression_level;
  c.compression = o.compress.map(|a| match a {
    Compress::Gzip => Compression::Gzip(level.unwrap_or(options::DEFAULT_GZIP_LEVEL)),
    Compress::Zstd => Compression::Zstd(level.unwrap_or(options::DEFAULT_ZSTD_LEVEL)),
  });
  c.require_ack = o.require_ack.unwrap_or(false);
  if let Some(v) = o.max_buffer_bytes {
    c.max_buffer_bytes = bytes_option("maxBufferBytes", v)?;
  }
  if let Some(v) = o.error_handler_max_bytes {
    c.undelivered_max_bytes = bytes_option("errorHandlerMaxBytes", v)?;
  }
  c.keep_undelivered = o.keep_undelivered.unwrap_or(false);
  if let Some(p) = o.overflow {
    c.overflow = match p {
      OverflowPolicy::DropNewest => Overflow::DropNewest,
      OverflowPolicy::DropOldest => Overflow::DropOldest,
      OverflowPolicy::Error => Overflow::Error,
    };
  }
  let set = |field: &mut usize, v: Option<u32>| {
    if let Some(v) = v {
      *field = v as usize;
    }
  };
  set(&mut c.batch_bytes, o.batch_bytes);
  set(&mut c.max_record_bytes, o.max_record_bytes);
  set(&mut c.max_in_flight, o.max_in_flight);
  let set_ms = |field: &mut Duration, v: Option<u32>| {
    if let Some(v) = v {
      *field = ms(v);
    }
  };
  set_ms(&mut c.flush_interval, o.flush_interval_ms);
  set_ms(&mut c.connect_timeout, o.connect_timeout_ms);
  set_ms(&mut c.write_timeout, o.write_timeout_ms);
  set_ms(&mut c.ack_timeout, o.ack_timeout_ms);
  set_ms(&mut c.reconnect_initial, o.reconnect_initial_delay_ms);
  set_ms(&mut c.reconnect_max, o.reconnect_max_delay_ms);
  set_ms(&mut c.exit_flush_timeout, o.exit_flush_timeout_ms);
  set_ms(&mut c.handshake_timeout, o.handshake_timeout_ms);
  set_ms(&mut c.heartbeat_interval, o.heartbeat_interval_ms);
  set_ms(&mut c.dns_ttl, o.dns_ttl_ms);
  c.heartbeat = match o.heartbeat.as_deref() {
    Some("udp") => Some(Heartbeat::Udp),
    Some("tcp") => Some(Heartbeat::Tcp),
    Some("none") => Some(Heartbeat::None),
    Some(other) => {
      return Err(fluent_forward::Error::Config(format!(
        "unknown heartbeat {other}"
      )))
    }
    None => None,
  };
  c.tls = o.tls.map(tls_from);
  c.security = o.security.map(security_from);
  for s in o.servers.unwrap_or_default() {
    let tls = match (s.no_tls, s.tls) {
      (Some(true), _) => None,
      (_, Some(t)) => Some(tls_from(t)),
      _ => c.tls.clone(),
    };
    let security = match (s.no_security, s.security) {
      (Some(true), _) => None,
      (_, Some(sec)) => Some(security_from(sec)),
      _ => c.security.clone(),
    };
    c.servers.push(Server {
      target: target_from(s.host, s.port, s.path)?,
      weight: s.weight.unwrap_or(1),
      standby: s.standby.unwrap_or(false),
      tls,
      security,
    });
  }
  if let Some(first) = c.servers.first() {
    // The first server stands for the fleet where one address is wanted (`stats().breaker`).
    c.target = first.target.clone();
  }
  if let Some(b) = o.breaker {
    if let Some(v) = b.failure_threshold {
      c.breaker.failure_threshold = v;
    }
    set_ms(&mut c.breaker.cooldown, b.cooldown_ms);
    set_ms(&mut c.breaker.max_cooldown, b.max_cooldown_ms);
  }
  if let Some(v) = o.max_batch_attempts {
    c.max_batch_attempts = v;
  }
  c.validate()?;
  Ok(c)
}

/// An event for the JS side: `kind` is `connect`, `disconnect`, `error`, `breaker`, `delivered` or
/// `undelivered`; the fields that do not apply to a kind are unset.
#[napi(object)]
#[derive(Default)]
pub struct JsEvent {
  pub kind: String,
  pub code: Option<String>,
  pub message: Option<String>,
  /// Records the event concerns (dropped, undelivered, delivered).
  pub records: Option<f64>,
  pub tag: Option<String>,
  /// For `breaker`: `closed`, `open` or `halfOpen`.
  pub state: Option<String>,
  /// Index of the server in the fleet (connect, disconnect, breaker, delivered).
  pub server: Option<u32>,
  /// For `delivered`: the msgpack entries, as on the wire.
  pub entries: Option<Buffer>,
  /// For `delivered`: the server acknowledged the batch.
  pub acked: Option<bool>,
  /// For errors about a connection: the server, `host:port` or the socket path.
  pub address: Option<String>,
  /// For errors about a connection: the errno-style name of the cause (`ECONNREFUSED`...).
  pub cause_code: Option<String>,
}

pub fn breaker_name(state: BreakerState) -> &'static str {
  match state {
    BreakerState::Closed => "closed",
    BreakerState::Open => "open",
    BreakerState::HalfOpen => "halfOpen",
  }
}

impl JsEvent {
  fn of(kind: &str) -> Self {
    Self {
      kind: kind.into(),
      ..std::default::Default::default()
    }
  }

  /// `Display` of every core error already carries its source, so the message is just that.
  fn with_error(mut self, e: &fluent_forward::Error) -> Self {
    self.code = Some(error_code(e));
    self.message = Some(e.to_string());
    self.address = e.address().map(String::from);
    self.cause_code = e.errno().map(String::from);
    self
  }
}

pub fn event_to_js(event: Event) -> JsEvent {
  match event {
    Event::Connected { server } => JsEvent {
      server: Some(server as u32),
      ..JsEvent::of("connect")
    },
    Event::Disconnected { server, error } => {
      let ev = JsEvent {
        server: Some(server as u32),
        ..JsEvent::of("disconnect")
      };
      match &error {
        Some(e) => ev.with_error(e),
        None => ev,
      }
    }
    Event::Error { error, records, tag } => JsEvent {
      records: Some(records as f64),
      tag: tag.map(|t| t.to_string()),
      ..JsEvent::of("error")
    }
    .with_error(&error),
    Event::Breaker { state, server } => JsEvent {
      state: Some(breaker_name(state).into()),
      server: Some(server as u32),
      ..JsEvent::of("breaker")
    },
    Event::Delivered {
      tag,
      entries,
      records,
      server,
      acked,
    } => JsEvent {
      tag: Some(tag.to_string()),
      entries: Some(entries.into()),
      records: Some(records as f64),
      server: Some(server as u32),
      acked: Some(acked),
      ..JsEvent::of("delivered")
    },
    Event::HandOver => JsEvent::of("handover"),
  }
}

/// One batch for the failure handler, taken from the hand-over store (`takeUndelivered`).
#[napi(object)]
pub struct JsKept {
  pub tag: String,
  pub entries: Buffer,
  pub records: f64,
  /// `rejected`, `dropped` or `unavailable`.
  pub reason: String,
  /// The failure handler may give the records back to be sent again.
  pub retriable: bool,
  /// The records had been accepted at emit (they count in `emitted`, not in `refused`).
  pub accepted: bool,
  pub code: String,
  pub message: String,
}

pub fn kept_to_js(k: fluent_forward::Kept) -> JsKept {
  let error = k.error();
  JsKept {
    tag: k.chunk.tag.to_string(),
    records: k.chunk.records() as f64,
    entries: k.chunk.entries.into(),
    reason: k.reason.name().into(),
    retriable: k.reason.retriable(),
    accepted: k.accepted,
    code: error_code(&error),
    message: error.to_string(),
  }
}

/// A batch left with the writer when it stopped (see `Client::take_leftovers`).
#[napi(object)]
pub struct JsBatch {
  pub tag: String,
  pub entries: Buffer,
  pub records: f64,
}

/// What `pushEntries` did: records accepted, and the bytes buffered afterwards.
#[napi(object)]
pub struct JsPushed {
  pub accepted: f64,
  pub queued_bytes: f64,
}

#[napi(object)]
pub struct JsCloseReport {
  pub emitted: f64,
  pub refused: f64,
  pub kept: f64,
  pub sent: f64,
  pub dropped: f64,
  pub pending: f64,
  pub rejected: f64,
}

/// One client's outcome at exit.
#[napi(object)]
pub struct JsExitReport {
  /// The client's id (`NativeClient.id`).
  pub id: u32,
  /// This report sums the clients whose JS object was collected before they were closed.
  pub collected: bool,
  /// `false`: the writer had not stopped by the deadline; `pending` is then what it still held.
  pub stopped: bool,
  pub report: JsCloseReport,
  /// Records not delivered.
  pub pending: f64,
}

pub fn close_report(r: CloseReport) -> JsCloseReport {
  JsCloseReport {
    emitted: r.emitted as f64,
    refused: r.refused as f64,
    kept: r.kept as f64,
    sent: r.sent as f64,
    dropped: r.dropped as f64,
    pending: r.pending as f64,
    rejected: r.rejected as f64,
  }
}

#[napi(object)]
pub struct JsStats {
  pub emitted: f64,
  pub refused: f64,
  pub pending: f64,
  pub sent: f64,
  pub dropped: f64,
  pub rejected: f64,
  pub queued_bytes: f64,
  pub queued_records: f64,
  pub in_flight_batches: f64,
  pub batches_sent: f64,
  pub bytes_sent: f64,
  pub connects: f64,
  pub reconnects: f64,
  pub errors: f64,
  pub retries: f64,
  pub events_lost: f64,
  pub connected: bool,
  /// `closed`, `open` or `halfOpen`: the first server's.
  pub breaker: String,
  pub duplicates: f64,
  pub handed_over: f64,
  pub handler_overflow: f64,
  pub retagged: f64,
  pub servers: Vec<JsServerStats>,
}

#[napi(object)]
pub struct JsServerStats {
  pub address: String,
  pub healthy: bool,
  pub connected: bool,
  pub breaker: String,
  pub sent: f64,
  pub batches: f64,
  pub errors: f64,
  pub in_flight: f64,
}

pub fn stats_to_js(s: Stats) -> JsStats {
  JsStats {
    emitted: s.emitted as f64,
    refused: s.refused as f64,
    pending: s.pending as f64,
    sent: s.sent as f64,
    dropped: s.dropped as f64,
    rejected: s.rejected as f64,
    queued_bytes: s.queued_bytes as f64,
    queued_records: s.queued_records as f64,
    in_flight_batches: s.in_flight_batches as f64,
    batches_sent: s.batches_sent as f64,
    bytes_sent: s.bytes_sent as f64,
    connects: s.connects as f64,
    reconnects: s.reconnects as f64,
    errors: s.errors as f64,
    retries: s.retries as f64,
    events_lost: s.events_lost as f64,
    connected: s.connected,
    breaker: breaker_name(s.breaker).into(),
    duplicates: s.duplicates as f64,
    handed_over: s.handed_over as f64,
    handler_overflow: s.handler_overflow as f64,
    retagged: s.retagged as f64,
    servers: s
      .servers
      .into_iter()
      .map(|v| JsServerStats {
        address: v.address,
        healthy: v.healthy,
        connected: v.connected,
        breaker: breaker_name(v.breaker).into(),
        sent: v.sent as f64,
        batches: v.batches as f64,
        errors: v.errors as f64,
        in_flight: v.in_flight as f64,
      })
      .collect(),
  }
}
