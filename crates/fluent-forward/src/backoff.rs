//! Reconnect delays: exponential, capped, with jitter so that many clients restarted together
//! do not reconnect in lockstep.

use std::time::Duration;

pub struct Backoff {
  initial: Duration,
  max: Duration,
  attempt: u32,
  rng: u64,
}

impl Backoff {
  pub fn new(initial: Duration, max: Duration) -> Self {
    let mut seed = [0u8; 8];
    let _ = getrandom::fill(&mut seed);
    Self {
      initial,
      max,
      attempt: 0,
      rng: u64::from_le_bytes(seed) | 1,
    }
  }

  /// The next delay: `initial * 2^attempt`, capped at `max`, then scaled by a random factor in [0.5, 1].
  pub fn next_delay(&mut self) -> Duration {
    let exp = self.initial.saturating_mul(1u32 << self.attempt.min(20));
    let capped = exp.min(self.max);
    self.attempt = self.attempt.saturating_add(1);
    // xorshift64: statistical quality is irrelevant here, only spreading.
    self.rng ^= self.rng << 13;
    self.rng ^= self.rng >> 7;
    self.rng ^= self.rng << 17;
    let fraction = 0.5 + (self.rng >> 11) as f64 / (1u64 << 53) as f64 / 2.0;
    capped.mul_f64(fraction)
  }

  pub fn reset(&mut self) {
    self.attempt = 0;
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn grows_caps_and_jitters() {
    let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
    let d: Vec<_> = (0..8).map(|_| b.next_delay()).collect();
    assert!(d[0] >= Duration::from_millis(50) && d[0] <= Duration::from_millis(100));
    assert!(d[2] >= Duration::from_millis(200) && d[2] <= Duration::from_millis(400));
    assert!(d.iter().all(|x| *x <= Duration::from_secs(1)));
    assert!(d[7] >= Duration::from_millis(500));
    b.reset();
    assert!(b.next_delay() <= Duration::from_millis(100));
  }
}
