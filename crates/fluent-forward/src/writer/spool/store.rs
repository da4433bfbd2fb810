//! Storing batches at seal (between steps, and while a write holds the writer) and evicting the
//! ones on disk from memory past the mark.

use super::*;

/// After an I/O error on append, batches stay in memory only this long before the disk is tried
/// again: a failing disk is not hammered once per batch.
const DISK_RETRY: Duration = Duration::from_secs(1);
/// Eviction starts when the buffer holds more than this share of `maxBufferBytes`, and frees down
/// to `EVICT_TO`: half the buffer stays free for bursts between two writer steps.
const EVICT_ABOVE: (usize, usize) = (3, 4);
const EVICT_TO: (usize, usize) = (1, 2);
/// How often batches are sealed and stored while a write holds the writer, at the least.
const STORE_WHILE_WRITING: Duration = Duration::from_millis(10);

impl Lane {
  /// Evicts the newest in-memory batches that are on disk, never the front (the next to go out),
  /// until the buffer holds at most `to` bytes. Under the queue lock, with the counts they move
  /// between.
  pub(super) fn evict(&mut self, q: &mut Queue, shared: &Shared, to: usize) {
    let on_disk = &figures(shared).on_disk_records;
    let keep = 2 * shared.config.batch_bytes;
    let kept = usize::from(self.backlog.front().is_some_and(Waiting::evictable));
    for i in (1..self.backlog.len()).rev() {
      if q.bytes + q.held_bytes <= to || self.evictable <= kept {
        return;
      }
      let Waiting::Memory(h) = &mut self.backlog[i] else {
        continue;
      };
      let Some(id) = h.spool.take() else {
        continue;
      };
      let w = Waiting::Disk {
        id,
        tag: h.chunk.tag.clone(),
        records: h.chunk.records(),
        footprint: h.chunk.footprint(),
      };
      let Waiting::Memory(h) = std::mem::replace(&mut self.backlog[i], w) else {
        unreachable!("matched above")
      };
      self.evictable -= 1;
      q.release(&h.chunk);
      on_disk.fetch_add(h.chunk.records() as u64, Relaxed);
      figures(shared).evicted.fetch_add(1, Relaxed);
      q.recycle(h.chunk, keep);
    }
  }
}

/// Moves every sealed batch from the queue to the backlog, stored on the way, and evicts past the
/// mark. Also runs while a write holds the writer (`store_while_writing`).
pub(super) fn store_sealed(lane: &mut Lane, shared: &Shared, now: Instant) {
  loop {
    // Its own statement: the queue lock must not be held across the disk write below (a
    // `while let` scrutinee's guard lives through the loop body, and the producers wait on it).
    let Some(chunk) = shared.queue.lock().take() else {
      break;
    };
    let Some(mut held) = crate::writer::choose::vetted(shared, chunk) else {
      continue;
    };
    store_batch(lane, shared, &mut held, now);
    lane.push(Waiting::Memory(held));
  }
  let max = shared.config.max_buffer_bytes;
  let mut q = shared.queue.lock();
  if q.bytes + q.held_bytes > max / EVICT_ABOVE.1 * EVICT_ABOVE.0 {
    lane.evict(&mut q, shared, max / EVICT_TO.1 * EVICT_TO.0);
  }
}

/// While a write is under way (a server that reads slowly holds it for up to `writeTimeoutMs`),
/// batches keep being sealed and stored as between steps: a record reaches the disk within about
/// `flushIntervalMs` whatever the servers do (what a SIGKILL of the app may not lose). Never
/// returns; dropped when the write ends.
pub(in crate::writer) async fn store_while_writing(lane: Option<&mut Lane>, shared: &Shared) {
  let Some(lane) = lane else {
    return std::future::pending().await;
  };
  let every = shared.config.flush_interval.max(STORE_WHILE_WRITING);
  loop {
    tokio::time::sleep(every).await;
    let now = Instant::now();
    shared
      .queue
      .lock()
      .seal_older_than(now, shared.config.flush_interval);
    store_sealed(lane, shared, now);
  }
}

/// Appends a batch to the spool; one the spool refuses stays in memory only, counted.
pub(super) fn store_batch(lane: &mut Lane, shared: &Shared, held: &mut Held, now: Instant) -> bool {
  let fig = figures(shared);
  if lane.disk_retry_at.is_some_and(|t| now < t) {
    fig.not_spooled.fetch_add(1, Relaxed);
    return false;
  }
  match lane.spool.append(BatchRef::from(&held.chunk)) {
    Ok(id) => {
      held.spool = Some(id);
      fig
        .appended_records
        .fetch_add(held.chunk.records() as u64, Relaxed);
      // A full spool's episode ends once settling has freed half of it, not at the first small
      // batch that squeezes in (which would report it again at the next large one).
      let still_full = lane.failing == Some("SPOOL_FULL") && 2 * lane.spool.stats().bytes > lane.max_bytes;
      if !still_full && lane.failing.take().is_some() {
        fig.memory_only.store(false, Relaxed);
      }
      true
    }
    Err(e) => {
      fig.not_spooled.fetch_add(1, Relaxed);
      if matches!(e, SpoolError::Io { .. }) {
        lane.disk_retry_at = Some(now + DISK_RETRY);
      }
      report_failure(shared, lane, e);
      false
    }
  }
}
