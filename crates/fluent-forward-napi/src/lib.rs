//! The napi binding: converts JS values to core types and back, owns the event callback and the
//! per-thread client registry (for the exit drain). No logic lives here; if some grows, it belongs
//! in `fluent-forward`.
#![deny(clippy::all)]

mod convert;
mod ndjson;
mod receiver;
mod registry;
mod stage_marks;

use convert::{
  close_report, config_from, event_to_js, stats_to_js, Code, JsBatch, JsCloseReport, JsEvent, JsExitReport,
  JsKept, JsPushed, JsStats, NativeOptions,
};
use fluent_forward::staging::Anchor;
use fluent_forward::{Admission, Client, EventTime, FlushOutcome};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use std::sync::Arc;
use std::time::Duration;

pub use convert::{option_specs, JsOptionSpec};
pub use ndjson::{exclude_from_process_exit, queued_bytes};

/// Weak (never keeps the process alive), not callee-handled, at most 1024 queued events: a slow
/// JS thread costs events (counted), never a blocked writer. Creating it also pins the addon image
/// for the life of the process (napi >= 3.12.1, napi-rs#3443), so writer threads that outlive a
/// Worker never run in unmapped code.
type EventFn = ThreadsafeFunction<JsEvent, (), JsEvent, Status, false, true, 1024>;

/// Size of a staged frame's header (see `fluent_forward::staging`).
#[napi]
pub const STAGING_HEADER: u32 = fluent_forward::staging::HEADER as u32;
/// In a staged frame's nanoseconds slot: stamp the record with its monotonic time.
#[napi]
pub const STAGING_NOW: u32 = fluent_forward::staging::NOW;
/// The JS stage hands its block over once it holds this many bytes (or on its timer; see src/stage.ts).
#[napi]
pub const HANDOVER_BYTES: u32 = 64 * 1024;
/// What a record costs against the cap beyond its own bytes, at most: entry array header, time
/// (EventTime ext, or integer seconds) and its 4-byte slot in the offset index.
#[napi]
pub const ENTRY_OVERHEAD_EVENT_TIME: u32 = 1 + 10 + fluent_forward::queue::INDEX_BYTES as u32;
/// The same with `timeAsInteger` (integer seconds instead of the EventTime ext).
#[napi]
pub const ENTRY_OVERHEAD_INTEGER_TIME: u32 = 1 + 5 + fluent_forward::queue::INDEX_BYTES as u32;

/// `pushStaged`/`pushRaw` answer `queuedBytes * 2 + (last record accepted ? 1 : 0)`: one number,
/// because this is the hot call and an object per handover would cost more than the handover.
/// `-1`: the client is gone or the block was malformed (reported through the error handler).
fn push_answer(queued: u64, last: Option<Admission>) -> f64 {
  (queued as f64) * 2.0
    + if last == Some(Admission::Accepted) {
      1.0
    } else {
      0.0
    }
}

/// Hands a staged block (see `fluent_forward::staging`) to client `id`. `monoNow` is
/// `performance.now()` at the handover. See `push_answer` for the result.
#[napi(catch_unwind)]
pub fn push_staged(id: u32, buf: &[u8], len: u32, mono_now: f64) -> f64 {
  let Some(block) = buf.get(..len as usize) else {
    return -1.0;
  };
  let Some(client) = registry::handing_over(id, block) else {
    return -1.0;
  };
  match client.push_staged(block, Anchor::now(mono_now)) {
    Ok(pushed) => push_answer(pushed.queued_bytes, pushed.last),
    Err(e) => {
      client.report(e);
      -1.0
    }
  }
}

/// Tells the exit path where client `id` stages (see `stage_marks`): its stage buffer and `marks`,
/// two Int32 that JS keeps at `[start, end)` of the frames it has not handed over. `monoNow` is
/// `performance.now()`. Called for a client's first buffer and whenever it is replaced.
#[napi(catch_unwind)]
pub fn track_stage(id: u32, stage: Buffer, marks: Buffer, mono_now: f64) {
  if let Some(m) = stage_marks::StageMarks::new(stage, marks, mono_now) {
    registry::track_stage(id, m);
  }
}

