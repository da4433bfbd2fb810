//! `NativeReceiver`: the Forward receiver of `fluent-sink` (decoding, gzip, acks, TLS) linked into
//! the addon. Internal: the public API is `FluentReceiver` in src/receiver.ts.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use fluent_sink::auth::Security;
use fluent_sink::embed::{Options, Receiver};
use fluent_sink::limits::{Limits, MAX_LIMIT_BYTES};
use fluent_sink::relay::Batch;
use fluent_sink::server::{listen_error, Endpoint};
use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;

use crate::convert::Code;

/// Batches waiting for the JS thread. Each is at most `relay::MAX_BATCH_BYTES` (or one event).
pub const BATCH_QUEUE: usize = 4;

/// Weak (the JS side decides what keeps the process alive), at most [`BATCH_QUEUE`] batches
/// queued. Calls block when the queue is full: a JS thread that falls behind stops the decoding
/// and the reading (as a slow server would) instead of queueing or losing events.
type BatchFn = ThreadsafeFunction<JsBatch, (), JsBatch, Status, false, true, BATCH_QUEUE>;

/// A batch becomes a Buffer (without a copy) on the JS thread, and leaves the memory gauge then.
pub struct JsBatch(Batch);

impl ToNapiValue for JsBatch {
  unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> Result<sys::napi_value> {
    Buffer::to_napi_value(env, Buffer::from(val.0.into_bytes()))
  }
}

/// What `FluentReceiver.listen()` passes down (src/receiver.ts checks and documents the public form).
#[napi(object)]
pub struct NativeReceiverOptions {
  /// Listen address (default `127.0.0.1`).
  pub host: Option<String>,
  /// Listen port (default 0: any free port).
  pub port: Option<u32>,
  /// A Unix socket path instead of TCP.
  pub path: Option<String>,
  /// Acknowledge requests that ask for it (default true).
  pub ack: Option<bool>,
  /// Decoding threads (default 1).
  pub threads: Option<u32>,
  /// PEM certificate chain and key: the listener speaks TLS.
  pub tls_cert: Option<Buffer>,
  /// PEM private key of `tls_cert`.
  pub tls_key: Option<Buffer>,
  /// The Forward handshake: clients must know this key (and, with users, a username/password).
  pub shared_key: Option<String>,
  /// The receiver's name in the handshake.
  pub self_hostname: Option<String>,
  /// Accepted users of the handshake.
  pub users: Option<Vec<NativeReceiverUser>>,
  /// See `fluent_sink::limits::Limits`; each unset one keeps its default.
  pub max_request_bytes: Option<u32>,
  /// Largest size a compressed request may inflate to.
  pub max_inflated_bytes: Option<u32>,
  /// Connections served at once.
  pub max_connections: Option<u32>,
  /// Closes a connection that starts no request for this long.
  pub idle_timeout_ms: Option<u32>,
  /// A request must arrive whole within this long of its first byte.
  pub request_timeout_ms: Option<u32>,
  /// TLS accept plus the Forward handshake must finish within this.
  pub handshake_timeout_ms: Option<u32>,
}

/// One user of the receiver's handshake.
#[napi(object)]
pub struct NativeReceiverUser {
  /// A user name.
  pub username: String,
  /// Its password.
  pub password: String,
}

/// The receiver's counters (src/receiver.ts maps them to `FluentReceiverStats`).
#[napi(object)]
pub struct JsReceiverStats {
  /// Valid events decoded.
  pub events: f64,
  /// Forward requests decoded.
  pub requests: f64,
  /// Bytes read from clients.
  pub bytes: f64,
  /// Acks sent.
  pub acks: f64,
  /// Entries that were not valid events.
  pub invalid: f64,
  /// Requests whose `size` option disagreed with their entries.
  pub size_mismatch: f64,
  /// Connections accepted.
  pub connections: f64,
  /// Connections closed for undecodable input, limits, timeouts, TLS or I/O errors.
  pub errors: f64,
  /// Events handed to JS (queued for the JS thread).
  pub events_relayed: f64,
  /// Decoded events that could not be handed to JS (the JS thread was gone).
  pub events_lost: f64,
  /// Requests refused for a size limit.
  pub too_large: f64,
  /// Connections closed by a timeout.
  pub timeouts: f64,
  /// Connections closed on arrival (`maxConnections`).
  pub refused: f64,
  /// Connections open now.
  pub open_connections: f64,
  /// Bytes held for clients now (read, inflate and batch buffers).
  pub memory_bytes: f64,
  /// The most `memory_bytes` has been.
  pub memory_peak_bytes: f64,
}

