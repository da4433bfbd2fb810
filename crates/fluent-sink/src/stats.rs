//! Counters shared by all connections and the command thread.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::memory::Memory;

/// Per-connection counts, added to [`Stats`] once per read batch so the hot loop never touches
/// shared cache lines.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
  pub events: u64,
  pub requests: u64,
  pub bytes: u64,
  pub acks: u64,
  pub invalid: u64,
  pub size_mismatch: u64,
  pub errors: u64,
  /// Requests over `max_request_bytes` or inflating past `max_inflated_bytes` (also errors).
  pub too_large: u64,
  /// Connections closed by the idle, request or handshake timeout.
  pub timeouts: u64,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
  pub events: u64,
  pub requests: u64,
  pub bytes: u64,
  pub acks: u64,
  pub invalid: u64,
  pub size_mismatch: u64,
  pub connections: u64,
  pub errors: u64,
  pub too_large: u64,
  pub timeouts: u64,
  /// Connections closed on accept because `max_connections` were open.
  pub refused: u64,
  /// Connections open now.
  pub open_connections: u64,
  /// Bytes of the accounted buffers now, and at most since start.
  pub memory_bytes: u64,
  pub memory_peak_bytes: u64,
}

impl Snapshot {
  pub fn to_json(&self) -> String {
    format!(
      "{{\"events\":{},\"requests\":{},\"bytes\":{},\"acks\":{},\"invalid\":{},\"sizeMismatch\":{},\"connections\":{},\"errors\":{},\"tooLarge\":{},\"timeouts\":{},\"refused\":{},\"openConnections\":{},\"memoryBytes\":{},\"memoryPeakBytes\":{}}}",
      self.events, self.requests, self.bytes, self.acks, self.invalid, self.size_mismatch, self.connections, self.errors,
      self.too_large, self.timeouts, self.refused, self.open_connections, self.memory_bytes, self.memory_peak_bytes
    )
  }
}

#[derive(Debug, Default)]
pub struct Stats {
  events: AtomicU64,
  requests: AtomicU64,
  bytes: AtomicU64,
  acks: AtomicU64,
  invalid: AtomicU64,
  size_mismatch: AtomicU64,
  connections: AtomicU64,
  errors: AtomicU64,
  too_large: AtomicU64,
  timeouts: AtomicU64,
  refused: AtomicU64,
  open: AtomicU64,
  /// Every buffer grown with client input, shared with the connections and the relay.
  pub memory: Arc<Memory>,
  /// Lets `commit` skip the lock entirely unless someone is blocked in `wait_events`.
  waiters: AtomicUsize,
  lock: Mutex<()>,
  wake: Condvar,
}

fn add(counter: &AtomicU64, n: u64) {
  if n != 0 {
    counter.fetch_add(n, Ordering::Relaxed);
  }
}

impl Stats {
  /// Adds a tally and zeroes it.
  pub fn commit(&self, t: &mut Tally) {
    add(&self.requests, t.requests);
    add(&self.bytes, t.bytes);
    add(&self.acks, t.acks);
    add(&self.invalid, t.invalid);
    add(&self.size_mismatch, t.size_mismatch);
    add(&self.errors, t.errors);
    add(&self.too_large, t.too_large);
    add(&self.timeouts, t.timeouts);
    if t.events != 0 {
      // SeqCst pairs with `wait_events`: either the waiter sees the new count, or we see the waiter.
      self.events.fetch_add(t.events, Ordering::SeqCst);
      if self.waiters.load(Ordering::SeqCst) > 0 {
        let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        self.wake.notify_all();
      }
    }
    *t = Tally::default();
  }

  pub fn connection(&self) {
    self.connections.fetch_add(1, Ordering::SeqCst);
  }

  pub fn error(&self) {
    self.errors.fetch_add(1, Ordering::Relaxed);
  }

  /// A handshake that did not finish in time: an error and a timeout.
  pub fn handshake_timeout(&self) {
    self.errors.fetch_add(1, Ordering::Relaxed);
    self.timeouts.fetch_add(1, Ordering::Relaxed);
  }

  pub fn refused(&self) {
    self.refused.fetch_add(1, Ordering::SeqCst);
  }

