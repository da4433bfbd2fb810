//! A fresh plaintext connection has not proven that the server speaks plaintext Forward: a TLS
//! input takes the TCP connection, and the kernel takes our first request, exactly as a Forward
//! input would. Only what follows tells them apart: a TLS server answers plaintext with an alert
//! (`15 03 ..`, caught in `Link::on_read`) or drops the connection right after the first bytes
//! (a reset, or a close without a word). Without acks the writer counted such a request as sent
//! the moment the kernel took it (REVIEW-0.2 A6: `sent: 10`, nothing stored).
//!
//! So a fresh connection is on probation from its first write for `WINDOW`, unless something
//! already proved it (TLS, the Forward handshake's HELO) or nothing needs proving. Without acks,
//! the batches written meanwhile are held here, not settled: when the window passes with no alert,
//! reset or close they are sent; when the connection fails in it they go back with the connection's
//! other unsettled batches and are resent, never counted as sent. With acks the batches wait for
//! their acks anyway; the window only decides what a failure means.
//!
//! Only a server's first proven connection is on probation: once one connection to a server has
//! passed, the server speaks plaintext Forward, and a later connection dropped after its first
//! request (a restart, a record the server chokes on, resent first on the new connection) is
//! what it looks like, not TLS.
//!
//! `WINDOW` is what the verdict costs: a batch on a server's first connection counts as sent (and
//! a flush or the exit drain sees it) up to this much later. A TLS server's alert or reset arrives
//! one round trip after our first bytes, plus however long the server takes to look at them: 500 ms
//! covers round trips across continents and a server whose event loop is busy (Node's `tls` in a
//! process running 20 other tests took over 300 ms).

use crate::error::Error;
use crate::retry::Held;
use std::io::ErrorKind;
use std::time::{Duration, Instant};

pub const WINDOW: Duration = Duration::from_millis(500);
/// How long a window must have run for a close deadline to count its batches as sent: a TLS server
/// on loopback or a LAN answers plaintext within a few milliseconds, also on a loaded host.
pub const CUT_SHORT_AFTER: Duration = Duration::from_millis(50);

/// Why a connection on probation that ended in a close or reset most likely ended.
pub const CLOSED_ON_FIRST_BYTES: &str =
  "the server closed the connection right after our first request, without a byte back: \
its input most likely expects TLS (set tls); a server that refuses a request outright closes the same way";

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum State {
  /// Proven, or nothing to prove.
  #[default]
  Proven,
  /// Connected, nothing written yet.
  Fresh,
  /// First written at `.0 - WINDOW`: on probation until `.0`.
  Until(Instant),
}

#[derive(Default)]
pub struct Probation {
  state: State,
  /// Without acks: the batches written while on probation, in write order.
  held: Vec<Held>,
  /// A connection to this server has passed: later ones need no probation.
  ever_proven: bool,
}

impl Probation {
  /// A new connection: on probation if nothing proved it already (see the module comment).
  pub fn start(&mut self, unproven: bool) {
    debug_assert!(self.held.is_empty(), "batches held across connections");
    self.state = if unproven && !self.ever_proven {
      State::Fresh
    } else {
      State::Proven
    };
  }

  /// A batch written without acks: returned if it is sent now, kept if the connection is on
  /// probation (it is sent when the window passes: `passed`).
  pub fn written(&mut self, held: Held, now: Instant) -> Option<Held> {
    match self.state {
      State::Proven => Some(held),
      State::Fresh => {
        self.state = State::Until(now + WINDOW);
        self.held.push(held);
        None
      }
      State::Until(_) => {
        self.held.push(held);
        None
      }
    }
  }

  /// With acks, a write only starts the window (the batches wait for their acks in flight).
  pub fn wrote(&mut self, now: Instant) {
    if self.state == State::Fresh {
      self.state = State::Until(now + WINDOW);
    }
  }

  /// Once the window has passed with the connection still up: it is proven, and what it held is
  /// sent (in write order).
  pub fn passed(&mut self, now: Instant) -> Vec<Held> {
    match self.state {
      State::Until(t) if now >= t => {
        self.state = State::Proven;
        self.ever_proven = true;
        std::mem::take(&mut self.held)
      }
      _ => Vec::new(),
    }
  }

  /// The close deadline came first: the held batches, to count as sent (see
  /// `Link::cut_probation_short`), if the window has run for `CUT_SHORT_AFTER` at least; a batch
  /// written just before the deadline has had no time to be answered, and stays unconfirmed. The
  /// connection is not proven by it.
  pub fn cut_short(&mut self, now: Instant) -> Vec<Held> {
    match self.state {
      State::Until(t) if now + WINDOW >= t + CUT_SHORT_AFTER => std::mem::take(&mut self.held),
      _ => Vec::new(),
    }
  }

