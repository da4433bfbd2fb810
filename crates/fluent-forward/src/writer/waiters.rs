//! Flush waiters: answered when what they wait for is settled or their deadline passes, also
//! while a write blocks (`watch_deadlines`), which returns once the close deadline has passed.

use super::Writer;
use crate::shared::Shared;
use std::time::Instant;

impl Writer {
  pub(super) fn settle_waiters(&mut self, now: Instant) {
    settle_waiters(&self.shared, now);
  }
}

/// Answers the flush waiters that are satisfied or past their deadline.
pub(super) fn settle_waiters(shared: &Shared, now: Instant) {
  if shared.control.lock().waiters.is_empty() {
    return;
  }
  let lost = shared.lost();
  let settled = shared.settled();
  let done: Vec<_> = {
    let mut c = shared.control.lock();
    let (ready, keep) = std::mem::take(&mut c.waiters)
      .into_iter()
      .partition(|w| w.target <= settled || now >= w.deadline);
    c.waiters = keep;
    ready
  };
  for w in done {
    let outcome = w.outcome(settled, lost);
    (w.done)(outcome);
  }
}

/// Runs beside a write that may block: answers flush deadlines as they pass, and returns once the
/// close deadline has passed, so that no write waits for a socket timeout.
pub(super) async fn watch_deadlines(shared: &Shared) {
  loop {
    let now = Instant::now();
    settle_waiters(shared, now);
    let (close, next_waiter) = {
      let c = shared.control.lock();
      (c.close_deadline, c.waiters.iter().map(|w| w.deadline).min())
    };
    if close.is_some_and(|d| now >= d) {
      return;
    }
    let next = match (close, next_waiter) {
      (Some(a), Some(b)) => Some(a.min(b)),
      (a, b) => a.or(b),
    };
    // A wake (close or flush called) re-evaluates at once; the permit it consumes only ever means
    // "look again", and the writer looks again after this write anyway.
    tokio::select! {
      _ = shared.wake.notified() => {}
      _ = async {
        match next {
          Some(d) => tokio::time::sleep_until(d.into()).await,
          None => std::future::pending().await,
        }
      } => {}
    }
  }
}
