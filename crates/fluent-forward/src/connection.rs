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
      Target::Unix(_) => Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "unix sockets need a unix platform",
      )),
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

  /// Reads what has already arrived without waiting: `Ok(0)` means nothing yet, not end of stream;
  /// the end of stream shows up as an error here and as `Ok(0)` in `read`.
  pub fn try_read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
    let r = match self {
      Conn::Tcp(s) => s.try_read(buf),
      #[cfg(unix)]
      Conn::Unix(s) => s.try_read(buf),
    };
    match r {
      Ok(0) if !buf.is_empty() => Err(io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "server closed the connection",
      )),
      Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
      other => other,
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