  /// When the window ends, while one is running.
  pub fn deadline(&self) -> Option<Instant> {
    match self.state {
      State::Until(t) => Some(t),
      _ => None,
    }
  }

  pub fn is_empty(&self) -> bool {
    self.held.is_empty()
  }

  /// The connection failed: what it held, for a resend (the probation ends with it).
  pub fn take(&mut self) -> Vec<Held> {
    self.state = State::Proven;
    std::mem::take(&mut self.held)
  }

  /// What a failure of this connection most likely means: a close or reset inside the window,
  /// with not a byte heard from the server, is a TLS input refusing plaintext. Not an error that
  /// opens the breaker at once (`Error::TlsSuspected`): a server that drops the connection on a
  /// poison record in the first request looks the same, and must still get its retries and split.
  pub fn judge(&self, why: Error, heard: usize, now: Instant) -> Error {
    let State::Until(t) = self.state else {
      return why;
    };
    let dropped = match &why {
      Error::Io(e) => matches!(
        e.kind(),
        ErrorKind::UnexpectedEof
          | ErrorKind::ConnectionReset
          | ErrorKind::ConnectionAborted
          | ErrorKind::BrokenPipe
      ),
      _ => false,
    };
    if dropped && heard == 0 && now < t {
      Error::TlsSuspected(CLOSED_ON_FIRST_BYTES.into())
    } else {
      why
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::queue::Chunk;
  use std::sync::Arc;

  fn held(n: u8) -> Held {
    Held::new(Chunk {
      tag: Arc::from("t"),
      tag_id: 0,
      entries: vec![n],
      offsets: vec![0],
      since: Instant::now(),
    })
  }

  fn reset() -> Error {
    Error::Io(std::io::Error::from(ErrorKind::ConnectionReset))
  }

  #[test]
  fn batches_of_a_fresh_connection_wait_out_the_window_then_are_sent_in_order() {
    let t0 = Instant::now();
    let mut p = Probation::default();
    p.start(true);
    assert!(p.written(held(1), t0).is_none());
    assert!(p.written(held(2), t0 + Duration::from_millis(100)).is_none());
    assert_eq!(p.deadline(), Some(t0 + WINDOW));
    assert!(p.passed(t0 + WINDOW - Duration::from_millis(1)).is_empty());
    let sent: Vec<u8> = p.passed(t0 + WINDOW).iter().map(|h| h.chunk.entries[0]).collect();
    assert_eq!(sent, vec![1, 2]);
    // Proven: later batches are sent at once, and so are those of the server's next connection.
    assert!(p.written(held(3), t0 + WINDOW).is_some());
    assert_eq!(p.deadline(), None);
    p.start(true);
    assert!(p.written(held(4), t0 + WINDOW).is_some());
    assert!(matches!(p.judge(reset(), 0, t0 + WINDOW), Error::Io(_)));
  }

  #[test]
  fn a_drop_inside_the_window_with_nothing_heard_is_a_tls_suspicion_and_gives_the_batches_back() {
    let t0 = Instant::now();
    let mut p = Probation::default();
    p.start(true);
    // Before the first write a drop proves nothing (an idle connection the server let go).
    assert!(matches!(p.judge(reset(), 0, t0), Error::Io(_)));
    p.written(held(1), t0);
    let e = p.judge(reset(), 0, t0 + Duration::from_millis(10));
    assert_eq!(e.code(), "TLS_PROTOCOL");
    assert!(!e.is_permanent());
    // The server said something, or the window had passed, or it was not a drop: as it was.
    assert!(matches!(p.judge(reset(), 5, t0), Error::Io(_)));
    assert!(matches!(p.judge(reset(), 0, t0 + WINDOW), Error::Io(_)));
    assert!(matches!(
      p.judge(Error::Timeout("write"), 0, t0),
      Error::Timeout(_)
    ));
    assert_eq!(p.take().len(), 1);
    assert!(p.is_empty() && p.deadline().is_none());
  }

  #[test]
  fn a_close_deadline_counts_held_batches_as_sent_only_once_they_had_time_to_be_answered() {
    let t0 = Instant::now();
    let mut p = Probation::default();
    p.start(true);
    p.written(held(1), t0);
    assert!(
      p.cut_short(t0 + Duration::from_millis(10)).is_empty(),
      "no time to be answered"
    );
    assert_eq!(p.cut_short(t0 + CUT_SHORT_AFTER).len(), 1);
    assert!(p.is_empty());
  }

  #[test]
  fn a_proven_connection_holds_nothing() {
    let mut p = Probation::default();
    p.start(false);
    assert!(p.written(held(1), Instant::now()).is_some());
    assert!(matches!(p.judge(reset(), 0, Instant::now()), Error::Io(_)));
  }
}
