//! The byte stream to one server (TCP, Unix socket, or TLS over TCP), written with a timeout on
//! progress, not on the whole request; and `open`, which connects, wraps in TLS and runs the forward
//! handshake, each bounded by its timeout and failing with a typed error.

pub mod handshake;
mod pinned;
pub mod resolve;
pub mod tcp;
pub mod tls;

use crate::config::{Config, Security, Server, Target};
use crate::error::Error;
use handshake::Parsed;
pub use resolve::Resolver;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
#[cfg(unix)]
use tokio::net::UnixStream;
use tokio_rustls::client::TlsStream;

pub enum Conn {
  Tcp(TcpStream),
  #[cfg(unix)]
  Unix(UnixStream),
  Tls(Box<TlsStream<TcpStream>>),
}

/// How a progress-bounded write failed.
#[derive(Debug)]
pub enum WriteError {
  /// No byte was accepted for the whole idle timeout.
  Stalled,
  Io(io::Error),
}

impl Conn {
  /// Writes all of `buf`, failing only when no byte was accepted for `idle`: a slow link that keeps
  /// draining gets all the time it needs (a 512 KiB batch at 20 KB/s takes 26 s). `written` counts
  /// what was handed to the kernel, so a caller that gives up (cancels) knows whether the request is
  /// half sent.
  pub async fn write_with_progress(
    &mut self,
    buf: &[u8],
    idle: Duration,
    written: &mut usize,
  ) -> Result<(), WriteError> {
    while *written < buf.len() {
      let rest = &buf[*written..];
      let step = async {
        match self {
          Conn::Tcp(s) => s.write(rest).await,
          #[cfg(unix)]
          Conn::Unix(s) => s.write(rest).await,
          Conn::Tls(s) => s.write(rest).await,
        }
      };
      match tokio::time::timeout(idle, step).await {
        Err(_) => return Err(WriteError::Stalled),
        Ok(Ok(0)) => return Err(WriteError::Io(io::ErrorKind::WriteZero.into())),
        Ok(Ok(n)) => *written += n,
        Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
        Ok(Err(e)) => return Err(WriteError::Io(e)),
      }
    }
    // rustls may hold the last records until the socket takes them.
    if let Conn::Tls(s) = self {
      match tokio::time::timeout(idle, s.flush()).await {
        Err(_) => return Err(WriteError::Stalled),
        Ok(Err(e)) => return Err(WriteError::Io(e)),
        Ok(Ok(())) => {}
      }
    }
    Ok(())
  }

  /// Cancel-safe: used inside `select!` to watch for acks and for the server closing.
  pub async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
    match self {
      Conn::Tcp(s) => s.read(buf).await,
      #[cfg(unix)]
      Conn::Unix(s) => s.read(buf).await,
      Conn::Tls(s) => s.read(buf).await,
    }
  }

  /// Poll form of `read`, so that one future can watch every server's connection at once.
  pub fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
    let mut rb = ReadBuf::new(buf);
    let r = match self {
      Conn::Tcp(s) => Pin::new(s).poll_read(cx, &mut rb),
      #[cfg(unix)]
      Conn::Unix(s) => Pin::new(s).poll_read(cx, &mut rb),
      Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, &mut rb),
    };
    r.map_ok(|()| rb.filled().len())
  }

  /// Reads what has already arrived without waiting: `Ok(0)` means nothing yet, not end of stream;
  /// the end of stream shows up as an error here and as `Ok(0)` in `read`.
  pub fn try_read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
    let r = match self {
      Conn::Tcp(s) => s.try_read(buf),
      #[cfg(unix)]
      Conn::Unix(s) => s.try_read(buf),
      Conn::Tls(s) => try_read_tls(s, buf),
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

  pub fn is_tls(&self) -> bool {
    matches!(self, Conn::Tls(_))
  }

  pub async fn shutdown(&mut self) -> io::Result<()> {
    match self {
      Conn::Tcp(s) => s.shutdown().await,
      #[cfg(unix)]
      Conn::Unix(s) => s.shutdown().await,
      Conn::Tls(s) => s.shutdown().await,
    }
  }
}

