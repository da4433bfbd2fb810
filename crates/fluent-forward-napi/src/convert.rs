//! Plain conversions between JS objects and core types.

use fluent_forward::{CloseReport, Config, Event, Mode, Overflow, Stats, Target, TimeFormat};
use napi_derive::napi;
use std::time::Duration;

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
}

fn ms(v: u32) -> Duration {
  Duration::from_millis(v as u64)
}

pub fn config_from(o: NativeOptions) -> Result<Config, fluent_forward::Error> {
  let mut c = Config::default();
  if let Some(path) = o.path {
    c.target = Target::Unix(path);
  } else {
    let port = o.port.unwrap_or(24224);
    if port == 0 || port > 65535 {
      return Err(fluent_forward::Error::Config(
        "port must be between 1 and 65535".into(),
      ));
    }
    c.target = Target::Tcp {
      host: o.host.unwrap_or_else(|| "127.0.0.1".into()),
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
    if !(v.is_finite() && v >= 1.0 && v <= (1u64 << 40) as f64) {
      return Err(fluent_forward::Error::Config(
        "maxBufferBytes must be between 1 and 2^40".into(),
      ));
    }
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
  Ok(c)
}

/// An event for the JS side: `kind` is `connect`, `disconnect` or `error`.
#[napi(object)]
pub struct JsEvent {
  pub kind: String,
  pub code: Option<String>,
  pub message: Option<String>,
  /// Records the error concerns (dropped or undelivered).
  pub records: Option<f64>,
  pub tag: Option<String>,
}

fn error_fields(e: &fluent_forward::Error) -> (Option<String>, Option<String>) {
  let mut message = e.to_string();
  let mut source = std::error::Error::source(e);
  while let Some(s) = source {
    message.push_str(": ");
    message.push_str(&s.to_string());
    source = s.source();
  }
  // `Display` of io-based errors already includes the source once.
  if let Some(first) = std::error::Error::source(e) {
    let dup = format!(": {first}");
    if message.matches(&dup).count() > 1 || message.ends_with(&format!("{first}{dup}")) {
      message = e.to_string();
    }
  }
  (Some(format!("ERR_FLUENT_{}", e.code())), Some(message))
}

pub fn event_to_js(event: Event) -> JsEvent {
  match event {
    Event::Connected => JsEvent {
      kind: "connect".into(),
      code: None,
      message: None,
      records: None,
      tag: None,
    },
    Event::Disconnected(err) => {
      let (code, message) = err.as_ref().map(error_fields).unwrap_or((None, None));
      JsEvent {
        kind: "disconnect".into(),
        code,
        message,
        records: None,
        tag: None,
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
      }
    }
  }
}

#[napi(object)]
pub struct JsCloseReport {
  pub sent: f64,
  pub dropped: f64,
  pub pending: f64,
  pub rejected: f64,
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
  }
}
