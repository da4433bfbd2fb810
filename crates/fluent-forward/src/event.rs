//! What the writer tells the embedding (the JS binding) about. Delivered through a plain closure.

pub use crate::breaker::BreakerState;
use crate::error::Error;
use std::sync::Arc;

#[derive(Debug)]
pub enum Event {
  Connected,
  Disconnected(Option<Error>),
  /// Something went wrong; `records` counts the records it concerns (0 when none were lost).
  Error {
    error: Error,
    records: u64,
    tag: Option<Arc<str>>,
  },
  /// The circuit breaker changed state (see `breaker.rs`).
  Breaker {
    state: BreakerState,
  },
}

/// Receives events on the writer thread. Returns `false` when it could not take the event (the
/// embedding's queue is full or gone); those are counted in `Stats::events_lost`.
pub type EventSink = Arc<dyn Fn(Event) -> bool + Send + Sync>;
