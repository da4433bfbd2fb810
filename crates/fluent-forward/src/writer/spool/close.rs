//! At the stop: what is unsent stays on disk, and the spool is closed before the report.

use super::*;

impl Writer {
  /// At the stop: every batch still held that is on disk stays there (`spooled`); the others are
  /// stored now if the spool takes them. Returns what is left for the old path (failure handler,
  /// or dropped). Then the spool is closed (ledger written, slot released) before the report goes
  /// out, so a process that opens the dir after `close()` resolves finds everything.
  pub(in crate::writer) fn spool_leftovers(&mut self, held: Vec<Held>, queued: Vec<Chunk>) -> Vec<Chunk> {
    let Some(mut lane) = self.spool.take() else {
      let mut out: Vec<Chunk> = held.into_iter().map(|h| h.chunk).collect();
      for c in &out {
        self.release(c);
      }
      out.extend(queued);
      return out;
    };
    let shared = self.shared.clone();
    let fig = figures(&shared);
    let mut all: Vec<Held> = held;
    all.extend(lane.ready.take());
    let mut spooled = 0u64;
    // A leftover batch read ahead and not sent yet: this process read it, so it enters the
    // accounting as replayed, and it stays on disk, as spooled. Leftover files not read yet stay
    // outside the accounting (`stats().spool.unreadFiles`): their records were never this
    // process's to count, and the next process replays them with the rest.
    if let Some((_, batch)) = lane.stash.take() {
      let n = batch.records() as u64;
      Counters::add(&shared.counters.replayed, n);
      spooled += n;
    }
    for w in lane.backlog.drain(..) {
      match w {
        Waiting::Memory(h) => all.push(h),
        Waiting::Disk { records, .. } => {
          // Under the lock, with `pending`: the records move from it to `spooled` at once.
          let _q = shared.queue.lock();
          fig.on_disk_records.fetch_sub(records as u64, Relaxed);
          spooled += records as u64;
        }
      }
    }
    // Held batches leave the cap now; queued ones already have (`take_all`).
    for h in &all {
      self.release(&h.chunk);
    }
    self.spool = Some(lane);
    let now = Instant::now();
    let mut rest = Vec::new();
    let queued = queued.into_iter().map(Held::new);
    for mut h in all.into_iter().chain(queued) {
      if h.chunk.records() == 0 {
        continue;
      }
      if h.spool.is_some() || self.store(&mut h, now) {
        spooled += h.chunk.records() as u64;
      } else {
        rest.push(h.chunk);
      }
    }
    Counters::add(&shared.counters.spooled, spooled);
    let lane = self.spool.take().expect("put back above");
    *fig.engine.lock() = lane.spool.stats();
    if let Err(e) = lane.spool.close() {
      shared.emit(Event::Error {
        error: Error::Spool(e),
        records: 0,
        tag: None,
      });
    }
    rest
  }
}
