//! Circuit breaker for one server: the state machine only, with time passed in, so it is
//! tested without sockets. The writer asks `allow` before connecting and reports each connection's
//! outcome.
//!
//! - Closed: connections are tried (with the reconnect backoff). Consecutive failures count; at
//!   `failure_threshold`, or at once for a permanent error, it opens.
//! - Open: nothing is tried until `cooldown` has passed (doubling per consecutive opening, capped
//!   at `max_cooldown`); then one probe is allowed (half-open).
//! - HalfOpen: a probe that connects and handshakes closes it; a probe that fails reopens it.
//!
//! A heartbeat that reaches the server ends the cooldown early (`on_heartbeat`), unless the
//! opening was for an error that does not fix itself (authentication, certificates): the server
//! being up says nothing about those.
//!
//! The failure count and the doubling reset when the server takes a batch (`on_settled`), not on a
//! bare connect: a server that accepts and then drops every connection must still open it.

use crate::config::Breaker as Config;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum BreakerState {
  #[default]
  Closed,
  Open,
  HalfOpen,
}

impl BreakerState {
  pub fn as_u8(self) -> u8 {
    self as u8
  }

  pub fn from_u8(v: u8) -> Self {
    match v {
      1 => BreakerState::Open,
      2 => BreakerState::HalfOpen,
      _ => BreakerState::Closed,
    }
  }
}

pub struct Breaker {
  cfg: Config,
  state: BreakerState,
  failures: u32,
  /// Consecutive openings without a settled batch in between: the cooldown's doubling.
  openings: u32,
  open_until: Option<Instant>,
  /// The last opening was for a permanent error.
  permanent: bool,
}

impl Breaker {
  pub fn new(cfg: Config) -> Self {
    Self {
      cfg,
      state: BreakerState::Closed,
      failures: 0,
      openings: 0,
      open_until: None,
      permanent: false,
    }
  }

  pub fn state(&self) -> BreakerState {
    self.state
  }

  /// When an open breaker allows its probe.
  pub fn open_until(&self) -> Option<Instant> {
    (self.state == BreakerState::Open)
      .then_some(self.open_until)
      .flatten()
  }

  /// May a connection be tried now? Moves Open to HalfOpen once the cooldown has passed; the new
  /// state is returned when it changed.
  pub fn allow(&mut self, now: Instant) -> (bool, Option<BreakerState>) {
    match self.state {
      BreakerState::Closed | BreakerState::HalfOpen => (true, None),
      BreakerState::Open if self.open_until.is_some_and(|t| now >= t) => {
        self.state = BreakerState::HalfOpen;
        (true, Some(BreakerState::HalfOpen))
      }
      BreakerState::Open => (false, None),
    }
  }

  /// A connection opened (connect, TLS and handshake done).
  pub fn on_connected(&mut self) -> Option<BreakerState> {
    if self.state == BreakerState::Closed {
      return None;
    }
    self.state = BreakerState::Closed;
    self.open_until = None;
    Some(BreakerState::Closed)
  }

  /// The server took a batch: the connection is healthy, so the count and the doubling restart.
  pub fn on_settled(&mut self) {
    self.failures = 0;
    self.openings = 0;
  }

  /// A connection failed (to open, or the server dropped it before settling anything). Returns
  /// the new state when it changed (to Open).
  pub fn on_failure(&mut self, now: Instant, permanent: bool) -> Option<BreakerState> {
    self.failures = self.failures.saturating_add(1);
    let open =
      permanent || self.state == BreakerState::HalfOpen || self.failures >= self.cfg.failure_threshold;
    if !open || self.state == BreakerState::Open {
      return None;
    }
    let cooldown = self
      .cfg
      .cooldown
      .saturating_mul(1u32 << self.openings.min(20))
      .min(self.cfg.max_cooldown);
    self.openings = self.openings.saturating_add(1);
    self.permanent = permanent;
    self.state = BreakerState::Open;
    self.open_until = Some(now + cooldown);
    Some(BreakerState::Open)
  }

  /// A heartbeat reached the server: an opening for a transient failure ends now (one probe may
  /// go). Returns the new state when it changed.
  pub fn on_heartbeat(&mut self) -> Option<BreakerState> {
    if self.state != BreakerState::Open || self.permanent {
      return None;
    }
    self.state = BreakerState::HalfOpen;
    self.open_until = None;
    Some(BreakerState::HalfOpen)
  }

