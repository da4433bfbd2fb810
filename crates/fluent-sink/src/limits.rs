//! What one client may make the receiver hold, and for how long. Every buffer the receiver keeps
//! is bounded by one of these; docs/receiver.md ("Receiver limits") gives the memory bound they imply.

use std::time::Duration;

/// Fluent Bit's in_forward `buffer_max_size`: the largest request it accepts.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 6_144_000;
/// Four times a request: room for gzip's usual 4-10x on text without letting a bomb through.
pub const DEFAULT_MAX_INFLATED_BYTES: usize = inflated_limit_for(DEFAULT_MAX_REQUEST_BYTES);
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Upper bound for the two byte limits: offsets inside a batch handed to JS are u32.
pub const MAX_LIMIT_BYTES: usize = 1 << 30;

/// The inflate limit that goes with a request limit when only the latter is given: the default's
/// ratio (4x), capped at [`MAX_LIMIT_BYTES`].
pub const fn inflated_limit_for(max_request_bytes: usize) -> usize {
  let n = max_request_bytes.saturating_mul(4);
  if n > MAX_LIMIT_BYTES {
    MAX_LIMIT_BYTES
  } else {
    n
  }
}

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

/// Space a read buffer keeps beyond its partial request (`conn::MIN_SPARE`).
const READ_SPARE: u64 = 4 << 10;
/// An offsets trailer at its largest, with the doubling of its Vec.
const TRAILER: u64 = 2 * 4 * crate::relay::MAX_BATCH_EVENTS;

impl Limits {
  /// The most the receiver's accounted buffers (`Stats::memory`) can hold at once, with `threads`
  /// runtime workers and an embedder queue of `queued` batches:
  ///
  /// ```text
  /// max_connections × (max_request_bytes + 4 KiB)          read buffers, one per connection
  /// + threads × (max_inflated_bytes + 1 + zstd window)     inflate buffers, alive only while a
  ///                                                        worker walks its request; the window
  ///                                                        (zstd only) is the power of two at or
  ///                                                        above max_inflated_bytes
  /// + (threads + queued) × (2 × max(1 MiB, max_request_bytes + max_inflated_bytes) + 128 KiB)
  ///                                                        batches being built, handed over or queued
  /// ```
  ///
  /// A worker decodes synchronously, so at most `threads` connections are inside a request at
  /// once; a batch holds at most 1 MiB or one event (never longer than its request or inflated
  /// payload), and its Vec may have doubled once.
  pub fn memory_bound(&self, threads: usize, queued: usize) -> u64 {
    let (r, i) = (self.max_request_bytes as u64, self.max_inflated_bytes as u64);
    let batch = 2 * (crate::relay::MAX_BATCH_BYTES as u64).max(r + i) + TRAILER;
    self.max_connections as u64 * (r + READ_SPARE)
      + threads as u64 * (i + 1 + (1u64 << crate::inflate::zstd_window_log(i as usize)))
      + (threads + queued) as u64 * batch
  }
}

impl Default for Limits {
  fn default() -> Self {
    DEFAULT_LIMITS
  }
}
