//! The one error type of the core. Every variant has a stable code that the binding maps to `ERR_FLUENT_*`.

use crate::errno::{describe_io, errno};
use std::fmt;

#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
  /// A connection could not be established.
  Connect(std::io::Error),
  /// Connecting, writing or waiting for an ack took longer than allowed.
  Timeout(&'static str),
  /// The server sent something other than the ack we waited for.
  AckMismatch(String),
  /// The buffer is at its byte cap and the overflow policy refused or dropped records.
  QueueFull { dropped: u64 },
  /// The client is closed or closing.
  Closed,
  /// Records that cannot be encoded or are not valid msgpack maps.
  Encode(String),
  /// A read or write on an established connection failed, or the server closed it.
  Io(std::io::Error),
  /// A record larger than `max_record_bytes`.
  RecordTooLarge { size: usize, max: usize },
  /// A tag that is empty, too long, or one distinct tag too many.
  InvalidTag(String),
  /// An option is out of range.
  Config(String),
  /// Records still buffered when close or exit ran out of time.
  Undelivered { records: u64 },
  /// Records the server refused on every attempt (it dropped the connection or never acknowledged
  /// them while acknowledging others); isolated from their batch and given up on.
  Rejected { records: u64 },
  /// A bug: the writer caught a panic and carried on.
  Internal(String),
  /// The server refused our shared key (PONG `auth_result` false, reason about the key).
  AuthKey(String),
  /// The server refused our username or password.
  AuthUser(String),
  /// The server failed to prove it knows the shared key (digest mismatch), or has our hostname.
  AuthServer(String),
  /// The server's certificate is not trusted (or ours was refused).
  TlsCert(String),
  /// The server's certificate is valid but not for the name we verify against.
  TlsHostname(String),
  /// TLS and the forward handshake did not finish within `handshake_timeout`.
  HandshakeTimeout,
  /// One side speaks TLS and the other does not, or no common TLS version.
  TlsProtocol(String),
  /// A fresh plaintext connection dropped right after our first request with not a byte back: most
  /// likely a TLS input (`probation.rs`). Reported as `TLS_PROTOCOL`, but it does not open the
  /// breaker at once as the proven TLS errors do: a server that drops the connection on a poison
  /// record looks the same, and that record must still get its retries.
  TlsSuspected(String),
  /// Every server's circuit breaker is open: nothing can be sent until one recovers.
  Unavailable { servers: usize },
  /// A connection error with the server it concerns (`host:port` or the socket path): what the
  /// writer reports (`Error::at`). Code, permanence and cause are the inner error's.
  Server { address: String, error: Box<Error> },
  /// The durable spool (`spool` option): a slot held by another process, a full or failing disk,
  /// damage found on replay. Its code is the spool's own (`SPOOL_LOCKED`, `SPOOL_IO`, ...).
  Spool(crate::spool::error::SpoolError),
}

impl Error {
  /// Stable, machine-readable name; the binding prefixes it with `ERR_FLUENT_`.
  pub fn code(&self) -> &'static str {
    match self {
      Error::Connect(_) => "CONNECT",
      Error::Timeout(_) => "TIMEOUT",
      Error::AckMismatch(_) => "ACK_MISMATCH",
      Error::QueueFull { .. } => "QUEUE_FULL",
      Error::Closed => "CLOSED",
      Error::Encode(_) => "ENCODE",
      Error::Io(_) => "IO",
      Error::Config(_) => "CONFIG",
      Error::RecordTooLarge { .. } => "RECORD_TOO_LARGE",
      Error::InvalidTag(_) => "INVALID_TAG",
      Error::Undelivered { .. } => "UNDELIVERED",
      Error::Rejected { .. } => "REJECTED",
      Error::Internal(_) => "INTERNAL",
      Error::AuthKey(_) => "AUTH_KEY",
      Error::AuthUser(_) => "AUTH_USER",
      Error::AuthServer(_) => "AUTH_SERVER",
      Error::TlsCert(_) => "TLS_CERT",
      Error::TlsHostname(_) => "TLS_HOSTNAME",
      Error::HandshakeTimeout => "HANDSHAKE_TIMEOUT",
      Error::TlsProtocol(_) | Error::TlsSuspected(_) => "TLS_PROTOCOL",
      Error::Unavailable { .. } => "UNAVAILABLE",
      Error::Server { error, .. } => error.code(),
      Error::Spool(e) => e.code(),
    }
  }

  /// This error, naming the server it concerns (once: an error that names one already is kept).
  pub fn at(self, address: impl Into<String>) -> Error {
    match self {
      Error::Server { .. } => self,
      error => Error::Server {
        address: address.into(),
        error: Box::new(error),
      },
    }
  }

  /// The error without the server it names.
  pub fn inner(&self) -> &Error {
    match self {
      Error::Server { error, .. } => error.inner(),
      other => other,
    }
  }

  /// The server the error concerns, `host:port` or the socket path.
  pub fn address(&self) -> Option<&str> {
    match self {
      Error::Server { address, .. } => Some(address),
      _ => None,
    }
  }

  /// The errno-style name Node users know for the cause (`ECONNREFUSED`, `ENOTFOUND`, `ETIMEDOUT`,
  /// `ECONNRESET`...), where there is one.
  pub fn errno(&self) -> Option<&'static str> {
    match self.inner() {
      Error::Connect(e) | Error::Io(e) => errno(e),
      Error::Timeout(_) | Error::HandshakeTimeout => Some("ETIMEDOUT"),
      _ => None,
    }
  }

  /// Errors that a retry cannot fix: they open the circuit breaker at once.
  pub fn is_permanent(&self) -> bool {
    matches!(
      self.inner(),
      Error::AuthKey(_)
        | Error::AuthUser(_)
        | Error::AuthServer(_)
        | Error::TlsCert(_)
        | Error::TlsHostname(_)
        | Error::TlsProtocol(_)
    )
  }
}

