//! Listening socket and accept loop.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};
use tokio_rustls::TlsAcceptor;

use crate::conn;
use crate::print::JsonSink;
use crate::stats::Stats;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
  Tcp { host: String, port: u16 },
  Unix(PathBuf),
}

#[derive(Debug)]
pub enum Listener {
  Tcp(TcpListener),
  Unix(UnixListener, PathBuf),
}

/// A stale socket file from an earlier run would make `bind` fail; anything else at the path is
/// left alone so a typo cannot delete a user's file.
fn remove_stale_socket(path: &Path) {
  use std::os::unix::fs::FileTypeExt;
  if let Ok(meta) = std::fs::symlink_metadata(path) {
    if meta.file_type().is_socket() {
      let _ = std::fs::remove_file(path);
    }
  }
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

fn spawn_conn<T>(io: T, stats: &Arc<Stats>, print: bool, tls: Option<&TlsAcceptor>)
where
  T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
  stats.connection();
  let stats = stats.clone();
  let tls = tls.cloned();
  tokio::spawn(async move {
    match tls {
      None => handle(io, &stats, print).await,
      Some(acceptor) => match acceptor.accept(io).await {
        Ok(io) => handle(io, &stats, print).await,
        // A failed handshake is a connection error, as undecodable input is.
        Err(_) => stats.error(),
      },
    }
  });
}

async fn handle<T>(io: T, stats: &Stats, print: bool)
where
  T: AsyncRead + AsyncWrite + Unpin,
{
  if print {
    conn::run(io, stats, JsonSink::default()).await
  } else {
    conn::run(io, stats, ()).await
  }
}

/// Accepts connections forever, each served by its own task.
pub async fn serve(listener: Listener, stats: Arc<Stats>, print: bool) {
  serve_with(listener, stats, print, None).await
}

/// As [`serve`]; with an acceptor, every connection is TLS and is decoded after the handshake.
pub async fn serve_with(listener: Listener, stats: Arc<Stats>, print: bool, tls: Option<TlsAcceptor>) {
  let tls = tls.as_ref();
  loop {
    let accepted = match &listener {
      Listener::Tcp(l) => l.accept().await.map(|(s, _)| {
        // Acks are small and awaited by the client; do not let Nagle hold them back.
        let _ = s.set_nodelay(true);
        spawn_conn(s, &stats, print, tls);
      }),
      Listener::Unix(l, _) => l.accept().await.map(|(s, _)| spawn_conn(s, &stats, print, tls)),
    };
    if accepted.is_err() {
      stats.error();
      // Typically out of file descriptors: back off instead of spinning on the same error.
      tokio::time::sleep(Duration::from_millis(10)).await;
    }
  }
}
