//! `NativeReceiver`: the Forward receiver of `fluent-sink` (decoding, gzip, acks, TLS) linked into
//! the addon. Internal: the public API is `FluentReceiver` in src/receiver.ts.

use std::sync::{Arc, Mutex, PoisonError};

use fluent_sink::auth::Security;
use fluent_sink::embed::{Options, Receiver};
use fluent_sink::server::Endpoint;
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;

use crate::convert::Code;

/// Weak (the JS side decides what keeps the process alive), at most 64 batches queued. Calls block
/// when the queue is full: a JS thread that falls behind slows the senders down (as a slow server
/// would) instead of losing events.
type BatchFn = ThreadsafeFunction<Buffer, (), Buffer, Status, false, true, 64>;

#[napi(object)]
pub struct NativeReceiverOptions {
  pub host: Option<String>,
  pub port: Option<u32>,
  pub path: Option<String>,
  pub ack: Option<bool>,
  pub threads: Option<u32>,
  /// PEM certificate chain and key: the listener speaks TLS.
  pub tls_cert: Option<Buffer>,
  pub tls_key: Option<Buffer>,
  /// The Forward handshake: clients must know this key (and, with users, a username/password).
  pub shared_key: Option<String>,
  pub self_hostname: Option<String>,
  pub users: Option<Vec<NativeReceiverUser>>,
}

#[napi(object)]
pub struct NativeReceiverUser {
  pub username: String,
  pub password: String,
}

#[napi(object)]
pub struct JsReceiverStats {
  pub events: f64,
  pub requests: f64,
  pub bytes: f64,
  pub acks: f64,
  pub invalid: f64,
  pub size_mismatch: f64,
  pub connections: f64,
  pub errors: f64,
  /// Events handed to JS (queued for the JS thread).
  pub events_relayed: f64,
  /// Decoded events that could not be handed to JS (the JS thread was gone).
  pub events_lost: f64,
}

fn fail(code: &str, msg: String) -> napi::Error<Code> {
  napi::Error::new(Code::Core(code.to_string()), msg)
}

#[napi]
pub struct NativeReceiver {
  inner: Mutex<Receiver>,
  on_batch: Arc<Mutex<Option<Arc<BatchFn>>>>,
}

#[napi]
impl NativeReceiver {
  /// Binds before returning. `onBatch` gets buffers of msgpack `[tag, time, record]` arrays
  /// (see `fluent_sink::relay`), only while delivery is on.
  #[napi(
    constructor,
    catch_unwind,
    ts_args_type = "options: NativeReceiverOptions, onBatch: (batch: Buffer) => void"
  )]
  pub fn new(options: NativeReceiverOptions, on_batch: BatchFn) -> Result<Self, Code> {
    let endpoint = match options.path {
      Some(path) => Endpoint::Unix(path.into()),
      None => Endpoint::Tcp {
        host: options.host.unwrap_or_else(|| "127.0.0.1".into()),
        port: u16::try_from(options.port.unwrap_or(0))
          .map_err(|_| fail("ERR_FLUENT_CONFIG", "port must be 0..65535".into()))?,
      },
    };
    let tls = match (options.tls_cert, options.tls_key) {
      (None, None) => None,
      (Some(cert), Some(key)) => Some(
        fluent_sink::tls::acceptor_from_pem(&cert, &key)
          .map_err(|e| fail("ERR_FLUENT_CONFIG", format!("tls: {e}")))?,
      ),
      _ => return Err(fail("ERR_FLUENT_CONFIG", "tls needs both cert and key".into())),
    };
    // Released at close: the function (and what it holds on the JS side) must not outlive the
    // receiver just because its Rust half is still referenced.
    let security = match options.shared_key {
      None => None,
      Some(shared_key) => Some(Security {
        shared_key,
        self_hostname: options
          .self_hostname
          .unwrap_or_else(|| "fluent-native-receiver".into()),
        users: options
          .users
          .unwrap_or_default()
          .into_iter()
          .map(|u| (u.username, u.password))
          .collect(),
      }),
    };
    let on_batch = Arc::new(Mutex::new(Some(Arc::new(on_batch))));
    let slot = on_batch.clone();
    let deliver = Arc::new(move |batch: Vec<u8>, _events: u64| {
      // A clone of the handle, so the lock is not held while a full queue blocks the call.
      let f = slot.lock().unwrap_or_else(PoisonError::into_inner).clone();
      match f {
        Some(f) => f.call(Buffer::from(batch), ThreadsafeFunctionCallMode::Blocking) == Status::Ok,
        None => false,
      }
    });
    let where_ = format!("{endpoint:?}");
    let receiver = Receiver::start(
      Options {
        endpoint,
        ack: options.ack.unwrap_or(true),
        threads: options.threads.unwrap_or(1) as usize,
        tls,
        security,
      },
      deliver,
    )
    .map_err(|e| fail("ERR_FLUENT_IO", format!("cannot listen on {where_}: {e}")))?;
    Ok(Self {
      inner: Mutex::new(receiver),
      on_batch,
    })
  }

  fn with<T>(&self, f: impl FnOnce(&mut Receiver) -> T) -> T {
    f(&mut self.inner.lock().unwrap_or_else(PoisonError::into_inner))
  }

  /// The bound TCP port; `null` for a Unix socket.
  #[napi(getter)]
  pub fn port(&self) -> Option<u32> {
    self.with(|r| r.port().map(u32::from))
  }

  /// Whether decoded events are handed to `onBatch` (off: they are only counted).
  #[napi(catch_unwind)]
  pub fn set_delivery(&self, on: bool) {
    self.with(|r| r.relay().set_enabled(on))
  }

  #[napi(catch_unwind)]
  pub fn stats(&self) -> JsReceiverStats {
    self.with(|r| {
      let s = r.stats();
      JsReceiverStats {
        events: s.events as f64,
        requests: s.requests as f64,
        bytes: s.bytes as f64,
        acks: s.acks as f64,
        invalid: s.invalid as f64,
        size_mismatch: s.size_mismatch as f64,
        connections: s.connections as f64,
        errors: s.errors as f64,
        events_relayed: r.relay().relayed() as f64,
        events_lost: r.relay().lost() as f64,
      }
    })
  }

  /// Stops listening and drops every connection. Idempotent; never waits on the receiver threads.
  #[napi(catch_unwind)]
  pub fn close(&self) {
    self.with(|r| {
      r.relay().set_enabled(false);
      r.close()
    });
    self
      .on_batch
      .lock()
      .unwrap_or_else(PoisonError::into_inner)
      .take();
  }
}
