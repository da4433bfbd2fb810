//! Events and batches going to JS: what the writer reports (`JsEvent`), and the batches kept for
//! the failure handler.

use super::codes::error_code;
use fluent_forward::{BreakerState, Event};
use napi::bindgen_prelude::Buffer;
use napi_derive::napi;

/// An event for the JS side: `kind` is `connect`, `disconnect`, `error`, `breaker`, `delivered` or
/// `handover` (batches wait for the failure handler: see `takeUndelivered`); the fields that do not
/// apply to a kind are unset.
#[napi(object)]
#[derive(Default)]
pub struct JsEvent {
  /// What happened (see above).
  pub kind: String,
  /// For `error`, and a `disconnect` caused by one: the `ERR_FLUENT_*` code.
  pub code: Option<String>,
  /// With `code`: the error's message.
  pub message: Option<String>,
  /// Records the event concerns (dropped, undelivered, delivered).
  pub records: Option<f64>,
  /// For `delivered`, and errors about records of one tag: the tag.
  pub tag: Option<String>,
  /// For `breaker`: `closed`, `open` or `halfOpen`.
  pub state: Option<String>,
  /// The server's slot in the fleet (connect, disconnect, breaker, delivered): a DNS member's slot
  /// is reused after it left, so `address` is what names it.
  pub server: Option<u32>,
  /// For `delivered`: the msgpack entries, as on the wire.
  pub entries: Option<Buffer>,
  /// For `delivered`: the server acknowledged the batch.
  pub acked: Option<bool>,
  /// For connect, disconnect, breaker and delivered, and errors about a connection: the server,
  /// `host:port` (a DNS member's own address) or the socket path.
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
    self.address = e.address().map(String::from).or(self.address.take());
    self.cause_code = e.errno().map(String::from);
    self
  }
}

pub fn event_to_js(event: Event) -> JsEvent {
  match event {
    Event::Connected { server, address } => JsEvent {
      server: Some(server as u32),
      address: Some(address.to_string()),
      ..JsEvent::of("connect")
    },
    Event::Disconnected {
      server,
      address,
      error,
    } => {
      let ev = JsEvent {
        server: Some(server as u32),
        address: Some(address.to_string()),
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
    Event::Breaker {
      state,
      server,
      address,
    } => JsEvent {
      state: Some(breaker_name(state).into()),
      server: Some(server as u32),
      address: Some(address.to_string()),
      ..JsEvent::of("breaker")
    },
    Event::Delivered {
      tag,
      entries,
      records,
      server,
      address,
      acked,
    } => JsEvent {
      address: Some(address.to_string()),
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
  /// The records' tag.
  pub tag: String,
  /// The msgpack entries (`[time, record]` each), as on the wire.
  pub entries: Buffer,
  /// How many records.
  pub records: f64,
  /// `rejected`, `dropped` or `unavailable`.
  pub reason: String,
  /// The failure handler may give the records back to be sent again.
  pub retriable: bool,
  /// The records had been accepted at emit (they count in `emitted`, not in `refused`).
  pub accepted: bool,
  /// The `ERR_FLUENT_*` code of why they were not delivered.
  pub code: String,
  /// That error's message.
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
  /// The records' tag.
  pub tag: String,
  /// The msgpack entries (`[time, record]` each), as on the wire.
  pub entries: Buffer,
  /// How many records.
  pub records: f64,
}

/// What `pushEntries` did: records accepted, and the bytes buffered afterwards.
#[napi(object)]
pub struct JsPushed {
  /// Records buffered.
  pub accepted: f64,
  /// Bytes buffered afterwards, as `maxBufferBytes` counts them.
  pub queued_bytes: f64,
}
