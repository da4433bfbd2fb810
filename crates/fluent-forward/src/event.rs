//! What the writer tells the embedding (the JS binding) about. Delivered through a plain closure.

pub use crate::breaker::BreakerState;
use crate::error::Error;
use std::sync::Arc;

/// Why records left the pipeline undelivered (see `Event::Undelivered`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
  /// The server refused them on every attempt (`Error::Rejected`).
  Rejected,
  /// The overflow policy discarded or refused them.
  Dropped,
  /// Every server's breaker is open: what was buffered is offered (once per opening).
  Unavailable,
}

impl Reason {
  pub fn name(self) -> &'static str {
    match self {
      Reason::Rejected => "rejected",
      Reason::Dropped => "dropped",
      Reason::Unavailable => "unavailable",
    }
  }

  /// May the failure handler give the records back to be sent again? Dropped ones: no, the buffer
  /// had no room for them.
  pub fn retriable(self) -> bool {
    !matches!(self, Reason::Dropped)
  }
}

#[derive(Debug)]
pub enum Event {
  /// Server `server` connected. `server` is its slot (`discovery::Layout`: a fixed server's index
  /// among the fixed ones; a DNS member's slot is reused once it has left), `address` names it.
  Connected { server: usize, address: Arc<str> },
  /// The connection to server `server` ended: `error` says why, `None` for a clean close (a
  /// drained DNS member's idle connection).
  Disconnected {
    server: usize,
    address: Arc<str>,
    error: Option<Error>,
  },
  /// Something went wrong; `records` counts the records it concerns (0 when none were lost).
  Error {
    error: Error,
    records: u64,
    tag: Option<Arc<str>>,
  },
  /// A server's circuit breaker changed state (see `breaker.rs`).
  Breaker {
    state: BreakerState,
    server: usize,
    address: Arc<str>,
  },
  /// A batch was delivered (acknowledged, with acks); only while delivery reports are on.
  Delivered {
    tag: Arc<str>,
    /// The entries as they went on the wire.
    entries: Vec<u8>,
    records: u64,
    server: usize,
    address: Arc<str>,
    acked: bool,
  },
  /// A doorbell, only with `Config::keep_undelivered`: batches for the failure handler wait in the
  /// hand-over store; take them with `Client::take_undelivered`. At most one is outstanding until
  /// they are taken, and one the sink refused is rung again (see `undelivered.rs`).
  HandOver,
}

/// Receives events on the writer thread. Returns `false` when it could not take the event (the
/// embedding's queue is full or gone); those are counted in `Stats::events_lost`.
pub type EventSink = Arc<dyn Fn(Event) -> bool + Send + Sync>;
