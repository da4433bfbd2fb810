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
//!   when their turn comes, into the read window: a quarter of the cap beside it, never the cap
//!   itself, since the JS side promises room under the cap to `emit` without asking (an `emit`
//!   answered `true` must not be dropped at the handover because the writer took that room). Memory
//!   stays within 1.25 times the cap (plus one leftover batch read ahead, `stash`); the disk within
//!   `spool.maxBytes`, where the overflow policy takes over again (a batch the spool refuses stays
//!   in memory only).
//! - **Replay first.** Leftovers of this slot and of adopted dead slots are read one batch at a time
//!   and sent before any batch of this client, oldest first, through the same send path (cap,
//!   acks, breaker, fleet). New batches are accepted meanwhile and wait, in memory then on disk.
//! - **Close.** What is still unsent when the writer stops stays on disk (counted as `spooled`),
//!   batches not yet on disk are appended then; only what the spool refuses takes the old path.
//!
//! This file holds the lane and the writer's hooks; `store.rs` stores and evicts, `readback.rs`
//! prepares the next batch (replay, read-back), `close.rs` leaves the rest on disk at the stop.
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

mod close;
mod readback;
mod store;

pub(in crate::writer) use store::store_while_writing;
use store::{store_batch, store_sealed};

/// How often the spool looks for slots of dead processes to adopt (a cluster worker or PM2 process
/// that died and was not replaced; one that is replaced takes its slot back at once). A look is a
/// directory listing and a try-lock per free slot, so 10 s bounds how long such leftovers wait
/// for a negligible cost.
const ADOPT_EVERY: Duration = Duration::from_secs(10);
/// The engine's segment size: 8 MiB files (capped at an eighth of `maxBytes` by the engine).
const SEGMENT_BYTES: u64 = 8 << 20;
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

/// The read window's share of `maxBufferBytes`: batches read back from disk (leftovers replayed,
/// evicted batches read again) are held outside the cap (see `Queue::read_bytes`), up to this much
/// of it, while they are sent and acknowledged. A quarter keeps the total within 1.25 times the
/// cap and still lets a replay keep several batches in flight.
const READ_WINDOW_SHARE: usize = 4;

fn read_window(max_buffer_bytes: usize) -> usize {
  max_buffer_bytes / READ_WINDOW_SHARE
}

/// Room for `bytes` more in the read window; a batch larger than the whole window (stored by a
/// process with larger batches, or a small cap) fits once nothing else is read back.
fn fits_read(q: &Queue, window: usize, bytes: usize) -> bool {
  q.read_bytes + bytes <= window || q.read_bytes == 0
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
      Some(lane) => store_batch(lane, &self.shared, held, now),
      None => false,
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