/// tokio-rustls has no `try_read`: poll once with a no-op waker (the writer's next `read().await`
/// registers its real waker). `Pending` is "nothing yet", as `WouldBlock` is for a socket.
fn try_read_tls(s: &mut TlsStream<TcpStream>, buf: &mut [u8]) -> io::Result<usize> {
  let mut cx = Context::from_waker(Waker::noop());
  let mut rb = ReadBuf::new(buf);
  match Pin::new(s).poll_read(&mut cx, &mut rb) {
    Poll::Ready(Ok(())) => Ok(rb.filled().len()),
    Poll::Ready(Err(e)) => Err(e),
    Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
  }
}

/// True when `buf` starts like a TLS record (an alert or a handshake): what a TLS server sends a
/// plaintext client.
pub fn looks_like_tls(buf: &[u8]) -> bool {
  matches!(buf, [0x15 | 0x16, 0x03, ..])
}

/// A read or write failure on an established connection as a typed error: TLS failures (an alert
/// after the handshake, e.g. a TLS 1.3 server refusing our client certificate) get their TLS code.
pub fn classify_io(e: io::Error, conn_is_tls: bool) -> Error {
  let is_rustls = e
    .get_ref()
    .is_some_and(|i| i.downcast_ref::<rustls::Error>().is_some());
  if conn_is_tls && is_rustls {
    let name = rustls_pki_types::ServerName::try_from("server").expect("valid name");
    tls::classify(e, &name)
  } else {
    Error::Io(e)
  }
}

/// Built once per server: its TLS client config and handshake settings, if any.
#[derive(Clone, Default)]
pub struct Opener {
  tls: Option<tls::Tls>,
  security: Option<Security>,
}

impl Opener {
  pub fn new(server: &Server) -> Result<Self, Error> {
    let tls = match (&server.tls, &server.target) {
      (Some(t), Target::Tcp { host, .. }) => Some(tls::Tls::new(t, host)?),
      (Some(_), Target::Unix(_)) => {
        return Err(Error::Config(
          "tls needs a host and port, not a unix socket path".into(),
        ))
      }
      (None, _) => None,
    };
    Ok(Self {
      tls,
      security: server.security.clone(),
    })
  }
}

/// An open connection, past TLS and the handshake.
pub struct Opened {
  pub conn: Conn,
  /// `false`: the server closes after one request (HELO `keepalive: false`).
  pub keepalive: bool,
}

/// Connect (bounded by `connect_timeout`, name resolution included), then TLS and the forward
/// handshake (bounded together by `handshake_timeout`).
pub async fn open(
  config: &Config,
  target: &Target,
  opener: &Opener,
  resolver: &mut Resolver,
  connect_timeout: Duration,
  handshake_timeout: Duration,
) -> Result<Opened, Error> {
  // Every failure names the server it concerns (REVIEW-0.2 A7).
  open_unnamed(
    config,
    target,
    opener,
    resolver,
    connect_timeout,
    handshake_timeout,
  )
  .await
  .map_err(|e| e.at(target.address()))
}

async fn open_unnamed(
  config: &Config,
  target: &Target,
  opener: &Opener,
  resolver: &mut Resolver,
  connect_timeout: Duration,
  handshake_timeout: Duration,
) -> Result<Opened, Error> {
  let conn = connect_resolved(target, resolver, connect_timeout, config.write_timeout)
    .await
    .map_err(Error::Connect)?;
  let phase = async {
    let mut conn = match (conn, &opener.tls) {
      (Conn::Tcp(tcp), Some(t)) => Conn::Tls(Box::new(t.connect(tcp).await?)),
      (conn, _) => conn,
    };
    let keepalive = match &opener.security {
      Some(sec) => forward_handshake(&mut conn, sec, config.write_timeout).await?,
      None => true,
    };
    Ok(Opened { conn, keepalive })
  };
  match tokio::time::timeout(handshake_timeout, phase).await {
    Ok(r) => r,
    Err(_) => Err(Error::HandshakeTimeout),
  }
}

/// A TCP (or Unix) connection to `target`, through the resolver's cached addresses; a failure
/// forgets them, so the next attempt resolves again (a Kubernetes service whose pods moved).
pub async fn connect_resolved(
  target: &Target,
  resolver: &mut Resolver,
  timeout: Duration,
  write_timeout: Duration,
) -> io::Result<Conn> {
  let attempt = async {
    let addrs = match target {
      Target::Tcp { host, port } => resolver.addrs(host, *port).await?,
      Target::Unix(_) => Vec::new(),
    };
    tcp::connect(target, &addrs, write_timeout).await
  };
  let r = tokio::time::timeout(timeout, attempt)
    .await
    .unwrap_or_else(|_| Err(io::Error::new(io::ErrorKind::TimedOut, "connect timed out")));
  if r.is_err() {
    resolver.forget();
  }
  r
}