  /// The cooldown the next opening would get (for tests and reports).
  pub fn next_cooldown(&self) -> Duration {
    self
      .cfg
      .cooldown
      .saturating_mul(1u32 << self.openings.min(20))
      .min(self.cfg.max_cooldown)
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  fn cfg() -> Config {
    Config {
      failure_threshold: 3,
      cooldown: Duration::from_secs(10),
      max_cooldown: Duration::from_secs(25),
    }
  }

  #[test]
  fn opens_at_threshold_then_probes_and_closes() {
    let t0 = Instant::now();
    let mut b = Breaker::new(cfg());
    assert_eq!(b.on_failure(t0, false), None);
    assert_eq!(b.on_failure(t0, false), None);
    assert_eq!(b.on_failure(t0, false), Some(BreakerState::Open));
    assert_eq!(b.allow(t0 + Duration::from_secs(9)), (false, None));
    assert_eq!(b.open_until(), Some(t0 + Duration::from_secs(10)));
    assert_eq!(
      b.allow(t0 + Duration::from_secs(10)),
      (true, Some(BreakerState::HalfOpen))
    );
    assert_eq!(b.on_connected(), Some(BreakerState::Closed));
    assert_eq!(b.on_connected(), None);
  }

  #[test]
  fn permanent_errors_open_at_once_and_cooldown_doubles_capped() {
    let t0 = Instant::now();
    let mut b = Breaker::new(cfg());
    assert_eq!(b.on_failure(t0, true), Some(BreakerState::Open));
    assert_eq!(b.open_until(), Some(t0 + Duration::from_secs(10)));
    let t1 = t0 + Duration::from_secs(10);
    assert_eq!(b.allow(t1), (true, Some(BreakerState::HalfOpen)));
    // The probe fails: reopened with twice the cooldown.
    assert_eq!(b.on_failure(t1, false), Some(BreakerState::Open));
    assert_eq!(b.open_until(), Some(t1 + Duration::from_secs(20)));
    let t2 = t1 + Duration::from_secs(20);
    b.allow(t2);
    assert_eq!(b.on_failure(t2, true), Some(BreakerState::Open));
    // 40 s capped at 25 s.
    assert_eq!(b.open_until(), Some(t2 + Duration::from_secs(25)));
    // Failures while open change nothing.
    assert_eq!(b.on_failure(t2, true), None);
  }

  #[test]
  fn a_settled_batch_resets_count_and_doubling() {
    let t0 = Instant::now();
    let mut b = Breaker::new(cfg());
    b.on_failure(t0, true);
    b.allow(t0 + Duration::from_secs(10));
    b.on_connected();
    assert_eq!(b.next_cooldown(), Duration::from_secs(20));
    b.on_settled();
    assert_eq!(b.next_cooldown(), Duration::from_secs(10));
    assert_eq!(b.on_failure(t0, false), None);
    assert_eq!(b.on_failure(t0, false), None);
    assert_eq!(b.on_failure(t0, false), Some(BreakerState::Open));
  }

  #[test]
  fn a_connect_that_is_then_dropped_still_counts_towards_opening() {
    let t0 = Instant::now();
    let mut b = Breaker::new(cfg());
    for _ in 0..2 {
      assert_eq!(b.on_connected(), None);
      assert_eq!(b.on_failure(t0, false), None);
    }
    b.on_connected();
    assert_eq!(b.on_failure(t0, false), Some(BreakerState::Open));
  }

  #[test]
  fn a_heartbeat_ends_a_transient_opening_only() {
    let t0 = Instant::now();
    let mut b = Breaker::new(cfg());
    b.on_failure(t0, true);
    assert_eq!(b.on_heartbeat(), None, "an auth failure waits its cooldown");
    b.allow(t0 + Duration::from_secs(10));
    for _ in 0..3 {
      b.on_failure(t0, false);
    }
    assert_eq!(b.state(), BreakerState::Open);
    assert_eq!(b.on_heartbeat(), Some(BreakerState::HalfOpen));
    assert_eq!(b.allow(t0), (true, None));
    assert_eq!(b.on_heartbeat(), None);
  }

  #[test]
  fn state_round_trips_through_u8() {
    for s in [BreakerState::Closed, BreakerState::Open, BreakerState::HalfOpen] {
      assert_eq!(BreakerState::from_u8(s.as_u8()), s);
    }
  }
}
