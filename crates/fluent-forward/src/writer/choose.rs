//! Which batch goes out next, and to which server: the retry order between new, requeued and
//! parked batches (`retry::choose`), the servers that may take traffic (breakers, standbys), the
//! weighted pick, fresh batches joining one write, and vetting a batch taken from the queue.

use super::Writer;
use crate::config::Heartbeat;
use crate::error::Error;
use crate::event::Event;
use crate::fleet::eligible;
use crate::queue::Chunk;
use crate::retry::{self, Held, Source};
use crate::shared::Shared;
use crate::stats::Counters;
use std::time::Instant;

impl Writer {
  pub(super) fn next_source(&self, has_sealed: bool) -> Option<Source> {
    retry::choose(
      !self.pending.is_empty(),
      !self.parked.is_empty(),
      has_sealed,
      self.parked_turn,
    )
  }

  pub(super) fn next_is_suspect(&self, next: Option<Source>) -> bool {
    match next {
      Some(Source::Pending) => self.pending.front().is_some_and(Held::is_suspect),
      Some(Source::Parked) => self.parked.front().is_some_and(Held::is_suspect),
      _ => false,
    }
  }

  /// The servers that may take traffic now: available regular servers, else available standbys.
  pub(super) fn candidates(&mut self, now: Instant) -> Vec<usize> {
    let beats = self.heartbeat != Heartbeat::None;
    let mut available = Vec::with_capacity(self.links.len());
    for i in 0..self.links.len() {
      let (ok, change) = self.links[i].available(now, beats);
      if let Some(state) = change {
        self.breaker_changed(i, state);
      }
      available.push(ok);
    }
    let standby: Vec<bool> = self.links.iter().map(|l| l.server.standby).collect();
    eligible(&available, &standby)
  }

  /// The server for the next batch: weighted round robin over the candidates that can write now
  /// (returned too, with their weights, for the batches that may join the write).
  pub(super) fn pick_ready(
    &mut self,
    candidates: &[usize],
    next: Option<Source>,
  ) -> Option<(usize, Vec<(usize, u32)>)> {
    let suspect = self.next_is_suspect(next);
    let cfg = &self.shared.config;
    let ready: Vec<(usize, u32)> = candidates
      .iter()
      .filter(|&&i| self.links[i].window_open(cfg, suspect))
      .map(|&i| (i, self.links[i].server.weight))
      .collect();
    let i = self.picker.pick(&ready)?;
    Some((i, ready))
  }

  /// Taking a batch from the queue counts it as held there, under the queue lock (`Queue::take`), so
  /// the cap covers it; `release` gives it back.
  pub(super) fn next_chunk(&mut self, has_sealed: bool) -> Option<Held> {
    match self.next_source(has_sealed)? {
      Source::Pending => self.pending.pop_front(),
      Source::Parked => {
        self.parked_turn = false;
        self.parked.pop_front()
      }
      Source::Queue => {
        let held = self.take_fresh()?;
        self.parked_turn = true;
        Some(held)
      }
    }
  }

  /// A sealed batch from the queue, vetted.
  pub(super) fn take_fresh(&mut self) -> Option<Held> {
    if self.spool.is_some() {
      return self.take_spooled();
    }
    let chunk = self.shared.queue.lock().take()?;
    self.vetted(chunk)
  }

  /// A batch just taken from the queue, vetted; `None` if nothing in it was valid.
  pub(super) fn vetted(&mut self, chunk: Chunk) -> Option<Held> {
    vetted(&self.shared, chunk)
  }

  /// One more fresh batch for the write going to server `i`, which holds `grouped` batches framed
  /// into `framed` bytes, if one may join it. Only new batches from the queue (a retry goes alone, so that a
  /// failure is blamed on it), only while the write stays under `batch_bytes`, the ack window has
  /// room for it, and the weighted round robin would give the next batch to `i` anyway (the turn
  /// is taken then): many tags mean many small batches, and one write for each cost a syscall per
  /// handful of records (bench/scale.ts, 10,000 tags).
  pub(super) fn joining(
    &mut self,
    i: usize,
    grouped: usize,
    framed: usize,
    ready: &[(usize, u32)],
  ) -> Option<Held> {
    let cfg = &self.shared.config;
    let link = &self.links[i];
    if framed >= cfg.batch_bytes || !self.pending.is_empty() || !self.parked.is_empty() {
      return None;
    }
    if !link.keepalive || (cfg.require_ack && link.in_flight.len() + grouped >= cfg.max_in_flight) {
      return None;
    }
    if self.spool.is_some() {
      return (self.has_ready() && self.picker.pick_if(ready, i)).then(|| self.take_spooled())?;
    }
    // The turn is taken only for a batch that is there, under the same lock as the take.
    let chunk = {
      let mut q = self.shared.queue.lock();
      if !q.has_sealed() || !self.picker.pick_if(ready, i) {
        return None;
      }
      q.take()?
    };
    self.vetted(chunk)
  }
}

/// A batch just taken from the queue, vetted; `None` if nothing in it was valid. A free function:
/// the spool also stores batches while a write holds the writer (`spool::store_while_writing`).
pub(super) fn vetted(shared: &Shared, mut chunk: Chunk) -> Option<Held> {
  vet(shared, &mut chunk);
  if chunk.records() == 0 {
    // Nothing valid was left to send (the held bytes were released by `vet`).
    shared.queue.lock().recycle(chunk, 2 * shared.config.batch_bytes);
    return None;
  }
  Some(Held::new(chunk))
}

/// Drops the entries of a freshly taken batch that are not valid records (see `vet`): counted as
/// dropped, released from the cap and reported, so the rest of the batch still goes out.
fn vet(shared: &Shared, chunk: &mut Chunk) {
  let (records, bytes) = crate::vet::vet(chunk);
  if records == 0 {
    return;
  }
  shared.queue.lock().release_part(bytes, records);
  Counters::add(&shared.counters.dropped, records as u64);
  shared.emit(Event::Error {
    error: Error::Internal(format!(
      "{records} record(s) were not valid msgpack and were dropped before sending (an encoder bug: please report it)"
    )),
    records: records as u64,
    tag: Some(chunk.tag.clone()),
  });
}
