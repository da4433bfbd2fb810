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
//! A heartbeat that reaches the server ends the cooldown early (`on_heartbeat`), but only when the
//! opening was for the server being unreachable (a failed connect, a missed heartbeat): a beat
//! proves reachability and nothing else. A server that took the connection and then failed it (no
//! ack, a drop, a stalled handshake) was reachable all along, and one that refused our key or
//! certificate will refuse it again, so those wait out their (doubling) cooldown; otherwise a
//! server that accepts and never reads would be retried, and its batches resent, on every beat.
//!
//! The failure count and the doubling reset when the server takes a batch (`on_settled`), not on a
//! bare connect: a server that accepts and then drops every connection must still open it.

use crate::config::Breaker as Config;
use crate::error::Error;
use std::time::{Duration, Instant};

/// What a failure says about the server, which decides what may end the opening it causes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
  /// No connection could be made (refused, timed out, unresolvable) or a heartbeat missed.
  Unreachable,
  /// A connection was made and then failed: an ack or write timed out, the server dropped it or
  /// sent garbage, the handshake stalled.
  Broken,
  /// An error a retry cannot fix (authentication, certificates, TLS protocol): opens at once.
  Permanent,
}

impl Failure {
  /// How a connect or connection `error` counts.
  pub fn of(error: &Error) -> Self {
    match error.inner() {
      _ if error.is_permanent() => Failure::Permanent,
      Error::Connect(_) => Failure::Unreachable,
      _ => Failure::Broken,
    }
  }
}

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
  /// The failure that caused the current (or last) opening.
  opened_for: Failure,
}