fn fail(code: &str, msg: String) -> napi::Error<Code> {
  napi::Error::new(Code::Core(code.to_string()), msg)
}

fn limits(o: &NativeReceiverOptions) -> Result<Limits, Code> {
  let d = Limits::default();
  let bytes = |v: Option<u32>, name: &str, default: usize| -> Result<usize, Code> {
    match v {
      None => Ok(default),
      Some(n) if n >= 1024 && n as usize <= MAX_LIMIT_BYTES => Ok(n as usize),
      Some(_) => Err(fail(
        "ERR_FLUENT_CONFIG",
        format!("{name} must be in 1024..{MAX_LIMIT_BYTES}"),
      )),
    }
  };
  let ms =
    |v: Option<u32>, default: Duration| v.map_or(default, |n| Duration::from_millis(u64::from(n.max(1))));
  Ok(Limits {
    max_request_bytes: bytes(o.max_request_bytes, "maxRequestBytes", d.max_request_bytes)?,
    max_inflated_bytes: bytes(o.max_inflated_bytes, "maxInflatedBytes", d.max_inflated_bytes)?,
    max_connections: o.max_connections.map_or(d.max_connections, |n| n.max(1) as usize),
    idle_timeout: ms(o.idle_timeout_ms, d.idle_timeout),
    request_timeout: ms(o.request_timeout_ms, d.request_timeout),
    handshake_timeout: ms(o.handshake_timeout_ms, d.handshake_timeout),
  })
}

/// Internal: the public API is `FluentReceiver` in src/receiver.ts.
#[napi]
pub struct NativeReceiver {
  inner: Mutex<Receiver>,
  on_batch: Arc<Mutex<Option<Arc<BatchFn>>>>,
}

#[napi]
impl NativeReceiver {
  /// Binds before returning. `onBatch` gets buffers of msgpack `[tag, time, record]` arrays and
  /// an offsets trailer (see `fluent_sink::relay`), only while delivery is on.
  #[napi(
    constructor,
    catch_unwind,
    ts_args_type = "options: NativeReceiverOptions, onBatch: (batch: Buffer) => void"
  )]
  pub fn new(options: NativeReceiverOptions, on_batch: BatchFn) -> Result<Self, Code> {
    let limits = limits(&options)?;
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
    let deliver = Arc::new(move |batch: Batch| {
      // A clone of the handle, so the lock is not held while a full queue blocks the call.
      let f = slot.lock().unwrap_or_else(PoisonError::into_inner).clone();
      match f {
        Some(f) => f.call(JsBatch(batch), ThreadsafeFunctionCallMode::Blocking) == Status::Ok,
        None => false,
      }
    });
    let at = endpoint.clone();
    let receiver = Receiver::start(
      Options {
        endpoint,
        ack: options.ack.unwrap_or(true),
        threads: options.threads.unwrap_or(1) as usize,
        tls,
        security,
        limits,
      },
      deliver,
    )
    .map_err(|e| fail("ERR_FLUENT_IO", listen_error(&at, &e)))?;
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

  /// A snapshot of the receiver's counters.
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
        too_large: s.too_large as f64,
        timeouts: s.timeouts as f64,
        refused: s.refused as f64,
        open_connections: s.open_connections as f64,
        memory_bytes: s.memory_bytes as f64,
        memory_peak_bytes: s.memory_peak_bytes as f64,
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
