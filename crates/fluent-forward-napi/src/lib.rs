//! The napi binding: converts JS values to core types and back, and owns the event callback.
//! No logic lives here; if some grows, it belongs in `fluent-forward`.
#![deny(clippy::all)]

mod convert;

use convert::{
  close_report, config_from, event_to_js, stats_to_js, JsCloseReport, JsEvent, JsPushMany, JsStats, NativeOptions,
};
use fluent_forward::{Client, EventTime};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use std::sync::Arc;
use std::time::Duration;

/// Weak (never keeps the process alive), not callee-handled, at most 1024 queued events: a slow
/// JS thread costs events (counted), never a blocked writer.
type EventFn = ThreadsafeFunction<JsEvent, (), JsEvent, Status, false, true, 1024>;

/// `push*` results; negative values name the reason a record was not taken.
pub const ACCEPTED: i32 = 1;
pub const DROPPED: i32 = 0;
pub const QUEUE_FULL: i32 = -1;
pub const TOO_LARGE: i32 = -2;
pub const UNKNOWN_TAG: i32 = -3;
pub const INVALID: i32 = -4;

fn code_of(e: &fluent_forward::Error) -> i32 {
  match e {
    fluent_forward::Error::QueueFull { .. } => QUEUE_FULL,
    fluent_forward::Error::RecordTooLarge { .. } => TOO_LARGE,
    fluent_forward::Error::InvalidTag(_) => UNKNOWN_TAG,
    _ => INVALID,
  }
}

fn status_of(r: std::result::Result<bool, fluent_forward::Error>) -> i32 {
  match r {
    Ok(true) => ACCEPTED,
    Ok(false) => DROPPED,
    Err(e) => code_of(&e),
  }
}

fn time_of(sec: f64, nsec: u32) -> Option<EventTime> {
  // JS passes a negative second for "now": the core reads the clock, in nanoseconds.
  if sec < 0.0 {
    None
  } else {
    EventTime::new(sec as u32, nsec)
  }
}

/// Internal: the public API is `FluentClient` in index.ts.
#[napi]
pub struct NativeClient {
  client: Arc<Client>,
}

#[napi]
impl NativeClient {
  #[napi(constructor, ts_args_type = "options: NativeOptions, onEvent: (event: JsEvent) => void")]
  pub fn new(options: NativeOptions, on_event: EventFn) -> Result<Self> {
    let config = config_from(options).map_err(|e| Error::new(Status::InvalidArg, e.to_string()))?;
    let sink = Arc::new(move |event| {
      // `Closing` (the env is gone) and `QueueFull` (JS is behind) both mean the event is dropped.
      let _ = on_event.call(event_to_js(event), ThreadsafeFunctionCallMode::NonBlocking);
    });
    let client = Client::start(config, sink).map_err(|e| Error::new(Status::InvalidArg, e.to_string()))?;
    Ok(Self { client: Arc::new(client) })
  }

  /// Id for a tag, to pass to `push`. Throws for an empty or overlong tag.
  #[napi]
  pub fn tag_id(&self, tag: String) -> Result<u32> {
    self.client.tag_id(&tag).map_err(|e| Error::new(Status::InvalidArg, e.to_string()))
  }

  /// Buffers `buf[0..len]`, one msgpack map from the JS encoder. `sec < 0` means now.
  #[napi]
  pub fn push(&self, buf: &[u8], len: u32, tag: u32, sec: f64, nsec: u32) -> i32 {
    let Some(record) = buf.get(..len as usize) else { return INVALID };
    if sec >= 0.0 && time_of(sec, nsec).is_none() {
      return INVALID;
    }
    status_of(self.client.push(tag, time_of(sec, nsec), record))
  }

  /// Buffers one caller-encoded msgpack map after validating it (`emitRaw`).
  #[napi]
  pub fn push_raw(&self, buf: &[u8], len: u32, tag: u32, sec: f64, nsec: u32) -> i32 {
    let Some(record) = buf.get(..len as usize) else { return INVALID };
    if sec >= 0.0 && time_of(sec, nsec).is_none() {
      return INVALID;
    }
    status_of(self.client.push_raw(tag, time_of(sec, nsec), record))
  }

  /// Buffers concatenated msgpack maps, validating all of them before taking any.
  #[napi]
  pub fn push_many(&self, buf: &[u8], len: u32, tag: u32, sec: f64, nsec: u32) -> JsPushMany {
    let fail = |status, message: String| JsPushMany { status, accepted: 0, dropped: 0, message: Some(message) };
    let Some(records) = buf.get(..len as usize) else { return fail(INVALID, "length out of range".into()) };
    if sec >= 0.0 && time_of(sec, nsec).is_none() {
      return fail(INVALID, "invalid time".into());
    }
    match self.client.push_many(tag, time_of(sec, nsec), records) {
      Ok(n) => JsPushMany { status: ACCEPTED, accepted: n.accepted, dropped: n.dropped, message: None },
      Err(e) => fail(code_of(&e), e.to_string()),
    }
  }

  /// Resolves `true` once everything emitted before the call is written (acked), `false` at the timeout.
  #[napi(ts_return_type = "Promise<boolean>")]
  pub fn flush<'env>(&self, env: &'env Env, timeout_ms: u32) -> Result<Object<'env>> {
    let (deferred, promise) = env.create_deferred::<bool, Box<dyn FnOnce(Env) -> Result<bool>>>()?;
    self.client.flush(
      Duration::from_millis(timeout_ms as u64),
      Box::new(move |ok| deferred.resolve(Box::new(move |_| Ok(ok)))),
    );
    Ok(promise)
  }

  /// Stops accepting, drains for at most `timeoutMs`, stops the writer; resolves with the report.
  #[napi(ts_return_type = "Promise<JsCloseReport>")]
  pub fn close<'env>(&self, env: &'env Env, timeout_ms: u32) -> Result<Object<'env>> {
    type Resolve = Box<dyn FnOnce(Env) -> Result<JsCloseReport>>;
    let (deferred, promise) = env.create_deferred::<JsCloseReport, Resolve>()?;
    self.client.close(
      Duration::from_millis(timeout_ms as u64),
      Some(Box::new(move |r| deferred.resolve(Box::new(move |_| Ok(close_report(r)))))),
    );
    Ok(promise)
  }

  /// Blocks the JS thread until drained or `timeoutMs` passes. Only for process exit.
  #[napi]
  pub fn close_sync(&self, timeout_ms: u32) -> Option<JsCloseReport> {
    self.client.close_blocking(Duration::from_millis(timeout_ms as u64)).map(close_report)
  }

  #[napi]
  pub fn stats(&self) -> JsStats {
    stats_to_js(self.client.stats())
  }
}
