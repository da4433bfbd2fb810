//! When a server fails: what it had not settled goes back in order (the oldest request is blamed
//! and retried, parked, split or rejected: `retry::on_failure`), the link goes down, and the
//! error is reported at a bounded rate. Also the recovery after a caught panic.

use super::Writer;
use crate::breaker::Failure;
use crate::error::Error;
use crate::event::Event;
use crate::retry::{Held, Verdict};
use crate::transport::Resolver;
use std::io;
use std::time::Instant;

impl Writer {
  /// Every unacked batch of server `i`, and the one being written to it, in write order.
  pub(super) fn take_unsettled(&mut self, i: usize) -> Vec<Held> {
    let mut all = self.links[i].take_unsettled();
    if self.writing.as_ref().is_some_and(|(w, _)| *w == i) {
      let (_, group) = self.writing.take().expect("checked");
      for mut h in group {
        h.retry = true;
        all.push(h);
      }
    }
    self.update_in_flight(i);
    all
  }

  /// After a caught panic: a connection may be mid-request, so only fresh ones are safe; what they
  /// carried goes back to the front at once rather than waiting for an ack timeout. Nothing is
  /// counted against a batch: the panic was ours.
  pub(super) fn recover(&mut self) {
    let mut back = Vec::new();
    for i in 0..self.links.len() {
      self.links[i].drop_connection(&self.shared.servers[i]);
      back.extend(self.take_unsettled(i));
    }
    for mut h in self.writing.take().map(|(_, g)| g).unwrap_or_default() {
      h.retry = true;
      back.push(h);
    }
    for h in back.into_iter().rev() {
      self.pending.push_front(h);
    }
    // Tasks that were under way took their resolvers with them.
    self.connects.abort_all();
    self.beats.abort_all();
    let ttl = self.shared.config.dns_ttl;
    for link in &mut self.links {
      link.connecting = false;
      link.resolver.get_or_insert_with(|| Resolver::new(ttl));
      link.beat_resolver.get_or_insert_with(|| Resolver::new(ttl));
    }
    self.update_connected();
  }

  /// Server `i` ended the connection (EOF, reset, garbage, an ack for an unknown id) or let a write
  /// or an ack time out. The failure counts against the oldest request it had not settled (the
  /// earliest unacked batch, else the batch being written): the server handles a connection's
  /// requests in order, so that is the one it choked on. The rest go back in order, uncounted, for
  /// whichever server takes them next.
  pub(super) fn fail_link(&mut self, i: usize, why: Error, now: Instant) {
    let why = self.links[i].judge(why, now);
    let counts = self.links[i].conn_settled == 0 || why.is_permanent();
    self.links[i].drop_connection(&self.shared.servers[i]);
    self.update_connected();
    let mut all = self.take_unsettled(i).into_iter();
    let blamed = all.next();
    for h in all.rev() {
      self.pending.push_front(h);
    }
    if let Some(h) = blamed {
      let max = self.shared.config.max_batch_attempts;
      match self.judge_failure(h, max, self.health) {
        Verdict::Front(h) => self.pending.push_front(h),
        Verdict::Park(h) => self.parked.push_back(h),
        Verdict::Split(a, b) if a.attempts >= 2 => {
          self.parked.push_back(a);
          self.parked.push_back(b);
        }
        Verdict::Split(a, b) => {
          self.pending.push_front(b);
          self.pending.push_front(a);
        }
        Verdict::Reject(h) => self.reject(h),
      }
    }
    let opened = self.link_down(i, now, Failure::of(&why), counts);
    let report = self.links[i].reconnect_reports.admit(now);
    // The error that opens the breaker is always reported (once: nothing is tried while open).
    let address = self.links[i].server.target.address();
    if let Some(suppressed) = report.or(opened.then_some(0)) {
      self.shared.emit(Event::Error {
        error: reconnect_report(&why, suppressed).at(address.clone()),
        records: 0,
        tag: None,
      });
    }
    self.shared.emit(Event::Disconnected {
      server: i,
      address: self.links[i].address.clone(),
      error: Some(why.at(address)),
    });
  }
}

/// The error event for a reconnect the server caused: its cause, plus how many reconnects the rate
/// limit held back since the last report. `Error::Timeout` holds a static text, so a timeout that
/// carries a count goes out as an `Io` error of kind `TimedOut`.
fn reconnect_report(why: &Error, suppressed: u64) -> Error {
  let more = if suppressed > 0 {
    format!(" ({suppressed} more server-caused reconnect(s) since the last report)")
  } else {
    String::new()
  };
  match why {
    Error::Io(e) => Error::Io(io::Error::new(e.kind(), format!("{e}; reconnecting{more}"))),
    Error::AckMismatch(what) => Error::AckMismatch(format!("{what}; reconnecting{more}")),
    Error::Timeout(what) if suppressed == 0 => Error::Timeout(what),
    // Typed errors keep their code (they open the breaker, so they are not repeated anyway).
    Error::AuthKey(w) => Error::AuthKey(w.clone()),
    Error::AuthUser(w) => Error::AuthUser(w.clone()),
    Error::AuthServer(w) => Error::AuthServer(w.clone()),
    Error::TlsCert(w) => Error::TlsCert(w.clone()),
    Error::TlsHostname(w) => Error::TlsHostname(w.clone()),
    Error::TlsProtocol(w) => Error::TlsProtocol(w.clone()),
    Error::TlsSuspected(w) => Error::TlsSuspected(format!("{w}; reconnecting{more}")),
    Error::HandshakeTimeout => Error::HandshakeTimeout,
    other => Error::Io(io::Error::new(
      io::ErrorKind::TimedOut,
      format!("{other}; reconnecting{more}"),
    )),
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::link::InFlight;
  use crate::queue::Chunk;
  use crate::shared::Shared;
  use std::sync::Arc;
  use std::time::Duration;

  fn held(n: u8) -> Held {
    Held::new(Chunk {
      tag: Arc::from("t"),
      tag_id: 0,
      entries: vec![n],
      offsets: vec![0],
      since: Instant::now(),
    })
  }

  /// What `run_thread` does after a caught panic: the batch in hand and the unacked ones go back to
  /// the front, in write order, at once (not after an ack timeout), and nothing is counted against
  /// them.
  #[tokio::test]
  async fn recover_requeues_the_batch_in_hand_and_the_unacked_ones() {
    let shared = Arc::new(Shared::new(crate::config::Config::default(), Arc::new(|_| true)));
    let mut w = Writer::new(shared.clone());
    w.pending.push_back(held(3));
    w.links[0].in_flight.push_back(InFlight {
      held: held(1),
      seq: 0,
      outstanding: 1,
      deadline: Instant::now() + Duration::from_secs(3600),
    });
    w.links[0].ack_ids.insert([b'A'; 24], 0);
    w.writing = Some((0, vec![held(2)]));
    w.recover();
    let order: Vec<(u8, bool, u32)> = w
      .pending
      .iter()
      .map(|h| (h.chunk.entries[0], h.retry, h.attempts))
      .collect();
    assert_eq!(order, vec![(1, true, 0), (2, true, 0), (3, false, 0)]);
    assert!(w.writing.is_none() && w.links[0].in_flight.is_empty() && w.links[0].ack_ids.is_empty());
  }
}
