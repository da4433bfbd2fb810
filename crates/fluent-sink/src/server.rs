//! Listening socket and accept loop.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::auth::{self, Security};
use crate::conn;
use crate::event::EventSink;
use crate::limits::Limits;
use crate::print::JsonSink;
use crate::stats::Stats;
use crate::unix::{remove_stale_socket, UnixListener};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
  Tcp { host: String, port: u16 },
  Unix(PathBuf),
}

/// `host:port` (an IPv6 host in brackets) or the socket path: how users write an address.
impl std::fmt::Display for Endpoint {
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    match self {
      Endpoint::Tcp { host, port } if host.contains(':') => write!(f, "[{host}]:{port}"),
      Endpoint::Tcp { host, port } => write!(f, "{host}:{port}"),
      Endpoint::Unix(path) => write!(f, "{}", path.display()),
    }
  }
}

/// Why a listener could not be opened, in words and with the errno name Node users know, never
/// Rust's `Debug` form or "(os error N)"; an address in use says how to get a free port.
pub fn listen_error(endpoint: &Endpoint, e: &io::Error) -> String {
  let why = match e.kind() {
    io::ErrorKind::AddrInUse => {
      let hint = match endpoint {
        Endpoint::Tcp { .. } => {
          "another process is listening there; choose another port (port 0 picks a free one)"
        }
        Endpoint::Unix(_) => "another process is listening on that socket",
      };
      format!("address already in use (EADDRINUSE): {hint}")
    }
    io::ErrorKind::PermissionDenied => "permission denied (EACCES)".to_string(),
    io::ErrorKind::AddrNotAvailable => "address not available on this machine (EADDRNOTAVAIL)".to_string(),
    _ => {
      let text = e.to_string();
      match text.find(" (os error") {
        Some(at) => text[..at].to_string(),
        None => text,
      }
    }
  };
  format!("cannot listen on {endpoint}: {why}")
}

#[derive(Debug)]
pub enum Listener {
  Tcp(TcpListener),
  Unix(UnixListener, PathBuf),
}

impl Listener {
  pub async fn bind(endpoint: &Endpoint) -> io::Result<Listener> {
    match endpoint {
      Endpoint::Tcp { host, port } => Ok(Listener::Tcp(TcpListener::bind((host.as_str(), *port)).await?)),
      Endpoint::Unix(path) => {
        remove_stale_socket(path);
        Ok(Listener::Unix(UnixListener::bind(path)?, path.clone()))
      }
    }
  }

  /// The line announcing readiness: `LISTENING <port>` or `LISTENING unix:<path>`.
  pub fn banner(&self) -> io::Result<String> {
    Ok(match self {
      Listener::Tcp(l) => format!("LISTENING {}", l.local_addr()?.port()),
      Listener::Unix(_, path) => format!("LISTENING unix:{}", path.display()),
    })
  }

  pub fn unix_path(&self) -> Option<&Path> {
    match self {
      Listener::Tcp(_) => None,
      Listener::Unix(_, path) => Some(path),
    }
  }
}

/// How every connection of a listener is served: a fresh sink per connection, acks on or off, and
/// an optional TLS acceptor. The binary uses `()` or [`JsonSink`]; embedders bring their own sink.
pub struct Serving<F> {
  pub make_sink: F,
  pub ack: bool,
  pub tls: Option<TlsAcceptor>,
  /// The Forward handshake every connection must pass (after TLS) before its requests count.
  pub security: Option<Arc<Security>>,
  pub limits: Limits,
}

/// The handshake, if required, then the connection. A refused client is a connection error.
async fn authenticated<T, S>(
  mut io: T,
  stats: &Stats,
  sink: S,
  ack: bool,
  security: Option<&Security>,
  limits: &Limits,
  deadline: Instant,
) where
  T: AsyncRead + AsyncWrite + Unpin,
  S: EventSink,
{
  if let Some(sec) = security {
    let left = deadline.saturating_duration_since(Instant::now());
    match auth::accept(&mut io, sec, left).await {
      Ok(()) => {}
      Err(Some(_)) => {
        stats.error();
        let _ = io.shutdown().await;
        return;
      }
      Err(None) => {
        stats.handshake_timeout();
        let _ = io.shutdown().await;
        return;
      }
    }
  }
  conn::run_with(io, stats, sink, ack, limits).await
}

