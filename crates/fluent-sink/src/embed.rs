//! The receiver as a library: binds, serves on its own runtime threads, and stops on `close` or
//! drop. The Node addon's `FluentReceiver` is this, so a user's tests need no separate binary.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::runtime::Runtime;
use tokio_rustls::TlsAcceptor;

use crate::auth::Security;
use crate::limits::Limits;
use crate::relay::{Deliver, Relay};
use crate::server::{serve_sinks, Endpoint, Listener, Serving};
use crate::stats::{Snapshot, Stats};

pub struct Options {
  pub endpoint: Endpoint,
  /// Acknowledge requests that carry a `chunk` (as fluentd does). A test may turn it off.
  pub ack: bool,
  /// Runtime worker threads; one decodes well over a million small events a second.
  pub threads: usize,
  pub tls: Option<TlsAcceptor>,
  pub security: Option<Security>,
  pub limits: Limits,
}

pub struct Receiver {
  runtime: Option<Runtime>,
  stats: Arc<Stats>,
  relay: Arc<Relay>,
  port: Option<u16>,
  path: Option<PathBuf>,
}

impl Receiver {
  /// Binds before returning, so a bind error (port in use, bad path) is the caller's error.
  pub fn start(options: Options, deliver: Deliver) -> io::Result<Receiver> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
      .worker_threads(options.threads.max(1))
      .thread_name("fluent-receiver")
      .enable_all()
      .build()?;
    let listener = runtime.block_on(Listener::bind(&options.endpoint))?;
    let port = match &listener {
      Listener::Tcp(l) => Some(l.local_addr()?.port()),
      Listener::Unix(..) => None,
    };
    let path = listener.unix_path().map(|p| p.to_path_buf());
    let stats = Arc::new(Stats::default());
    let relay = Relay::new(deliver, stats.memory.clone());
    let r = relay.clone();
    let serving = Serving {
      make_sink: move || r.sink(),
      ack: options.ack,
      tls: options.tls,
      security: options.security.map(Arc::new),
      limits: options.limits,
    };
    runtime.spawn(serve_sinks(listener, stats.clone(), serving));
    Ok(Receiver {
      runtime: Some(runtime),
      stats,
      relay,
      port,
      path,
    })
  }

  pub fn port(&self) -> Option<u16> {
    self.port
  }

  pub fn stats(&self) -> Snapshot {
    self.stats.snapshot()
  }

  pub fn relay(&self) -> &Relay {
    &self.relay
  }

  pub fn is_closed(&self) -> bool {
    self.runtime.is_none()
  }

  /// Stops listening and drops every connection at once (their unread bytes are lost, as with a
  /// server that goes away). Removes the socket file of a Unix listener. Idempotent.
  pub fn close(&mut self) {
    if let Some(rt) = self.runtime.take() {
      // Never waits for the workers: one may be blocked handing a batch to a JS thread that is
      // itself inside this call.
      rt.shutdown_background();
      if let Some(path) = &self.path {
        let _ = std::fs::remove_file(path);
      }
    }
  }
}

impl Drop for Receiver {
  fn drop(&mut self) {
    self.close();
  }
}
