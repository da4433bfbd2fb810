//! One transport connection (TCP or Unix socket), opened with a timeout.

use crate::config::Target;
use std::io;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
#[cfg(unix)]
use tokio::net::UnixStream;

pub enum Conn {
  Tcp(TcpStream),
  #[cfg(unix)]
  Unix(UnixStream),
}

pub async fn connect(target: &Target, timeout: Duration) -> io::Result<Conn> {
  let attempt = async {
    match target {
      Target::Tcp { host, port } => {
        let stream = TcpStream::connect((host.as_str(), *port)).await?;
        // Batches are written whole; Nagle would only delay the last segment of each.
        stream.set_nodelay(true)?;
        Ok(Conn::Tcp(stream))
      }
      #[cfg(unix)]
      Target::Unix(path) => Ok(Conn::Unix(UnixStream::connect(path).await?)),
      #[cfg(not(unix))]
      Target::Unix(_) => Err(io::Error::new(io::ErrorKind::Unsupported, "unix sockets need a unix platform")),
    }
  };
  tokio::time::timeout(timeout, attempt)
    .await
    .unwrap_or_else(|_| Err(io::Error::new(io::ErrorKind::TimedOut, "connect timed out")))
}

impl Conn {
  pub async fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
    match self {
      Conn::Tcp(s) => s.write_all(buf).await,
      #[cfg(unix)]
      Conn::Unix(s) => s.write_all(buf).await,
    }
  }

  /// Cancel-safe: used inside `select!` to watch for acks and for the server closing.
  pub async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
    match self {
      Conn::Tcp(s) => s.read(buf).await,
      #[cfg(unix)]
      Conn::Unix(s) => s.read(buf).await,
    }
  }

  pub async fn shutdown(&mut self) -> io::Result<()> {
    match self {
      Conn::Tcp(s) => s.shutdown().await,
      #[cfg(unix)]
      Conn::Unix(s) => s.shutdown().await,
    }
  }
}
