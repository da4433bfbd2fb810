//! The napi binding: converts JS values to core types and back, and owns the event callback.
//! No logic lives here; if some grows, it belongs in `fluent-forward`.
#![deny(clippy::all)]

mod convert;

use convert::{
  close_report, config_from, event_to_js, stats_to_js, JsCloseReport, JsEvent, JsStats, NativeOptions,
};
use fluent_forward::staging::Anchor;
use fluent_forward::{Client, EventTime};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use std::cell::RefCell;
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

thread_local! {
  /// Clients of this JS thread by id, so the hot call is a plain function taking a number: a napi
  /// class method pays for unwrapping `this` on every call (measured in the README).
  static CLIENTS: RefCell<Vec<Option<Arc<Client>>>> = const { RefCell::new(Vec::new()) };
}

/// Hands a staged block (see `fluent_forward::staging`) to client `id`. `monoNow` is
/// `performance.now()` at the handover. Returns the bytes buffered afterwards, or -1 if the block
/// was malformed (reported through the error handler) or the client is gone.
#[napi]
pub fn push_staged(id: u32, buf: &[u8], len: u32, mono_now: f64) -> f64 {
  let Some(client) = CLIENTS.with(|c| c.borrow().get(id as usize).cloned().flatten()) else {
    return -1.0;
  };
  let Some(block) = buf.get(..len as usize) else {
    return -1.0;
  };
  match client.push_staged(block, Anchor::now(mono_now)) {
    Ok(pushed) => pushed.queued_bytes as f64,
    Err(e) => {
      client.report(e);
      -1.0
    }
  }
}

/// Internal: the public API is `FluentClient` in index.ts.
#[napi]
pub struct NativeClient {
  client: Arc<Client>,
  id: u32,
}

impl Drop for NativeClient {
  fn drop(&mut self) {
    CLIENTS.with(|c| {
      if let Some(slot) = c.borrow_mut().get_mut(self.id as usize) {
        *slot = None;
      }
    });
  }
}

#[napi]
impl NativeClient {
  #[napi(
    constructor,
    ts_args_type = "options: NativeOptions, onEvent: (event: JsEvent) => void"
  )]
  pub fn new(options: NativeOptions, on_event: EventFn) -> Result<Self> {
    let config = config_from(options).map_err(|e| Error::new(Status::InvalidArg, e.to_string()))?;
    let sink = Arc::new(move |event| {
      // `Closing` (the env is gone) and `QueueFull` (JS is behind) both mean the event is lost.
      on_event.call(event_to_js(event), ThreadsafeFunctionCallMode::NonBlocking) == Status::Ok
    });
    let client =
      Arc::new(Client::start(config, sink).map_err(|e| Error::new(Status::InvalidArg, e.to_string()))?);
    let id = CLIENTS.with(|c| {
      let mut c = c.borrow_mut();
      match c.iter().position(Option::is_none) {
        Some(free) => {
          c[free] = Some(client.clone());
          free
        }
        None => {
          c.push(Some(client.clone()));
          c.len() - 1
        }
      }
    }) as u32;
    Ok(Self { client, id })
  }

  /// The id to pass to `pushStaged`.
  #[napi(getter)]
  pub fn id(&self) -> u32 {
    self.id
  }

  /// Id for a tag, to pass to `push`. Throws for an empty or overlong tag.
  #[napi]
  pub fn tag_id(&self, tag: String) -> Result<u32> {
    self
      .client
      .tag_id(&tag)
      .map_err(|e| Error::new(Status::InvalidArg, e.to_string()))
  }

  /// Buffers one caller-encoded msgpack map after validating it (`emitRaw`).
  #[napi]
  pub fn push_raw(&self, buf: &[u8], len: u32, tag: u32, sec: f64, nsec: u32) -> i32 {
    let Some(record) = buf.get(..len as usize) else {
      return INVALID;
    };
    if sec >= 0.0 && time_of(sec, nsec).is_none() {
      return INVALID;
    }
    status_of(self.client.push_raw(tag, time_of(sec, nsec), record))
  }

  /// Resolves `true` once everything emitted before the call is written (acked), `false` at the timeout.
  #[napi(ts_return_type = "Promise<boolean>")]
  pub fn flush<'env>(&self, env: &'env Env, timeout_ms: u32) -> Result<Object<'env>> {
    let (deferred, promise) = env.create_deferred::<bool, Box<dyn FnOnce(Env) -> Result<bool>>>()?;
    self.client.flush(
      Duration::from_millis(timeout_ms as u64),
      Box::new(move |outcome| {
        let ok = outcome == fluent_forward::FlushOutcome::Delivered;
        deferred.resolve(Box::new(move |_| Ok(ok)))
      }),
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
      Some(Box::new(move |r| {
        deferred.resolve(Box::new(move |_| Ok(close_report(r))))
      })),
    );
    Ok(promise)
  }

  /// Blocks the JS thread until drained or `timeoutMs` passes. Only for process exit.
  #[napi]
  pub fn close_sync(&self, timeout_ms: u32) -> Option<JsCloseReport> {
    self
      .client
      .close_blocking(Duration::from_millis(timeout_ms as u64))
      .map(close_report)
  }

  #[napi]
  pub fn stats(&self) -> JsStats {
    stats_to_js(self.client.stats())
  }
}