impl fmt::Display for Error {
  fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match self {
      Error::Connect(e) => write!(f, "cannot connect: {}", describe_io(e)),
      Error::Timeout(what) => write!(f, "{what} timed out"),
      Error::AckMismatch(what) => write!(f, "unexpected server response: {what}"),
      Error::QueueFull { dropped } => write!(f, "buffer full: {dropped} record(s) dropped"),
      Error::Closed => write!(f, "client is closed"),
      Error::Encode(what) => write!(f, "cannot encode record: {what}"),
      Error::Io(e) => write!(f, "connection failed: {}", describe_io(e)),
      Error::Config(what) => write!(f, "invalid option: {what}"),
      Error::RecordTooLarge { size, max } => {
        write!(f, "record of {size} bytes exceeds maxRecordBytes ({max})")
      }
      Error::InvalidTag(what) => write!(f, "invalid tag: {what}"),
      Error::Undelivered { records } => write!(f, "{records} record(s) not delivered before the deadline"),
      Error::Rejected { records } => write!(
        f,
        "{records} record(s) rejected by the server on every attempt (it dropped the connection or never acknowledged them)"
      ),
      Error::Internal(what) => write!(f, "internal error: {what}"),
      Error::AuthKey(what) => write!(
        f,
        "the server refused the shared key ({what}): check security.sharedKey against the server's shared_key"
      ),
      Error::AuthUser(what) => write!(
        f,
        "the server refused the user ({what}): check security.username and security.password"
      ),
      Error::AuthServer(what) => write!(f, "the server failed authentication: {what}"),
      Error::TlsCert(what) => write!(f, "tls certificate error: {what}"),
      Error::TlsHostname(what) => write!(
        f,
        "the server's certificate is not valid for {what}: check host or tls.servername"
      ),
      Error::HandshakeTimeout => write!(
        f,
        "the tls or forward handshake did not finish in handshakeTimeoutMs: is the server's input configured for security (and tls)?"
      ),
      Error::TlsProtocol(what) | Error::TlsSuspected(what) => write!(f, "{what}"),
      Error::Unavailable { servers: 1 } => write!(
        f,
        "the server is unavailable (its circuit breaker is open): records stay buffered until it recovers"
      ),
      Error::Unavailable { servers } => write!(
        f,
        "all {servers} servers are unavailable (every circuit breaker is open): records stay buffered until one recovers"
      ),
      Error::Server { address, error } => match error.as_ref() {
        Error::Connect(e) => write!(f, "cannot connect to {address}: {}", describe_io(e)),
        other => write!(f, "{address}: {other}"),
      },
      // The OS error by its errno name, as connection errors are (no `(os error 30)`).
      Error::Spool(crate::spool::error::SpoolError::Io { op, path, source }) => {
        write!(f, "spool: cannot {op} {}: {}", path.display(), describe_io(source))
      }
      Error::Spool(e) => write!(f, "{e}"),
    }
  }
}

impl std::error::Error for Error {
  fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
    match self {
      Error::Connect(e) | Error::Io(e) => Some(e),
      Error::Server { error, .. } => Some(error.as_ref()),
      Error::Spool(e) => std::error::Error::source(e),
      _ => None,
    }
  }
}

/// What no message may show: Rust's `Debug` of an error or a struct, and `(os error N)`.
#[cfg(test)]
pub(crate) fn debug_leaks(text: &str) -> Vec<&'static str> {
  [
    "Other(",
    "Kind(",
    "Os {",
    "Custom {",
    "{ host:",
    "os error",
    "OtherError",
    "Context {",
  ]
  .into_iter()
  .filter(|p| text.contains(p))
  .collect()
}

#[cfg(test)]
mod tests {
  use super::*;
  use std::io;