/// At exit: closes every client of this JS thread at once, each with its own
/// `exitFlushTimeoutMs`, and waits for all of them against one deadline. `allThreads` (the main
/// thread's exit) closes the Workers' clients and the collected-but-draining ones in the same wait.
/// Returns one report per client of this thread (and one `collected` report for clients whose JS
/// object was gone); this thread's registry is emptied, so the env cleanup hook finds nothing to do.
#[napi(catch_unwind)]
pub fn close_all_sync(all_threads: bool) -> Vec<JsExitReport> {
  registry::close_all(all_threads)
}

/// Internal: the public API is `FluentClient` in src/client.ts.
#[napi]
pub struct NativeClient {
  client: Arc<Client>,
  id: u32,
}

impl Drop for NativeClient {
  fn drop(&mut self) {
    registry::forget(self.id, &self.client);
  }
}

#[napi]
impl NativeClient {
  /// Starts a client: checks the options (ERR_FLUENT_CONFIG) and spawns its writer thread;
  /// `onEvent` receives its events (weak: it never keeps the process alive).
  #[napi(
    constructor,
    catch_unwind,
    ts_args_type = "options: NativeOptions, onEvent: (event: JsEvent) => void"
  )]
  pub fn new(env: Env, options: NativeOptions, on_event: EventFn) -> Result<Self, Code> {
    let config = config_from(options).map_err(convert::to_napi)?;
    let exit = config.exit_flush_timeout;
    let sink = Arc::new(move |event| {
      // `Closing` (the env is gone) and `QueueFull` (JS is behind) both mean the event is lost.
      on_event.call(event_to_js(event), ThreadsafeFunctionCallMode::NonBlocking) == Status::Ok
    });
    let client = Arc::new(Client::start(config, sink).map_err(convert::to_napi)?);
    registry::install_cleanup_hook(&env);
    let id = registry::add(client.clone(), exit);
    Ok(Self { client, id })
  }

  /// The id to pass to `pushStaged`.
  #[napi(getter)]
  pub fn id(&self) -> u32 {
    self.id
  }

  /// Forgets every tag with nothing buffered that nobody pinned (JS hands its staged records over
  /// first and clears its tag caches after). Returns how many were forgotten.
  #[napi(catch_unwind)]
  pub fn forget_idle_tags(&self) -> u32 {
    self.client.forget_idle_tags() as u32
  }

  /// `tagId`, and the tag is never forgotten (a `logger()` holds its id for its life).
  #[napi(catch_unwind)]
  pub fn pin_tag(&self, tag: String) -> Result<u32, Code> {
    self.client.pin_tag(&tag).map_err(convert::to_napi)
  }

  /// Id for a tag. Throws ERR_FLUENT_INVALID_TAG for an empty or overlong tag, or one tag too many.
  #[napi(catch_unwind)]
  pub fn tag_id(&self, tag: String) -> Result<u32, Code> {
    self.client.tag_id(&tag).map_err(convert::to_napi)
  }

  /// Buffers one caller-encoded msgpack map after validating it (`emitRaw`). `nsec` is `STAGING_NOW`
  /// for "now". Answers as `pushStaged`; throws ERR_FLUENT_ENCODE (with the reason),
  /// ERR_FLUENT_RECORD_TOO_LARGE or ERR_FLUENT_INVALID_TAG.
  #[napi(catch_unwind)]
  pub fn push_raw(&self, buf: &[u8], tag: u32, sec: u32, nsec: u32) -> Result<f64, Code> {
    let time = if nsec == STAGING_NOW {
      None
    } else {
      Some(EventTime::new(sec, nsec).ok_or_else(|| Error::new(Code::InvalidTime, "invalid time"))?)
    };
    let accepted = self.client.push_raw(tag, time, buf).map_err(convert::to_napi)?;
    let queued = self.client.queued_bytes();
    let last = if accepted {
      Admission::Accepted
    } else {
      Admission::Dropped
    };
    Ok(push_answer(queued, Some(last)))
  }

  /// Resolves once everything emitted before the call settled: `0` all delivered (acknowledged,
  /// with acks), `n > 0` settled but `n` records were given up on meanwhile, `-1` the timeout passed.
  #[napi(catch_unwind, ts_return_type = "Promise<number>")]
  pub fn flush<'env>(&self, env: &'env Env, timeout_ms: u32) -> Result<Object<'env>> {
    let (deferred, promise) = env.create_deferred::<f64, Box<dyn FnOnce(Env) -> Result<f64>>>()?;
    self.client.flush(
      Duration::from_millis(timeout_ms as u64),
      Box::new(move |outcome| {
        let answer = match outcome {
          FlushOutcome::Delivered => 0.0,
          FlushOutcome::Lost(n) => n as f64,
          FlushOutcome::TimedOut => -1.0,
        };
        deferred.resolve(Box::new(move |_| Ok(answer)))
      }),
    );
    Ok(promise)
  }

  /// Stops accepting, drains for at most `timeoutMs`, stops the writer; resolves with the report.
  #[napi(catch_unwind, ts_return_type = "Promise<JsCloseReport>")]
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

  /// A snapshot of the client's counters and state.
  #[napi(catch_unwind)]
  pub fn stats(&self) -> JsStats {
    stats_to_js(self.client.stats())
  }

  /// Per-batch `delivered` events on or off (on only while someone listens: each copies its batch).
  #[napi(catch_unwind)]
  pub fn set_delivery_reports(&self, on: bool) {
    self.client.set_delivery_reports(on);
  }

  /// The batches waiting for the failure handler (after a `handover` event, at close and at exit),
  /// each returned once; from here JS answers for them (see `fluent_forward::undelivered`).
  #[napi(catch_unwind)]
  pub fn take_undelivered(&self) -> Vec<JsKept> {
    self
      .client
      .take_undelivered()
      .into_iter()
      .map(convert::kept_to_js)
      .collect()
  }

  /// Gives records back from the failure handler: buffered where they fit, never refused by the
  /// overflow policy, never counted as emitted again. Returns how many were taken (JS counts the
  /// rest as dropped). Throws ERR_FLUENT_ENCODE at the first invalid entry.
  #[napi(catch_unwind)]
  pub fn requeue_entries(&self, tag: u32, entries: &[u8]) -> Result<JsPushed, Code> {
    let accepted = self
      .client
      .requeue_entries(tag, entries)
      .map_err(convert::to_napi)?;
    Ok(JsPushed {
      accepted: accepted as f64,
      queued_bytes: self.client.queued_bytes() as f64,
    })
  }

  /// Once stopped, with a failure handler: the batches the writer still held, each returned once.
  #[napi(catch_unwind)]
  pub fn take_leftovers(&self) -> Vec<JsBatch> {
    self
      .client
      .take_leftovers()
      .into_iter()
      .map(|(tag, entries, records)| JsBatch {
        tag: tag.to_string(),
        entries: entries.into(),
        records: records as f64,
      })
      .collect()
  }

  /// Buffers msgpack entries (`[time, record]` each) under tag id `tag`, keeping their times:
  /// what a failure handler or a delivery report carries. Throws ERR_FLUENT_ENCODE at the first
  /// invalid entry (those before it stay buffered).
  #[napi(catch_unwind)]
  pub fn push_entries(&self, tag: u32, entries: &[u8]) -> Result<JsPushed, Code> {
    let accepted = self.client.push_entries(tag, entries).map_err(convert::to_napi)?;
    Ok(JsPushed {
      accepted: accepted as f64,
      queued_bytes: self.client.queued_bytes() as f64,
    })
  }
}