const MAX_HANDSHAKE_MESSAGE: usize = 16 << 10;

/// Reads one handshake message with `parse`.
async fn read_message<T>(
  conn: &mut Conn,
  buf: &mut Vec<u8>,
  what: &str,
  parse: fn(&[u8]) -> Parsed<T>,
) -> Result<T, Error> {
  let is_tls = conn.is_tls();
  let mut chunk = [0u8; 4096];
  loop {
    if !is_tls && looks_like_tls(buf) {
      return Err(Error::TlsProtocol(tls::SPEAKS_TLS.into()));
    }
    match parse(buf) {
      Parsed::Done(m, used) => {
        buf.drain(..used);
        return Ok(m);
      }
      Parsed::Invalid(w) => return Err(Error::AckMismatch(format!("invalid {what}: {w}"))),
      Parsed::Incomplete if buf.len() >= MAX_HANDSHAKE_MESSAGE => {
        return Err(Error::AckMismatch(format!("{what} too large")))
      }
      Parsed::Incomplete => {}
    }
    let n = conn.read(&mut chunk).await.map_err(|e| classify_io(e, is_tls))?;
    if n == 0 {
      let e = io::Error::new(
        io::ErrorKind::UnexpectedEof,
        format!("the server closed the connection before {what}"),
      );
      return Err(Error::Io(e));
    }
    buf.extend_from_slice(&chunk[..n]);
  }
}

/// HELO, PING, PONG (PROTOCOL.md section 6). Returns the server's `keepalive`.
async fn forward_handshake(
  conn: &mut Conn,
  sec: &crate::config::Security,
  write_timeout: Duration,
) -> Result<bool, Error> {
  let mut buf = Vec::new();
  let helo = read_message(conn, &mut buf, "HELO", handshake::parse_helo).await?;
  let salt = handshake::new_salt();
  let mut ping = Vec::new();
  handshake::ping_for(
    &mut ping,
    &helo,
    &sec.client_hostname,
    &salt,
    sec.shared_key.expose(),
    &sec.username,
    sec.password.expose(),
  );
  let mut written = 0;
  let is_tls = conn.is_tls();
  conn
    .write_with_progress(&ping, write_timeout, &mut written)
    .await
    .map_err(|e| match e {
      WriteError::Stalled => Error::Timeout("write"),
      WriteError::Io(e) => classify_io(e, is_tls),
    })?;
  let pong = read_message(conn, &mut buf, "PONG", handshake::parse_pong).await?;
  check_pong(&pong, &helo, &salt, sec)?;
  Ok(helo.keepalive)
}

/// PONG checks in the reference order: result, hostname, digest.
pub fn check_pong(
  pong: &handshake::Pong,
  helo: &handshake::Helo,
  salt: &str,
  sec: &crate::config::Security,
) -> Result<(), Error> {
  if !pong.auth_result {
    let r = pong.reason.to_ascii_lowercase();
    if r.contains("same hostname") {
      // The server compared the names itself (fluentd and @fluent-org/logger both do).
      return Err(Error::AuthServer(format!(
        "the server refused our hostname as its own ({}): set security.clientHostname to a name other than the server's self_hostname",
        pong.reason
      )));
    }
    let user = r.contains("user") || r.contains("password") || r.contains("authentication information");
    return Err(if user {
      Error::AuthUser(pong.reason.clone())
    } else {
      Error::AuthKey(pong.reason.clone())
    });
  }
  if pong.server_hostname == sec.client_hostname {
    return Err(Error::AuthServer(format!(
      "same hostname between input and output ({}): set security.clientHostname to a name other than the server's self_hostname",
      handshake::short(pong.server_hostname.as_bytes())
    )));
  }
  let expected = handshake::shared_key_digest(
    salt.as_bytes(),
    &pong.server_hostname,
    &helo.nonce,
    sec.shared_key.expose(),
  );
  if expected.as_bytes() != pong.server_digest.as_slice() {
    return Err(Error::AuthServer(
      "the server's digest does not match our shared key: the server does not know it (check security.sharedKey, or who answers on this address)".into(),
    ));
  }
  Ok(())
}
