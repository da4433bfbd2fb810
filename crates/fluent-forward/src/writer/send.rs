//! Writing: frames the chosen batch (and any joining it) into one write, runs it against the
//! close deadline, and settles what was written (without acks) or puts it in flight; settling a
//! sent batch releases it from the cap and pools its buffer.

use super::waiters::watch_deadlines;
use super::Writer;
use crate::error::Error;
use crate::event::Event;
use crate::queue::Chunk;
use crate::retry::Held;
use crate::stats::Counters;
use crate::transport::{classify_io, WriteError};
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

impl Writer {
  /// Writes the next batch to server `i`, with any fresh batches that may join it (`joining`),
  /// in one write; then settles them (without acks) or puts them in flight.
  pub(super) async fn send(&mut self, i: usize, has_sealed: bool, ready: &[(usize, u32)]) {
    let Some(mut held) = self.next_chunk(has_sealed) else {
      return;
    };
    // A batch that failed before goes alone (see `joining`).
    let fresh = !held.retry && !held.unacked && held.attempts == 0;
    if std::mem::take(&mut held.retry) {
      Counters::add(&self.shared.counters.retries, 1);
    }
    if std::mem::take(&mut held.unacked) {
      Counters::add(&self.shared.counters.duplicates, held.chunk.records() as u64);
    }
    let mut ids = vec![self.framer.frame(&self.shared.config, &held.chunk)];
    self.writing = Some((i, vec![held]));
    if fresh {
      while let Some(more) = self.joining(i, ids.len(), self.framer.wbuf.len(), ready) {
        ids.push(self.framer.append(&self.shared.config, &more.chunk));
        if let Some((_, group)) = self.writing.as_mut() {
          group.push(more);
        }
      }
    }
    let idle = self.shared.config.write_timeout;
    let conn = self.links[i].conn.as_mut().expect("send needs a connection");
    let mut written = 0;
    let result = tokio::select! {
      r = conn.write_with_progress(&self.framer.wbuf, idle, &mut written) => r,
      _ = super::spool::store_while_writing(self.spool.as_mut(), &self.shared) => unreachable!("never returns"),
      _ = watch_deadlines(&self.shared) => {
        // Close deadline: the request may be half written, so the connection cannot be reused.
        // Our own deadline, not the server's doing: no attempt is counted.
        let (_, group) = self.writing.take().expect("set above");
        for mut held in group.into_iter().rev() {
          held.retry = true;
          self.pending.push_front(held);
        }
        self.links[i].drop_connection(&self.shared.servers[i]);
        self.update_connected();
        return;
      }
    };
    match result {
      Ok(()) => {
        let (_, group) = self.writing.take().expect("set above");
        let n = group.len() as u64;
        self.links[i].conn_requests += n;
        Counters::add(&self.shared.counters.bytes_sent, self.framer.wbuf.len() as u64);
        Counters::add(&self.shared.counters.batches_sent, n);
        Counters::add(&self.shared.servers[i].batches, n);
        for (held, ids) in group.into_iter().zip(ids) {
          if self.shared.config.require_ack {
            self.links[i].wrote(held, &ids, self.shared.config.ack_timeout);
          } else if let Some(held) = self.links[i].probation.written(held, Instant::now()) {
            // Without acks a batch the kernel took is sent (once a fresh connection has proven
            // itself: `probation.rs`): the client cannot know whether the server rejected it, so
            // only failed writes count as attempts.
            self.settle_sent(i, held);
          }
        }
        if self.shared.config.require_ack {
          self.update_in_flight(i);
        }
      }
      Err(WriteError::Io(e)) => {
        let why = classify_io(e, self.links[i].is_tls());
        self.fail_link(i, why, Instant::now())
      }
      Err(WriteError::Stalled) => self.fail_link(i, Error::Timeout("write"), Instant::now()),
    }
    self.framer.trim(self.shared.config.batch_bytes);
  }

  pub(super) fn update_in_flight(&self, i: usize) {
    self.shared.servers[i]
      .in_flight
      .store(self.links[i].in_flight.len(), Relaxed);
    let total = self.links.iter().map(|l| l.in_flight.len()).sum();
    self.shared.in_flight.store(total, Relaxed);
  }

  pub(super) fn update_connected(&self) {
    let any = self.links.iter().any(|l| l.conn.is_some());
    self.shared.connected.store(any, Relaxed);
  }

  /// A held batch leaves the writer (sent, rejected or discarded): the cap no longer counts it.
  pub(super) fn release(&self, chunk: &Chunk) {
    self.shared.queue.lock().release(chunk);
  }

  pub(super) fn settle_sent(&mut self, i: usize, mut held: Held) {
    self.unspool(&mut held);
    let chunk = held.chunk;
    let n = chunk.records() as u64;
    Counters::add(&self.shared.counters.sent, n);
    Counters::add(&self.shared.servers[i].sent, n);
    self.health += 1;
    let link = &mut self.links[i];
    link.conn_settled += 1;
    link.breaker.on_settled();
    link.backoff.reset();
    if self.shared.delivery_reports.load(Relaxed) {
      self.shared.emit(Event::Delivered {
        tag: chunk.tag.clone(),
        entries: chunk.entries.clone(),
        records: n,
        server: i,
        address: self.links[i].address.clone(),
        acked: self.shared.config.require_ack,
      });
    }
    // Released from the cap and pooled under one lock: with many tags this runs per handful of
    // records, and the JS thread takes the same lock for every handover.
    let keep = self.pooled_capacity();
    let mut q = self.shared.queue.lock();
    q.release(&chunk);
    q.recycle(chunk, keep);
  }

  pub(super) fn recycle(&self, chunk: Chunk) {
    let keep = self.pooled_capacity();
    self.shared.queue.lock().recycle(chunk, keep);
  }

  /// The largest batch buffer worth pooling for reuse: one that grew for a large record goes.
  pub(super) fn pooled_capacity(&self) -> usize {
    2 * self.shared.config.batch_bytes
  }
}
