//! The one error type of the core. Every variant has a stable code that the binding maps to `ERR_FLUENT_*`.

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
    }
  }

  /// Errors that a retry cannot fix: they open the circuit breaker at once.
  pub fn is_permanent(&self) -> bool {
    matches!(
      self,
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
      Error::Connect(e) => write!(f, "cannot connect: {e}"),
      Error::Timeout(what) => write!(f, "{what} timed out"),
      Error::AckMismatch(what) => write!(f, "unexpected server response: {what}"),
      Error::QueueFull { dropped } => write!(f, "buffer full: {dropped} record(s) dropped"),
      Error::Closed => write!(f, "client is closed"),
      Error::Encode(what) => write!(f, "cannot encode record: {what}"),
      Error::Io(e) => write!(f, "connection failed: {e}"),
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
    }
  }
}

impl std::error::Error for Error {
  fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
    match self {
      Error::Connect(e) | Error::Io(e) => Some(e),
      _ => None,
    }
  }
}
