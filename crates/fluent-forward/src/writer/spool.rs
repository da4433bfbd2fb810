//! The writer's half of the durable spool (`spool` option, issue 27; the storage engine is
//! `crate::spool`). With a spool the memory buffer becomes a cache in front of the disk:
//!
//! - **Store at seal.** Every sealed batch is taken from the queue at once (whether or not a server
//!   can take it), appended to the spool, and waits in the `backlog` for its first send. It keeps
//!   its `SpoolId` in `Held::spool` wherever it goes (in flight, requeued, parked) and is settled
//!   when it leaves: acked (written, without acks), rejected, given to the failure handler.
//! - **Evict and read back.** Waiting batches count against `maxBufferBytes` like any held batch.
//!   When the buffer passes `EVICT_ABOVE` of the cap, the newest waiting batches that are on disk
//!   are let go of in memory (their bytes leave the cap: emits keep being accepted) and read back
//!   when their turn comes, under the same cap. Memory stays within the cap (plus one leftover
//!   batch read ahead, `stash`); the disk within `spool.maxBytes`, where the overflow policy
//!   takes over again (a batch the spool refuses stays in memory only).
//! - **Replay first.** Leftovers of this slot and of adopted dead slots are read one batch at a time
//!   and sent before any batch of this client, oldest first, through the same send path (cap,
//!   acks, breaker, fleet). New batches are accepted meanwhile and wait, in memory then on disk.
//! - **Close.** What is still unsent when the writer stops stays on disk (counted as `spooled`),
//!   batches not yet on disk are appended then; only what the spool refuses takes the old path.
//!
//! The batch ready to go next (`ready`) is prepared in `spool_step`, never in `send`: a batch that
//! cannot be read back yet (no room) must leave the writer waiting for an ack or an emit, not
//! spinning through a step that sends nothing.

