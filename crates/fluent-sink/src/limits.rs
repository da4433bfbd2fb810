//! What one client may make the receiver hold, and for how long. Every buffer the receiver keeps
//! is bounded by one of these; README.md ("Receiver limits") gives the memory bound they imply.

use std::time::Duration;

/// Fluent Bit's in_forward `buffer_max_size`: the largest request it accepts.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 6_144_000;
/// Four times a request: room for gzip's usual 4-10x on text without letting a bomb through.
pub const DEFAULT_MAX_INFLATED_BYTES: usize = 4 * DEFAULT_MAX_REQUEST_BYTES;
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Upper bound for the two byte limits: offsets inside a batch handed to JS are u32.
pub const MAX_LIMIT_BYTES: usize = 1 << 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
  /// A request (wire bytes) longer than this closes its connection (counted in `too_large`).
  pub max_request_bytes: usize,
  /// A gzip request that inflates to more than this closes its connection. Also the most a
  /// connection inflates per read before it lets other connections run.
  pub max_inflated_bytes: usize,
  /// Connections served at once; further ones are closed on accept (counted in `refused`).
  pub max_connections: usize,
  /// A connection with no request in progress that sends nothing for this long is closed.
  pub idle_timeout: Duration,
  /// A request must arrive completely within this much time of its first byte (slowloris).
  pub request_timeout: Duration,
  /// TLS accept and the Forward handshake together must finish within this.
  pub handshake_timeout: Duration,
}

/// The defaults, as a constant so other constants can start from them.
pub const DEFAULT_LIMITS: Limits = Limits {
  max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
  max_inflated_bytes: DEFAULT_MAX_INFLATED_BYTES,
  max_connections: DEFAULT_MAX_CONNECTIONS,
  idle_timeout: DEFAULT_IDLE_TIMEOUT,
  request_timeout: DEFAULT_REQUEST_TIMEOUT,
  handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
};

impl Default for Limits {
  fn default() -> Self {
    DEFAULT_LIMITS
  }
}
