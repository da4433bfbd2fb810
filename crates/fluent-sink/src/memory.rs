//! An accounted-bytes gauge: every buffer the receiver grows with client input is added here, so
//! tests (and users, through `stats()`) can hold the receiver to its documented bound.

use std::sync::atomic::{AtomicI64, Ordering};

#[derive(Debug, Default)]
pub struct Memory {
  now: AtomicI64,
  peak: AtomicI64,
}

impl Memory {
  /// Records a buffer's capacity going from `old` to `new` bytes.
  pub fn resized(&self, old: usize, new: usize) {
    if new > old {
      let now = self.now.fetch_add((new - old) as i64, Ordering::Relaxed) + (new - old) as i64;
      self.peak.fetch_max(now, Ordering::Relaxed);
    } else if old > new {
      self.now.fetch_sub((old - new) as i64, Ordering::Relaxed);
    }
  }

  pub fn now(&self) -> u64 {
    self.now.load(Ordering::Relaxed).max(0) as u64
  }

  /// The largest `now` since start (or the last reset).
  pub fn peak(&self) -> u64 {
    self.peak.load(Ordering::Relaxed).max(0) as u64
  }

  /// Starts a new peak window at the current level.
  pub fn reset_peak(&self) {
    self
      .peak
      .store(self.now.load(Ordering::Relaxed), Ordering::Relaxed);
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn tracks_now_and_peak() {
    let m = Memory::default();
    m.resized(0, 100);
    m.resized(100, 40);
    assert_eq!((m.now(), m.peak()), (40, 100));
    m.reset_peak();
    m.resized(40, 0);
    assert_eq!((m.now(), m.peak()), (0, 40));
  }
}