impl Breaker {
  pub fn new(cfg: Config) -> Self {
    Self {
      cfg,
      state: BreakerState::Closed,
      failures: 0,
      openings: 0,
      open_until: None,
      opened_for: Failure::Unreachable,
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
  pub fn on_failure(&mut self, now: Instant, failure: Failure) -> Option<BreakerState> {
    self.failures = self.failures.saturating_add(1);
    let open = failure == Failure::Permanent
      || self.state == BreakerState::HalfOpen
      || self.failures >= self.cfg.failure_threshold;
    if !open || self.state == BreakerState::Open {
      return None;
    }
    let cooldown = self
      .cfg
      .cooldown
      .saturating_mul(1u32 << self.openings.min(20))
      .min(self.cfg.max_cooldown);
    self.openings = self.openings.saturating_add(1);
    self.opened_for = failure;
    self.state = BreakerState::Open;
    self.open_until = Some(now + cooldown);
    Some(BreakerState::Open)
  }

  /// A heartbeat reached the server: an opening for its being unreachable ends now (one probe may
  /// go). Returns the new state when it changed.
  pub fn on_heartbeat(&mut self) -> Option<BreakerState> {
    if self.state != BreakerState::Open || self.opened_for != Failure::Unreachable {
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
  use super::Failure::*;
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
    assert_eq!(b.on_failure(t0, Unreachable), None);
    assert_eq!(b.on_failure(t0, Unreachable), None);
    assert_eq!(b.on_failure(t0, Unreachable), Some(BreakerState::Open));
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
    assert_eq!(b.on_failure(t0, Permanent), Some(BreakerState::Open));
    assert_eq!(b.open_until(), Some(t0 + Duration::from_secs(10)));
    let t1 = t0 + Duration::from_secs(10);
    assert_eq!(b.allow(t1), (true, Some(BreakerState::HalfOpen)));
    // The probe fails: reopened with twice the cooldown.
    assert_eq!(b.on_failure(t1, Unreachable), Some(BreakerState::Open));
    assert_eq!(b.open_until(), Some(t1 + Duration::from_secs(20)));
    let t2 = t1 + Duration::from_secs(20);
    b.allow(t2);
    assert_eq!(b.on_failure(t2, Permanent), Some(BreakerState::Open));
    // 40 s capped at 25 s.
    assert_eq!(b.open_until(), Some(t2 + Duration::from_secs(25)));
    // Failures while open change nothing.
    assert_eq!(b.on_failure(t2, Permanent), None);
  }

  #[test]
  fn a_settled_batch_resets_count_and_doubling() {
    let t0 = Instant::now();
    let mut b = Breaker::new(cfg());
    b.on_failure(t0, Permanent);
    b.allow(t0 + Duration::from_secs(10));
    b.on_connected();
    assert_eq!(b.next_cooldown(), Duration::from_secs(20));
    b.on_settled();
    assert_eq!(b.next_cooldown(), Duration::from_secs(10));
    assert_eq!(b.on_failure(t0, Unreachable), None);
    assert_eq!(b.on_failure(t0, Unreachable), None);
    assert_eq!(b.on_failure(t0, Unreachable), Some(BreakerState::Open));
  }

  #[test]
  fn a_connect_that_is_then_dropped_still_counts_towards_opening() {
    let t0 = Instant::now();
    let mut b = Breaker::new(cfg());
    for _ in 0..2 {
      assert_eq!(b.on_connected(), None);
      assert_eq!(b.on_failure(t0, Broken), None);
    }
    b.on_connected();
    assert_eq!(b.on_failure(t0, Broken), Some(BreakerState::Open));
  }

  #[test]
  fn a_heartbeat_ends_only_an_opening_for_unreachability() {
    let t0 = Instant::now();
    let mut b = Breaker::new(cfg());
    b.on_failure(t0, Permanent);
    assert_eq!(b.on_heartbeat(), None, "an auth failure waits its cooldown");
    b.allow(t0 + Duration::from_secs(10));
    assert_eq!(
      b.on_failure(t0, Unreachable),
      Some(BreakerState::Open),
      "a failed probe"
    );
    assert_eq!(b.on_heartbeat(), Some(BreakerState::HalfOpen));
    assert_eq!(b.allow(t0), (true, None));
    assert_eq!(b.on_heartbeat(), None, "not open");
  }

  #[test]
  fn a_server_that_takes_connections_and_fails_them_waits_out_a_doubling_cooldown() {
    // A server that accepts and never acks: every probe connects, then times out.
    let t0 = Instant::now();
    let mut b = Breaker::new(cfg());
    for _ in 0..3 {
      b.on_connected();
      b.on_failure(t0, Broken);
    }
    assert_eq!(b.state(), BreakerState::Open);
    assert_eq!(
      b.on_heartbeat(),
      None,
      "it answers beats, which proves nothing here"
    );
    assert_eq!(b.allow(t0 + Duration::from_secs(9)), (false, None));
    let t1 = t0 + Duration::from_secs(10);
    assert_eq!(b.allow(t1), (true, Some(BreakerState::HalfOpen)));
    assert_eq!(b.on_connected(), Some(BreakerState::Closed));
    // The probe's connection fails too: open again at once, for twice as long.
    assert_eq!(b.on_failure(t1, Broken), Some(BreakerState::Open));
    assert_eq!(b.open_until(), Some(t1 + Duration::from_secs(20)));
    assert_eq!(b.on_heartbeat(), None);
  }

  /// Ten minutes down on a virtual clock, with the writer's default beats (500 ms) and the default
  /// breaker: by then the cooldown has doubled to its cap (300 s), yet the first beat that reaches
  /// the server lets the probe go at once. This is what makes recovery after an outage of any
  /// length take one beat, not the cooldown that happens to be left (__test__/recovery.spec.ts
  /// measures the real thing for 2 s and 15 s).
  #[test]
  fn after_ten_minutes_down_the_first_beat_that_answers_lets_the_probe_go() {
    let beat = Duration::from_millis(500);
    let t0 = Instant::now();
    let mut b = Breaker::new(Config::default());
    let mut t = t0;
    let mut openings = 0;
    while t < t0 + Duration::from_secs(600) {
      t += beat;
      // What the writer does each beat: `available` asks `allow`; a missed beat counts unless the
      // breaker is open (writer/tasks.rs `on_beat`).
      let _ = b.allow(t);
      if b.state() != BreakerState::Open && b.on_failure(t, Unreachable) == Some(BreakerState::Open) {
        openings += 1;
      }
    }
    assert_eq!(b.state(), BreakerState::Open);
    assert!(openings >= 5, "{openings} openings");
    assert_eq!(
      b.next_cooldown(),
      Duration::from_secs(300),
      "the cooldown reached its cap"
    );
    let left = b.open_until().unwrap().saturating_duration_since(t);
    assert!(
      left > Duration::from_secs(10),
      "a long cooldown is left: {left:?}"
    );
    // The server listens again; the next beat reaches it.
    t += beat;
    assert_eq!(b.on_heartbeat(), Some(BreakerState::HalfOpen));
    assert_eq!(b.allow(t), (true, None), "the probe may go now, not in {left:?}");
    assert_eq!(b.on_connected(), Some(BreakerState::Closed));
  }

  #[test]
  fn failures_are_classified_by_what_they_prove() {
    let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
    assert_eq!(Failure::of(&Error::Connect(refused)), Unreachable);
    assert_eq!(Failure::of(&Error::Timeout("ack")), Broken);
    assert_eq!(Failure::of(&Error::HandshakeTimeout), Broken);
    let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
    assert_eq!(Failure::of(&Error::Io(reset)), Broken);
    assert_eq!(Failure::of(&Error::AuthKey("no".into())), Permanent);
    assert_eq!(Failure::of(&Error::TlsCert("no".into())), Permanent);
  }

  #[test]
  fn state_round_trips_through_u8() {
    for s in [BreakerState::Closed, BreakerState::Open, BreakerState::HalfOpen] {
      assert_eq!(BreakerState::from_u8(s.as_u8()), s);
    }
  }
}