  /// Counts a connection open until the returned guard drops.
  pub fn open(self: &Arc<Self>) -> OpenConnection {
    self.open.fetch_add(1, Ordering::SeqCst);
    OpenConnection(self.clone())
  }

  pub fn open_connections(&self) -> u64 {
    self.open.load(Ordering::SeqCst)
  }

  pub fn snapshot(&self) -> Snapshot {
    let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
    Snapshot {
      events: self.events.load(Ordering::SeqCst),
      requests: get(&self.requests),
      bytes: get(&self.bytes),
      acks: get(&self.acks),
      invalid: get(&self.invalid),
      size_mismatch: get(&self.size_mismatch),
      connections: self.connections.load(Ordering::SeqCst),
      errors: get(&self.errors),
      too_large: get(&self.too_large),
      timeouts: get(&self.timeouts),
      refused: self.refused.load(Ordering::SeqCst),
      open_connections: self.open_connections(),
      memory_bytes: self.memory.now(),
      memory_peak_bytes: self.memory.peak(),
    }
  }

  pub fn reset(&self) {
    for c in [
      &self.events,
      &self.requests,
      &self.bytes,
      &self.acks,
      &self.invalid,
      &self.size_mismatch,
      &self.connections,
      &self.errors,
      &self.too_large,
      &self.timeouts,
      &self.refused,
    ] {
      c.store(0, Ordering::SeqCst);
    }
    self.memory.reset_peak();
  }

  /// Blocks until at least `n` valid events were counted or `timeout` passes.
  pub fn wait_events(&self, n: u64, timeout: Duration) {
    // A huge timeout must not overflow `Instant`; a day is "forever" for a benchmark sink.
    let deadline = Instant::now() + timeout.min(Duration::from_secs(86_400));
    self.waiters.fetch_add(1, Ordering::SeqCst);
    let mut guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
    while self.events.load(Ordering::SeqCst) < n {
      let now = Instant::now();
      if now >= deadline {
        break;
      }
      guard = self
        .wake
        .wait_timeout(guard, deadline - now)
        .unwrap_or_else(PoisonError::into_inner)
        .0;
    }
    drop(guard);
    self.waiters.fetch_sub(1, Ordering::SeqCst);
  }
}

/// See [`Stats::open`].
#[derive(Debug)]
pub struct OpenConnection(Arc<Stats>);

impl Drop for OpenConnection {
  fn drop(&mut self) {
    self.0.open.fetch_sub(1, Ordering::SeqCst);
  }
}

#[cfg(test)]
mod tests {
  use std::sync::Arc;

  use super::*;

  #[test]
  fn commit_snapshot_reset() {
    let s = Stats::default();
    s.connection();
    s.error();
    let mut t = Tally {
      events: 3,
      requests: 2,
      bytes: 100,
      acks: 1,
      invalid: 4,
      size_mismatch: 5,
      errors: 1,
      too_large: 1,
      timeouts: 2,
    };
    s.commit(&mut t);
    assert_eq!(t, Tally::default());
    assert_eq!(
      s.snapshot().to_json(),
      r#"{"events":3,"requests":2,"bytes":100,"acks":1,"invalid":4,"sizeMismatch":5,"connections":1,"errors":2,"tooLarge":1,"timeouts":2,"refused":0,"openConnections":0,"memoryBytes":0,"memoryPeakBytes":0}"#
    );
    s.reset();
    assert_eq!(s.snapshot(), Snapshot::default());
  }

  #[test]
  fn wait_wakes_on_commit_and_times_out() {
    let s = Arc::new(Stats::default());
    let start = Instant::now();
    s.wait_events(1, Duration::from_millis(30));
    assert!(start.elapsed() >= Duration::from_millis(30));

    let s2 = s.clone();
    let committer = std::thread::spawn(move || {
      for _ in 0..10 {
        std::thread::sleep(Duration::from_millis(5));
        s2.commit(&mut Tally {
          events: 1,
          ..Tally::default()
        });
      }
    });
    let start = Instant::now();
    s.wait_events(10, Duration::from_secs(10));
    assert_eq!(s.snapshot().events, 10);
    assert!(start.elapsed() < Duration::from_secs(5));
    committer.join().unwrap();
  }
}