  /// One of every variant, with the causes they really carry (OS errors, a failed lookup).
  fn every_error() -> Vec<Error> {
    let os = |n| io::Error::from_raw_os_error(n);
    let lookup = io::Error::new(
      io::ErrorKind::NotFound,
      "nope.invalid not found (Name or service not known)",
    );
    vec![
      Error::Connect(os(111)),
      Error::Connect(lookup),
      Error::Connect(io::Error::new(io::ErrorKind::TimedOut, "connect timed out")),
      Error::Timeout("ack"),
      Error::AckMismatch("ack for unknown chunk".into()),
      Error::QueueFull { dropped: 3 },
      Error::Closed,
      Error::Encode("a cycle".into()),
      Error::Io(os(104)),
      Error::Io(io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "server closed the connection",
      )),
      Error::RecordTooLarge { size: 10, max: 5 },
      Error::InvalidTag("empty".into()),
      Error::Config("x".into()),
      Error::Undelivered { records: 2 },
      Error::Rejected { records: 1 },
      Error::Internal("a bug".into()),
      Error::AuthKey("wrong key".into()),
      Error::AuthUser("wrong user".into()),
      Error::AuthServer("digest".into()),
      Error::TlsCert("expired".into()),
      Error::TlsHostname("localhost".into()),
      Error::HandshakeTimeout,
      Error::TlsProtocol("speaks TLS".into()),
      Error::TlsSuspected("closed".into()),
      Error::Unavailable { servers: 1 },
      Error::Unavailable { servers: 2 },
      Error::Connect(os(111)).at("127.0.0.1:24224"),
      Error::Io(os(104)).at("/run/fluent.sock"),
      Error::Timeout("write").at("[::1]:24224"),
      Error::Spool(crate::spool::error::SpoolError::Io {
        op: "create slot dir",
        path: "/ro/spool/slot-0".into(),
        source: os(30),
      }),
      Error::Spool(crate::spool::error::SpoolError::Locked {
        slot: "/var/spool/app/api".into(),
        holder: Some(4242),
      }),
    ]
  }

  /// REVIEW-0.2 A7: messages showed `Connection refused (os error 111)` and rustls's
  /// `Other(OtherError(..))`. Every variant is listed in the match below, so a new one must be
  /// added here to compile.
  #[test]
  fn no_message_shows_rust_debug_or_os_error_numbers() {
    for e in every_error() {
      match &e {
        Error::Connect(_)
        | Error::Timeout(_)
        | Error::AckMismatch(_)
        | Error::QueueFull { .. }
        | Error::Closed
        | Error::Encode(_)
        | Error::Io(_)
        | Error::RecordTooLarge { .. }
        | Error::InvalidTag(_)
        | Error::Config(_)
        | Error::Undelivered { .. }
        | Error::Rejected { .. }
        | Error::Internal(_)
        | Error::AuthKey(_)
        | Error::AuthUser(_)
        | Error::AuthServer(_)
        | Error::TlsCert(_)
        | Error::TlsHostname(_)
        | Error::HandshakeTimeout
        | Error::TlsProtocol(_)
        | Error::TlsSuspected(_)
        | Error::Unavailable { .. }
        | Error::Server { .. }
        | Error::Spool(_) => {}
      }
      let text = e.to_string();
      assert_eq!(debug_leaks(&text), Vec::<&str>::new(), "{}: {text}", e.code());
    }
  }

  #[test]
  fn connection_errors_name_their_server_and_an_errno() {
    let e = Error::Connect(io::Error::from_raw_os_error(111)).at("127.0.0.1:24224");
    assert_eq!(
      e.to_string(),
      "cannot connect to 127.0.0.1:24224: Connection refused (ECONNREFUSED)"
    );
    assert_eq!(
      (e.code(), e.address(), e.errno()),
      ("CONNECT", Some("127.0.0.1:24224"), Some("ECONNREFUSED"))
    );
    let lookup = io::Error::new(
      io::ErrorKind::NotFound,
      "nope.invalid not found (Name or service not known)",
    );
    assert_eq!(Error::Connect(lookup).errno(), Some("ENOTFOUND"));
    assert_eq!(
      Error::Connect(io::Error::from_raw_os_error(2)).errno(),
      Some("ENOENT")
    );
    assert_eq!(
      Error::Io(io::Error::from_raw_os_error(104)).at("x:1").errno(),
      Some("ECONNRESET")
    );
    assert_eq!(Error::Timeout("ack").at("x:1").errno(), Some("ETIMEDOUT"));
    // Wrapping keeps the code and permanence, and names the server once.
    let tls = Error::TlsCert("no".into()).at("a:1").at("b:2");
    assert!(tls.is_permanent());
    assert_eq!((tls.code(), tls.address()), ("TLS_CERT", Some("a:1")));
    assert_eq!(tls.to_string(), "a:1: tls certificate error: no");
  }
}
