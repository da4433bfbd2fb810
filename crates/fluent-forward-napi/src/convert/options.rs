//! Options from JS: the option table JS checks against (`optionSpecs`), the option objects the
//! binding takes, and their conversion into the core's `Config`.

use fluent_forward::options::{self, Default, Kind};
use fluent_forward::{
  Compression, Config, Heartbeat, Mode, Overflow, Resolve, Secret, Security, Server, SpoolConfig, Target,
  TimeFormat, TlsConfig, TlsVersion,
};
use napi::bindgen_prelude::Buffer;
use napi_derive::napi;
use std::time::Duration;

/// One row of the option table (`fluent_forward::options`), for the JS side's checks.
#[napi(object)]
pub struct JsOptionSpec {
  /// The option's name as JS users write it; call options carry their method (`flush.timeoutMs`).
  pub name: String,
  /// `integer`, `boolean`, `string` or `enum`.
  pub kind: String,
  /// For `integer`: the smallest value accepted.
  pub min: Option<f64>,
  /// For `integer`: the largest value accepted.
  pub max: Option<f64>,
  /// For `enum`.
  pub values: Option<Vec<String>>,
  /// The default of an `integer` option.
  pub default_number: Option<f64>,
  /// The default of a `boolean` option.
  pub default_boolean: Option<bool>,
  /// The default of a `string` or `enum` option.
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

/// The values of `mode`: the Forward wire form of each request.
#[napi(string_enum = "camelCase")]
pub enum WireMode {
  /// One request per event.
  Message,
  /// A batch as an array of entries.
  Forward,
  /// A batch as msgpack bytes.
  PackedForward,
}

/// The values of `compress` (options.rs COMPRESSIONS), each the `compressed` value on the wire.
#[napi(string_enum = "camelCase")]
pub enum Compress {
  /// One gzip member per batch: every Forward server takes it.
  Gzip,
  /// One zstd frame per batch: Fluent Bit >= 4.1.0, fluentd >= 1.19.
  Zstd,
}

/// The values of `overflow`: what a full buffer does with a new record.
#[napi(string_enum = "camelCase")]
pub enum OverflowPolicy {
  /// Refuse the new record.
  DropNewest,
  /// Discard the oldest batch, if that makes room.
  DropOldest,
  /// Throw `ERR_FLUENT_QUEUE_FULL`.
  Error,
}

/// Options as index.ts passes them; unset fields take the core's defaults. Each field is the public
/// option of the same name, documented in full in src/types.ts (and docs/options.md).
#[napi(object)]
pub struct NativeOptions {
  /// TCP server host.
  pub host: Option<String>,
  /// TCP server port.
  pub port: Option<u32>,
  /// Unix socket path, instead of host and port.
  pub path: Option<String>,
  /// Wire form of each request.
  pub mode: Option<WireMode>,
  /// Integer seconds instead of EventTime.
  pub time_as_integer: Option<bool>,
  /// Send CompressedPackedForward with this algorithm.
  pub compress: Option<Compress>,
  /// The level of `compress`'s algorithm; unset takes that algorithm's default.
  pub compression_level: Option<u32>,
  /// Acks: at-least-once delivery.
  pub require_ack: Option<bool>,
  /// Cap on every buffered record byte.
  pub max_buffer_bytes: Option<f64>,
  /// What a full buffer does with a new record.
  pub overflow: Option<OverflowPolicy>,
  /// A batch is sent once it holds this many bytes.
  pub batch_bytes: Option<u32>,
  /// ...or once its first record has waited this long.
  pub flush_interval_ms: Option<u32>,
  /// Larger records throw ERR_FLUENT_RECORD_TOO_LARGE.
  pub max_record_bytes: Option<u32>,
  /// How long one connect may take.
  pub connect_timeout_ms: Option<u32>,
  /// A write that makes no progress for this long drops the connection.
  pub write_timeout_ms: Option<u32>,
  /// No ack by then: reconnect and resend.
  pub ack_timeout_ms: Option<u32>,
  /// Batches awaiting an ack at once.
  pub max_in_flight: Option<u32>,
  /// Reconnect backoff: first delay.
  pub reconnect_initial_delay_ms: Option<u32>,
  /// Reconnect backoff: largest delay.
  pub reconnect_max_delay_ms: Option<u32>,
  /// Attempts before a batch is split to isolate rejected records.
  pub max_batch_attempts: Option<u32>,
  /// How long the exit waits for buffered records; 0 disables.
  pub exit_flush_timeout_ms: Option<u32>,
  /// Not a user option: index.ts sets it so that 'delivered' listeners added in the constructor's
  /// turn see the batches a spool's replay delivers before they were added (it turns the reports
  /// off after that turn if nobody listens).
  pub delivery_reports: Option<bool>,
  /// Bounds TLS plus the Forward handshake.
  pub handshake_timeout_ms: Option<u32>,
  /// Client-wide TLS.
  pub tls: Option<NativeTls>,
  /// Client-wide Forward handshake.
  pub security: Option<NativeSecurity>,
  /// Each server's circuit breaker.
  pub breaker: Option<NativeBreaker>,
  /// Several servers instead of host/port/path.
  pub servers: Option<Vec<NativeServer>>,
  /// `udp`, `tcp` or `none`; unset: `tcp` (for a single server too).
  pub heartbeat: Option<String>,
  /// Time between two heartbeats to a server.
  pub heartbeat_interval_ms: Option<u32>,
  /// How long a resolved host name is reused.
  pub dns_ttl_ms: Option<u32>,
  /// A failure handler is set: keep undelivered records for it.
  pub keep_undelivered: Option<bool>,
  /// Cap on dropped-record bytes waiting for the failure handler.
  pub error_handler_max_bytes: Option<f64>,
  /// The durable spool.
  pub spool: Option<NativeSpool>,
}

/// `spool` as src/options.ts passes it, checked against the table already (`dir` set).
#[napi(object)]
pub struct NativeSpool {
  /// The spool directory.
  pub dir: String,
  /// Cap on the spool's disk bytes.
  pub max_bytes: Option<f64>,
  /// `-1`: never fsync; `0`: after every batch.
  pub sync_interval_ms: Option<i64>,
  /// A named slot; unset: an automatic one.
  pub slot: Option<String>,
}

fn spool_from(s: NativeSpool) -> Result<SpoolConfig, fluent_forward::Error> {
  let mut out = SpoolConfig::new(s.dir);
  if let Some(v) = s.max_bytes {
    out.max_bytes = bytes_option("spool.maxBytes", v)? as u64;
  }
  if let Some(v) = s.sync_interval_ms {
    out.sync_interval = match u64::try_from(v) {
      Ok(ms) => Some(Duration::from_millis(ms)),
      Err(_) if v == options::SYNC_NEVER => None,
      Err(_) => {
        return Err(fluent_forward::Error::Config(format!(
          "spool.syncIntervalMs must be an integer in {}..{}, got {v}",
          options::SYNC_NEVER,
          options::MAX_MS
        )))
      }
    };
  }
  out.slot = s.slot;
  Ok(out)
}

/// One entry of `servers`. `tls`/`security` unset: the client-wide ones; `noTls`/`noSecurity`:
/// none for this server even if the client sets them.
#[napi(object)]
pub struct NativeServer {
  /// TCP host of this server.
  pub host: Option<String>,
  /// TCP port of this server.
  pub port: Option<u32>,
  /// Unix socket path, instead of host and port.
  pub path: Option<String>,
  /// Share of the batches among the healthy regular servers.
  pub weight: Option<u32>,
  /// Only used while no regular server is available.
  pub standby: Option<bool>,
  /// `first` or `all` (one server per address of `host`: a fleet found through DNS).
  pub resolve: Option<String>,
  /// TLS for this server, instead of the client-wide one.
  pub tls: Option<NativeTls>,
  /// No TLS for this server.
  pub no_tls: Option<bool>,
  /// The handshake for this server, instead of the client-wide one.
  pub security: Option<NativeSecurity>,
  /// No handshake for this server.
  pub no_security: Option<bool>,
}

/// `tls` as src/options.ts passes it: PEM as bytes, everything else checked already.
#[napi(object)]
pub struct NativeTls {
  /// PEM: trust these CAs instead of the default roots.
  pub ca: Option<Buffer>,
  /// PEM client certificate chain (mutual TLS).
  pub cert: Option<Buffer>,
  /// PEM private key of `cert`.
  pub key: Option<Buffer>,
  /// Name for SNI and verification; unset: the host.
  pub servername: Option<String>,
  /// `false` skips verifying the server's certificate.
  pub reject_unauthorized: Option<bool>,
  /// `TLSv1.2` or `TLSv1.3`.
  pub min_version: Option<String>,
}

/// `security` as src/options.ts passes it (the public `SecurityOptions`), `clientHostname` filled in.
#[napi(object)]
pub struct NativeSecurity {
  /// Our name in the handshake.
  pub client_hostname: String,
  /// The server's shared key.
  pub shared_key: String,
  /// For user authentication.
  pub username: Option<String>,
  /// The user's password.
  pub password: Option<String>,
}

/// `breaker` as the public `BreakerOptions`; unset fields take the core's defaults.
#[napi(object)]
pub struct NativeBreaker {
  /// Consecutive connection failures that open the breaker.
  pub failure_threshold: Option<u32>,
  /// How long it stays open before a probe; doubles per consecutive opening.
  pub cooldown_ms: Option<u32>,
  /// Cap on the doubling of `cooldownMs`.
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
  c.delivery_reports = o.delivery_reports.unwrap_or(false);
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
      resolve: resolve_from(s.resolve.as_deref())?,
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
  c.spool = o.spool.map(spool_from).transpose()?;
  c.validate()?;
  Ok(c)
}

/// `resolve` as the option table spells it (`options::RESOLVES`).
fn resolve_from(name: Option<&str>) -> Result<Resolve, fluent_forward::Error> {
  match name {
    None | Some("first") => Ok(Resolve::First),
    Some("all") => Ok(Resolve::All),
    Some(other) => Err(fluent_forward::Error::Config(format!(
      "resolve must be 'first' or 'all', got {other:?}"
    ))),
  }
}