use super::Writer;
use crate::config::SpoolConfig;
use crate::error::Error;
use crate::event::Event;
use crate::queue::{Chunk, Queue, INDEX_BYTES};
use crate::retry::{self, Held, Verdict};
use crate::shared::Shared;
use crate::spool::{Batch, BatchRef, Leftovers, Replayed, Slot, Spool, SpoolError, SpoolId, SpoolOptions};
use crate::spool_view::SpoolShared;
use crate::stats::Counters;
use std::collections::{HashSet, VecDeque};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often the spool looks for slots of dead processes to adopt (a cluster worker or PM2 process
/// that died and was not replaced; one that is replaced takes its slot back at once). A look is a
/// directory listing and a try-lock per free slot, so 10 s bounds how long such leftovers wait
/// for a negligible cost.
const ADOPT_EVERY: Duration = Duration::from_secs(10);
/// After an I/O error on append, batches stay in memory only this long before the disk is tried
/// again: a failing disk is not hammered once per batch.
const DISK_RETRY: Duration = Duration::from_secs(1);
/// Eviction starts when the buffer holds more than this share of `maxBufferBytes`, and frees down
/// to `EVICT_TO`: half the buffer stays free for bursts between two writer steps.
const EVICT_ABOVE: (usize, usize) = (3, 4);
const EVICT_TO: (usize, usize) = (1, 2);
/// The engine's segment size: 8 MiB files (capped at an eighth of `maxBytes` by the engine).
const SEGMENT_BYTES: u64 = 8 << 20;
/// How often batches are sealed and stored while a write holds the writer, at the least.
const STORE_WHILE_WRITING: Duration = Duration::from_millis(10);

/// What opening the spool gave, for the writer thread.
pub enum SpoolStart {
  Opened(Box<Spool>, Leftovers),
  /// The directory could not be used (read-only, full, I/O): the client runs memory only.
  Failed(SpoolError),
}

impl SpoolStart {
  /// What `stats()` shows from the constructor on (not only once the writer thread has started):
  /// the slot held, or memory-only.
  pub fn publish(&self, shared: &Shared) {
    let Some(fig) = shared.spool.as_ref() else { return };
    match self {
      SpoolStart::Opened(spool, _) => *fig.slot.lock() = spool.slot_dir().display().to_string(),
      SpoolStart::Failed(_) => fig.memory_only.store(true, Relaxed),
    }
  }
}

/// Opens the spool on the constructing thread, so that a slot held by another process is an error
/// of the constructor. A directory that cannot be used is not: the client then runs memory only.
pub fn open_spool(cfg: &SpoolConfig) -> Result<SpoolStart, Error> {
  let opts = SpoolOptions {
    dir: cfg.dir.clone(),
    max_bytes: cfg.max_bytes,
    sync_interval: cfg.sync_interval,
    segment_bytes: SEGMENT_BYTES,
    slot: cfg.slot.clone().map_or(Slot::Auto, Slot::Named),
  };
  match Spool::open(opts) {
    Ok((spool, left)) => Ok(SpoolStart::Opened(Box::new(spool), left)),
    Err(e @ SpoolError::Locked { .. }) => Err(Error::Spool(e)),
    Err(SpoolError::Invalid(why)) => Err(Error::Config(format!("spool.slot: {why}"))),
    Err(e) => Ok(SpoolStart::Failed(e)),
  }
}

/// A batch waiting for its first send.
enum Waiting {
  Memory(Held),
  /// Let go of in memory; its records are pending (`SpoolShared::on_disk_records`).
  Disk {
    id: SpoolId,
    tag: Arc<str>,
    records: usize,
    footprint: usize,
  },
}

pub struct Lane {
  spool: Spool,
  max_bytes: u64,
  backlog: VecDeque<Waiting>,
  /// Backlog batches in memory that are on disk (could be evicted): the eviction scan stops when
  /// none is left instead of walking a backlog of thousands of evicted ones.
  evictable: usize,
  /// Leftovers may still yield batches (`replay_next` has not said `None` since the last adoption).
  replaying: bool,
  /// A leftover batch read ahead that did not fit the cap yet (outside the cap; at most one).
  stash: Option<(SpoolId, Batch)>,
  /// The next fresh batch, in memory and counted against the cap.
  ready: Option<Held>,
  next_adopt: Instant,
  disk_retry_at: Option<Instant>,
  /// The code of the append failure being reported: one error event per episode, not per batch.
  failing: Option<&'static str>,
  /// Adoption errors already reported (a slot that cannot be adopted is tried every `ADOPT_EVERY`).
  told: HashSet<String>,
}

fn footprint(entries: usize, records: usize) -> usize {
  entries + INDEX_BYTES * records
}

fn figures(shared: &Shared) -> &SpoolShared {
  shared
    .spool
    .as_ref()
    .expect("a writer with a spool lane has spool figures")
}

/// Room for `bytes` more under the cap; a batch larger than the whole cap (stored by a process
/// with larger batches) fits once the writer holds nothing else.
fn fits(q: &Queue, max: usize, bytes: usize) -> bool {
  q.bytes + q.held_bytes + bytes <= max || q.held_bytes == 0
}

impl Waiting {
  fn evictable(&self) -> bool {
    matches!(self, Waiting::Memory(h) if h.spool.is_some())
  }
}

impl Lane {
  fn push(&mut self, w: Waiting) {
    self.evictable += usize::from(w.evictable());
    self.backlog.push_back(w);
  }

  fn pop(&mut self) -> Option<Waiting> {
    let w = self.backlog.pop_front()?;
    self.evictable -= usize::from(w.evictable());
    Some(w)
  }

  /// Evicts the newest in-memory batches that are on disk (never the front when `keep_front`),
  /// until `done` says enough. Under the queue lock, with the counts they move between.
  fn evict(&mut self, q: &mut Queue, shared: &Shared, keep_front: bool, done: impl Fn(&Queue) -> bool) {
    let on_disk = &figures(shared).on_disk_records;
    let keep = 2 * shared.config.batch_bytes;
    let first = usize::from(keep_front);
    let kept = usize::from(keep_front && self.backlog.front().is_some_and(Waiting::evictable));
    for i in (first..self.backlog.len()).rev() {
      if done(q) || self.evictable <= kept {
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

impl Writer {
  /// Takes the opened spool (or reports why there is none) at the writer's start.
  pub(super) fn attach_spool(&mut self, start: Option<SpoolStart>) {
    let Some(start) = start else { return };
    let fig = figures(&self.shared);
    match start {
      SpoolStart::Failed(e) => {
        self.shared.emit(Event::Error {
          error: Error::Spool(e),
          records: 0,
          tag: None,
        });
      }
      SpoolStart::Opened(spool, left) => {
        let mut lane = Lane {
          spool: *spool,
          max_bytes: self
            .shared
            .config
            .spool
            .as_ref()
            .map_or(u64::MAX, |s| s.max_bytes),
          backlog: VecDeque::new(),
          evictable: 0,
          replaying: true,
          stash: None,
          ready: None,
          next_adopt: Instant::now() + ADOPT_EVERY,
          disk_retry_at: None,
          failing: None,
          told: HashSet::new(),
        };
        report_adopt_errors(&self.shared, &mut lane, left);
        *fig.engine.lock() = lane.spool.stats();
        self.spool = Some(lane);
      }
    }
  }

  /// Once a step, after sealing: stores every sealed batch, evicts past the mark, syncs and adopts
  /// when due, and prepares the next fresh batch. Returns whether one is ready to send (what
  /// `has_sealed` means without a spool).
  pub(super) fn spool_step(&mut self, now: Instant, closing: bool, has_sealed: bool) -> bool {
    if self.spool.is_none() {
      return has_sealed;
    }
    let shared = self.shared.clone();
    let lane = self.spool.as_mut().expect("checked");
    store_sealed(lane, &shared, now);
    if let Err(e) = lane.spool.sync_if_due(now) {
      report_failure(&shared, lane, e);
    }
    if !closing && now >= lane.next_adopt {
      lane.next_adopt = now + ADOPT_EVERY;
      let found = lane.spool.adopt_orphans();
      lane.replaying |= found.files > 0;
      report_adopt_errors(&shared, lane, found);
    }
    self.prepare_ready();
    let lane = self.spool.as_mut().expect("checked");
    *figures(&shared).engine.lock() = lane.spool.stats();
    lane.ready.is_some()
  }

  /// Stores `held` if the writer has a spool (see `store`).
  fn store(&mut self, held: &mut Held, now: Instant) -> bool {
    match self.spool.as_mut() {
      Some(lane) => store(lane, &self.shared, held, now),
      None => false,
    }
  }

  /// Fills `ready`: a leftover batch while replay lasts, else the backlog's front (read back from
  /// disk if it was evicted), each only once it fits the cap.
  fn prepare_ready(&mut self) {
    let shared = self.shared.clone();
    let lane = self.spool.as_mut().expect("called with a lane");
    if lane.ready.is_some() {
      return;
    }
    let max = shared.config.max_buffer_bytes;
    while lane.replaying && lane.stash.is_none() {
      match lane.spool.replay_next() {
        None => lane.replaying = false,
        Some(Replayed::Batch(id, batch)) => lane.stash = Some((id, batch)),
        Some(Replayed::Damaged(d)) => {
          let error = SpoolError::Corrupt {
            file: d.file,
            offset: d.offset,
            why: d.kind.as_str(),
          };
          shared.emit(Event::Error {
            error: Error::Spool(error),
            records: 0,
            tag: None,
          });
        }
      }
    }
    if let Some((_, batch)) = &lane.stash {
      let need = footprint(batch.entries.len(), batch.records());
      let mut q = shared.queue.lock();
      lane.evict(&mut q, &shared, false, |q| fits(q, max, need));
      if !fits(&q, max, need) {
        return;
      }
      let (id, batch) = lane.stash.take().expect("checked");
      let n = batch.records();
      q.held_bytes += need;
      q.held_records += n;
      Counters::add(&shared.counters.replayed, n as u64);
      drop(q);
      let mut held = Held::new(chunk_of(batch));
      held.spool = Some(id);
      held.replayed = true;
      lane.ready = Some(held);
      return;
    }
    if lane.replaying {
      return;
    }
    // A batch whose read fails is lost (reported): the next one is tried at once.
    loop {
      match lane.backlog.front() {
        None => return,
        Some(Waiting::Memory(_)) => {
          let Some(Waiting::Memory(h)) = lane.pop() else {
            unreachable!("matched above")
          };
          lane.ready = Some(h);
          return;
        }
        Some(&Waiting::Disk {
          records, footprint, ..
        }) => {
          let mut q = shared.queue.lock();
          lane.evict(&mut q, &shared, true, |q| fits(q, max, footprint));
          if !fits(&q, max, footprint) {
            return;
          }
          let Some(Waiting::Disk { id, tag, .. }) = lane.pop() else {
            unreachable!("matched above")
          };
          let on_disk = &figures(&shared).on_disk_records;
          match lane.spool.read(&id) {
            Ok(batch) => {
              q.held_bytes += footprint;
              q.held_records += records;
              on_disk.fetch_sub(records as u64, Relaxed);
              drop(q);
              let mut held = Held::new(chunk_of(batch));
              held.spool = Some(id);
              lane.ready = Some(held);
              return;
            }
            Err(e) => {
              // Its only copy is gone (the file was removed or damaged under us): lost, counted
              // as dropped and reported with the file.
              on_disk.fetch_sub(records as u64, Relaxed);
              Counters::add(&shared.counters.dropped, records as u64);
              drop(q);
              lane.spool.settle(id);
              shared.emit(Event::Error {
                error: Error::Spool(e),
                records: records as u64,
                tag: Some(tag),
              });
            }
          }
        }
      }
    }
  }

  /// The next fresh batch with a spool (`take_fresh` without one).
  pub(super) fn take_spooled(&mut self) -> Option<Held> {
    let lane = self.spool.as_mut()?;
    let held = lane.ready.take();
    // The next one may already be in memory: a group write (`joining`) takes several at once.
    if held.is_some() && !lane.replaying {
      if let Some(Waiting::Memory(_)) = lane.backlog.front() {
        let Some(Waiting::Memory(h)) = lane.pop() else {
          unreachable!("matched above")
        };
        lane.ready = Some(h);
      }
    }
    held
  }

  pub(super) fn has_ready(&self) -> bool {
    self.spool.as_ref().is_some_and(|l| l.ready.is_some())
  }

  /// Nothing waits in the spool lane: no backlog, no leftovers left to replay.
  pub(super) fn spool_idle(&self) -> bool {
    self
      .spool
      .as_ref()
      .is_none_or(|l| l.backlog.is_empty() && l.ready.is_none() && l.stash.is_none() && !l.replaying)
  }

  /// When the writer must wake for the spool: its next sync, its next look for orphans.
  pub(super) fn spool_wake_at(&self) -> Option<Instant> {
    let lane = self.spool.as_ref()?;
    Some(match lane.spool.next_sync_at() {
      Some(t) => t.min(lane.next_adopt),
      None => lane.next_adopt,
    })
  }

  /// A held batch leaves the writer for good (delivered, rejected, given to the handler): it is
  /// no longer needed on disk.
  pub(super) fn unspool(&mut self, held: &mut Held) {
    if held.replayed {
      Counters::add(&self.shared.counters.replay_settled, held.chunk.records() as u64);
    }
    if let (Some(id), Some(lane)) = (held.spool.take(), self.spool.as_mut()) {
      lane.spool.settle(id);
    }
  }

  /// `retry::on_failure`, keeping the spool right: a split batch's halves are stored as batches of
  /// their own and the whole is settled (a `SpoolId` names one stored batch).
  pub(super) fn judge_failure(&mut self, mut h: Held, max: u32, health: u64) -> Verdict {
    let id = h.spool.take();
    let replayed = h.replayed;
    match retry::on_failure(h, max, health) {
      Verdict::Split(mut a, mut b) => {
        let now = Instant::now();
        a.replayed = replayed;
        b.replayed = replayed;
        if id.is_some() {
          self.store(&mut a, now);
          self.store(&mut b, now);
        }
        if let (Some(id), Some(lane)) = (id, self.spool.as_mut()) {
          lane.spool.settle(id);
        }
        Verdict::Split(a, b)
      }
      Verdict::Front(mut h) => {
        h.spool = id;
        Verdict::Front(h)
      }
      Verdict::Park(mut h) => {
        h.spool = id;
        Verdict::Park(h)
      }
      Verdict::Reject(mut h) => {
        h.spool = id;
        Verdict::Reject(h)
      }
    }
  }

  /// At the stop: every batch still held that is on disk stays there (`spooled`); the others are
  /// stored now if the spool takes them. Returns what is left for the old path (failure handler,
  /// or dropped). Then the spool is closed (ledger written, slot released) before the report goes
  /// out, so a process that opens the dir after `close()` resolves finds everything.
  pub(super) fn spool_leftovers(&mut self, held: Vec<Held>, queued: Vec<Chunk>) -> Vec<Chunk> {
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

/// Moves every sealed batch from the queue to the backlog, stored on the way, and evicts past the
/// mark. Also runs while a write holds the writer (`store_while_writing`).
fn store_sealed(lane: &mut Lane, shared: &Shared, now: Instant) {
  while let Some(chunk) = shared.queue.lock().take() {
    let Some(mut held) = super::choose::vetted(shared, chunk) else {
      continue;
    };
    store(lane, shared, &mut held, now);
    lane.push(Waiting::Memory(held));
  }
  let max = shared.config.max_buffer_bytes;
  let mut q = shared.queue.lock();
  if q.bytes + q.held_bytes > max / EVICT_ABOVE.1 * EVICT_ABOVE.0 {
    let to = max / EVICT_TO.1 * EVICT_TO.0;
    lane.evict(&mut q, shared, true, |q| q.bytes + q.held_bytes <= to);
  }
}

/// While a write is under way (a server that reads slowly holds it for up to `writeTimeoutMs`),
/// batches keep being sealed and stored as between steps: a record reaches the disk within about
/// `flushIntervalMs` whatever the servers do (what a SIGKILL of the app may not lose). Never
/// returns; dropped when the write ends.
pub(super) async fn store_while_writing(lane: Option<&mut Lane>, shared: &Shared) {
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
fn store(lane: &mut Lane, shared: &Shared, held: &mut Held, now: Instant) -> bool {
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

/// A batch read back from disk, as the writer holds batches.
fn chunk_of(batch: Batch) -> Chunk {
  Chunk {
    tag: Arc::from(batch.tag),
    // Not a tag of this client's table: nothing in the writer looks the id up, and the pool
    // gives a recycled buffer its tag again when it reuses it.
    tag_id: u32::MAX,
    entries: batch.entries,
    offsets: batch.offsets,
    since: Instant::now(),
  }
}

/// An append or sync failure: once per episode (per code), and the state says memory only while
/// the spool refuses batches for want of room or a working disk.
fn report_failure(shared: &Shared, lane: &mut Lane, e: SpoolError) {
  let fig = figures(shared);
  if matches!(e, SpoolError::Full { .. } | SpoolError::Io { .. }) {
    fig.memory_only.store(true, Relaxed);
  }
  // A vanished segment is an event of its own each time; the rest once per episode.
  if !matches!(e, SpoolError::Vanished { .. }) {
    if lane.failing == Some(e.code()) {
      return;
    }
    lane.failing = Some(e.code());
  }
  shared.emit(Event::Error {
    error: Error::Spool(e),
    records: 0,
    tag: None,
  });
}

fn report_adopt_errors(shared: &Shared, lane: &mut Lane, found: Leftovers) {
  for e in found.adopt_errors {
    if lane.told.insert(e.to_string()) {
      shared.emit(Event::Error {
        error: Error::Spool(e),
        records: 0,
        tag: None,
      });
    }
  }
}
