//! Plain conversions between JS objects and core types.

use fluent_forward::options::{self, Default, Kind};
use fluent_forward::{
  BreakerState, CloseReport, Config, Event, Mode, Overflow, Secret, Security, Stats, Target, TimeFormat,
  TlsConfig, TlsVersion,
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
  /// gzip level 0-9 when compressing.
  pub gzip_level: Option<u32>,
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

fn ms(v: u32) -> Duration {
  Duration::from_millis(v as u64)
}

pub fn config_from(o: NativeOptions) -> Result<Config, fluent_forward::Error> {
  let mut c = Config::default();
  if let Some(path) = o.path {
    c.target = Target::Unix(path);
  } else {
    let Target::Tcp { host, port } = &c.target else {
      unreachable!("the default target is TCP")
    };
    let port = o.port.unwrap_or(*port as u32);
    options::check_int("port", port as u64)?;
    c.target = Target::Tcp {
      host: o.host.unwrap_or_else(|| host.clone()),
      port: port as u16,
    };
  }
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
  c.gzip = o.gzip_level;
  c.require_ack = o.require_ack.unwrap_or(false);
  if let Some(v) = o.max_buffer_bytes {
    if !(v.is_finite() && v >= 0.0 && v.fract() == 0.0) {
      return Err(fluent_forward::Error::Config(
        "maxBufferBytes must be an integer".into(),
      ));
    }
    options::check_int("maxBufferBytes", v as u64)?;
    c.max_buffer_bytes = v as usize;
  }
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
  c.tls = o.tls.map(tls_from);
  c.security = o.security.map(|s| Security {
    client_hostname: s.client_hostname,
    shared_key: Secret::new(s.shared_key),
    username: s.username.unwrap_or_default(),
    password: Secret::new(s.password.unwrap_or_default()),
  });
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

/// An event for the JS side: `kind` is `connect`, `disconnect`, `error` or `breaker`.
#[napi(object)]
pub struct JsEvent {
  pub kind: String,
  pub code: Option<String>,
  pub message: Option<String>,
  /// Records the error concerns (dropped or undelivered).
  pub records: Option<f64>,
  pub tag: Option<String>,
  /// For `breaker`: `closed`, `open` or `halfOpen`.
  pub state: Option<String>,
}

pub fn breaker_name(state: BreakerState) -> &'static str {
  match state {
    BreakerState::Closed => "closed",
    BreakerState::Open => "open",
    BreakerState::HalfOpen => "halfOpen",
  }
}

/// `Display` of every core error already carries its source, so the message is just that.
fn error_fields(e: &fluent_forward::Error) -> (Option<String>, Option<String>) {
  (Some(error_code(e)), Some(e.to_string()))
}

pub fn event_to_js(event: Event) -> JsEvent {
  match event {
    Event::Connected => JsEvent {
      kind: "connect".into(),
      code: None,
      message: None,
      records: None,
      tag: None,
      state: None,
    },
    Event::Disconnected(err) => {
      let (code, message) = err.as_ref().map(error_fields).unwrap_or((None, None));
      JsEvent {
        kind: "disconnect".into(),
        code,
        message,
        records: None,
        tag: None,
        state: None,
      }
    }
    Event::Error { error, records, tag } => {
      let (code, message) = error_fields(&error);
      JsEvent {
        kind: "error".into(),
        code,
        message,
        records: Some(records as f64),
        tag: tag.map(|t| t.to_string()),
        state: None,
      }
    }
    Event::Breaker { state } => JsEvent {
      kind: "breaker".into(),
      code: None,
      message: None,
      records: None,
      tag: None,
      state: Some(breaker_name(state).into()),
    },
  }
}

#[napi(object)]
pub struct JsCloseReport {
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
    sent: r.sent as f64,
    dropped: r.dropped as f64,
    pending: r.pending as f64,
    rejected: r.rejected as f64,
  }
}

#[napi(object)]
pub struct JsStats {
  pub emitted: f64,
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
  /// `closed`, `open` or `halfOpen`.
  pub breaker: String,
}

pub fn stats_to_js(s: Stats) -> JsStats {
  JsStats {
    emitted: s.emitted as f64,
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
  }
}
