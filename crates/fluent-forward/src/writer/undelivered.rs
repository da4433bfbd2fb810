//! Where records leave the writer without being delivered: rejected, offered to the failure handler
//! while every server is unavailable, or left when the writer stops (at the close or exit deadline).

use super::Writer;
use crate::breaker::BreakerState;
use crate::error::Error;
use crate::event::{Event, Reason};
use crate::queue::Chunk;
use crate::retry::Held;
use crate::shared::CloseReport;
use crate::stats::Counters;
use std::time::{Duration, Instant};

impl Writer {
  /// While every server's breaker is open, what is buffered is offered to the failure handler,
  /// once per opening (it may take it, or give it back to wait).
  pub(super) fn offer_if_unavailable(&mut self, candidates: &[usize], closing: bool) {
    if !candidates.is_empty() || closing || self.told_unavailable {
      return;
    }
    // Free slots and draining DNS members are not servers that failed: a fleet found through DNS
    // with no member yet (no answer so far) waits for one rather than declaring itself down.
    let members: Vec<_> = self.links.iter().filter(|l| !l.vacant && !l.draining).collect();
    let all_open = !members.is_empty() && members.iter().all(|l| l.breaker.state() == BreakerState::Open);
    if !all_open {
      return;
    }
    self.told_unavailable = true;
    let servers = members.len();
    self.shared.emit(Event::Error {
      error: Error::Unavailable { servers },
      records: 0,
      tag: None,
    });
    // With a spool, what is buffered waits on disk for a server to come back instead.
    if !self.shared.config.keep_undelivered || self.spool.is_some() {
      return;
    }
    let mut offered: Vec<Chunk> = self.pending.drain(..).map(|h| h.chunk).collect();
    offered.extend(self.parked.drain(..).map(|h| h.chunk));
    let mut q = self.shared.queue.lock();
    q.seal_older_than(Instant::now(), Duration::ZERO);
    while let Some(c) = q.take() {
      offered.push(c);
    }
    // Still held against the cap: they leave it only when the embedding takes them.
    let store = q.undelivered.as_mut().expect("keep_undelivered");
    for c in offered.into_iter().filter(|c| c.records() > 0) {
      store.keep_held(c, Reason::Unavailable, servers);
    }
    drop(q);
    self.shared.ring();
  }

  pub(super) fn reject(&mut self, mut held: Held) {
    // Given up on (or given to the handler, which decides): no longer needed on disk.
    self.unspool(&mut held);
    let chunk = held.chunk;
    let n = chunk.records() as u64;
    let tag = chunk.tag.clone();
    self.shared.emit(Event::Error {
      error: Error::Rejected { records: n },
      records: n,
      tag: Some(tag),
    });
    if self.shared.config.keep_undelivered {
      // To the failure handler, which decides where they end; held against the cap until taken.
      Counters::add(&self.shared.counters.rejected_offered, n);
      let mut q = self.shared.queue.lock();
      let store = q.undelivered.as_mut().expect("keep_undelivered");
      store.keep_held(chunk, Reason::Rejected, 0);
      drop(q);
      self.shared.ring();
    } else {
      Counters::add(&self.shared.counters.rejected, n);
      self.release(&chunk);
      self.recycle(chunk);
    }
  }

  /// Stops: whatever is still buffered is discarded and reported, and every waiter is answered.
  pub(super) async fn finish(&mut self) {
    for link in &mut self.links {
      if let Some(mut conn) = link.conn.take() {
        // Everything was written already; this only sends FIN, so keep it short.
        let _ = tokio::time::timeout(Duration::from_millis(200), conn.shutdown()).await;
      }
    }
    self.finish_now();
  }

  pub(super) fn finish_now(&mut self) {
    self.connects.abort_all();
    self.beats.abort_all();
    let mut held: Vec<Held> = Vec::new();
    for i in 0..self.links.len() {
      self.links[i].drop_connection(&self.shared.servers[i]);
      held.extend(self.take_unsettled(i));
    }
    self.update_connected();
    held.extend(self.writing.take().into_iter().flat_map(|(_, g)| g));
    held.extend(self.pending.drain(..));
    held.extend(self.parked.drain(..));
    let queued = {
      let mut q = self.shared.queue.lock();
      q.closed = true;
      q.take_all()
    };
    // With a spool what it holds stays on disk; the rest is left over as before.
    let leftover = self.spool_leftovers(held, queued);
    let (emitted, refused, dropped, kept) = {
      let q = self.shared.queue.lock();
      let kept = q.undelivered.as_ref().map_or(0, |u| u.records());
      (q.emitted, q.refused, self.shared.dropped(&q), kept)
    };
    let pending: u64 = leftover.iter().map(|c| c.records() as u64).sum();
    for c in &leftover {
      if c.records() > 0 {
        let error = Error::Undelivered {
          records: c.records() as u64,
        };
        self.shared.emit(Event::Error {
          error,
          records: c.records() as u64,
          tag: Some(c.tag.clone()),
        });
      }
    }
    let report = CloseReport {
      emitted,
      refused,
      sent: Counters::get(&self.shared.counters.sent),
      dropped,
      pending,
      rejected: Counters::get(&self.shared.counters.rejected),
      kept,
      replayed: Counters::get(&self.shared.counters.replayed),
      spooled: Counters::get(&self.shared.counters.spooled),
    };
    // With a failure handler the leftovers stay pending until the embedding takes them (and the
    // handler answers); without one they are dropped now.
    if !self.shared.config.keep_undelivered {
      Counters::add(&self.shared.counters.dropped, pending);
    }
    self.finished = true;
    // Final from here on: nothing is sent or lost any more.
    let lost = self.shared.lost();
    let settled = self.shared.settled();
    // One lock for both: `Client::flush` checks `report` and adds its waiter under this lock, so a
    // waiter is either drained here or sees the report and answers itself. Never neither. The
    // leftovers are in place before the report, so whoever sees the report can take them.
    let (waiters, callbacks) = {
      let mut c = self.shared.control.lock();
      if self.shared.config.keep_undelivered {
        c.leftovers = leftover.into_iter().filter(|c| c.records() > 0).collect();
      }
      c.report = Some(report);
      if c.close_deadline.is_none() {
        c.close_deadline = Some(Instant::now());
      }
      (std::mem::take(&mut c.waiters), std::mem::take(&mut c.close_done))
    };
    for w in waiters {
      let outcome = w.outcome(settled, lost);
      (w.done)(outcome);
    }
    self.shared.stopped.notify_all();
    for cb in callbacks {
      cb(report);
    }
  }
}