fn spawn_conn<T, F, S>(io: T, stats: &Arc<Stats>, serving: &Serving<F>)
where
  T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
  F: Fn() -> S,
  S: EventSink + Send + 'static,
{
  if stats.open_connections() >= serving.limits.max_connections as u64 {
    // Closed at once (dropping `io`): what a full server can do without holding anything.
    // Counted as refused before it counts as a connection, so a reader that sees the connection
    // also sees why it is gone.
    stats.refused();
    stats.connection();
    return;
  }
  // Open before counted, so a reader that sees the connection counted also sees it open.
  let open = stats.open();
  stats.connection();
  let stats = stats.clone();
  let tls = serving.tls.clone();
  let sink = (serving.make_sink)();
  let ack = serving.ack;
  let security = serving.security.clone();
  let limits = serving.limits;
  tokio::spawn(async move {
    let _open = open;
    let security = security.as_deref();
    // TLS and the Forward handshake share one deadline: a half-open handshake holds a slot no longer.
    let deadline = Instant::now() + limits.handshake_timeout;
    match tls {
      None => authenticated(io, &stats, sink, ack, security, &limits, deadline).await,
      Some(acceptor) => match tokio::time::timeout_at(deadline.into(), acceptor.accept(io)).await {
        Ok(Ok(io)) => authenticated(io, &stats, sink, ack, security, &limits, deadline).await,
        // A failed handshake is a connection error, as undecodable input is.
        Ok(Err(_)) => stats.error(),
        Err(_) => stats.handshake_timeout(),
      },
    }
  });
}

/// Accepts connections forever, each served by its own task.
pub async fn serve(listener: Listener, stats: Arc<Stats>, print: bool) {
  serve_with(listener, stats, print, None, Limits::default()).await
}

/// As [`serve`], within `limits`; with an acceptor, every connection is TLS and is decoded after the
/// handshake.
pub async fn serve_with(
  listener: Listener,
  stats: Arc<Stats>,
  print: bool,
  tls: Option<TlsAcceptor>,
  limits: Limits,
) {
  if print {
    let serving = Serving {
      make_sink: JsonSink::default,
      ack: true,
      tls,
      security: None,
      limits,
    };
    serve_sinks(listener, stats, serving).await
  } else {
    let serving = Serving {
      make_sink: || (),
      ack: true,
      tls,
      security: None,
      limits,
    };
    serve_sinks(listener, stats, serving).await
  }
}

/// Accepts connections forever, each served by its own task with its own sink.
pub async fn serve_sinks<F, S>(listener: Listener, stats: Arc<Stats>, serving: Serving<F>)
where
  F: Fn() -> S,
  S: EventSink + Send + 'static,
{
  loop {
    let accepted = match &listener {
      Listener::Tcp(l) => l.accept().await.map(|(s, _)| {
        // Acks are small and awaited by the client; do not let Nagle hold them back.
        let _ = s.set_nodelay(true);
        spawn_conn(s, &stats, &serving);
      }),
      Listener::Unix(l, _) => l.accept().await.map(|(s, _)| spawn_conn(s, &stats, &serving)),
    };
    if accepted.is_err() {
      stats.error();
      // Typically out of file descriptors: back off instead of spinning on the same error.
      tokio::time::sleep(Duration::from_millis(10)).await;
    }
  }
}

#[cfg(test)]
mod listen_error_tests {
  use super::*;

  #[test]
  fn an_address_in_use_names_the_address_and_the_way_out() {
    let ep = Endpoint::Tcp {
      host: "127.0.0.1".into(),
      port: 24224,
    };
    let msg = listen_error(&ep, &io::Error::from(io::ErrorKind::AddrInUse));
    assert_eq!(
      msg,
      "cannot listen on 127.0.0.1:24224: address already in use (EADDRINUSE): another process is listening there; choose another port (port 0 picks a free one)"
    );
    let v6 = Endpoint::Tcp {
      host: "::1".into(),
      port: 1,
    };
    assert!(listen_error(&v6, &io::Error::from_raw_os_error(13))
      .starts_with("cannot listen on [::1]:1: permission denied"));
  }

  #[test]
  fn no_rust_debug_text_or_os_error_numbers() {
    let ep = Endpoint::Unix(PathBuf::from("/run/x.sock"));
    for code in [1, 2, 13, 98, 99, 110] {
      let msg = listen_error(&ep, &io::Error::from_raw_os_error(code));
      assert!(msg.starts_with("cannot listen on /run/x.sock: "), "{msg}");
      for bad in ["os error", "Tcp {", "Unix(", "Kind(", "Os {"] {
        assert!(!msg.contains(bad), "{msg}");
      }
    }
  }
}
