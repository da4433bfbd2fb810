//! State shared by the client handle (producer side) and the writer thread.

use crate::config::Config;
use crate::event::{Event, EventSink};
use crate::queue::Chunk;
use crate::queue::{Limits, Queue};
use crate::stats::Counters;
use crate::transport::Opener;
use crate::undelivered::Undelivered;
use parking_lot::{Condvar, Mutex};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize};
use std::time::Instant;
use tokio::sync::Notify;

/// What `close` reports once the writer has stopped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CloseReport {
  /// Records accepted at emit over the client's life (a failure handler's requeue is not counted).
  pub emitted: u64,
  /// Records refused at emit: overflow policy, closed client, a staged frame that failed its checks.
  pub refused: u64,
  /// Records delivered over the client's life.
  pub sent: u64,
  /// Records given up on before the close: refusals and discards (not kept for the failure
  /// handler), invalid records.
  pub dropped: u64,
  /// Records still buffered when the close deadline passed; they were discarded (with a failure
  /// handler: given to it as leftovers).
  pub pending: u64,
  /// Records the server refused on every attempt (see `Error::Rejected`), with no failure handler
  /// to take them.
  pub rejected: u64,
  /// With a failure handler: records waiting in the hand-over store when the writer stopped.
  pub kept: u64,
  /// Records read back from a spool an earlier process left (over the client's life).
  pub replayed: u64,
  /// Records left on disk in the spool at the close: the next process that opens it sends them.
  pub spooled: u64,
}

/// How a `flush` ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlushOutcome {
  /// Every record accepted before the call was written (acknowledged, with acks).
  Delivered,
  /// Everything before the call settled, but this many records were given up on (discarded by
  /// `dropOldest`, rejected, or left at the close deadline) while the flush waited.
  Lost(u64),
  /// The deadline passed first.
  TimedOut,
}

impl FlushWaiter {
  /// The outcome once `settled` (of `lost` total) has been reached or the deadline passed.
  pub fn outcome(&self, settled: u64, lost: u64) -> FlushOutcome {
    if settled < self.target {
      FlushOutcome::TimedOut
    } else if lost > self.lost_before {
      FlushOutcome::Lost(lost - self.lost_before)
    } else {
      FlushOutcome::Delivered
    }
  }
}

pub type FlushDone = Box<dyn FnOnce(FlushOutcome) + Send>;
pub type CloseDone = Box<dyn FnOnce(CloseReport) + Send>;

pub struct FlushWaiter {
  /// Done once `settled()` reaches this.
  pub target: u64,
  /// `lost()` when the flush was called: anything lost beyond it is reported as `FlushOutcome::Lost`.
  pub lost_before: u64,
  pub deadline: Instant,
  pub done: FlushDone,
}

#[derive(Default)]
pub struct Control {
  pub waiters: Vec<FlushWaiter>,
  /// Set by the first `close`; later calls may only bring it closer.
  pub close_deadline: Option<Instant>,
  pub close_done: Vec<CloseDone>,
  /// Filled in when the writer has stopped.
  pub report: Option<CloseReport>,
  /// With `keep_undelivered`: what the writer still held when it stopped, for the failure handler
  /// (taken by `Client::take_leftovers`).
  pub leftovers: Vec<Chunk>,
}

/// One slot's live figures, written by the writer and read by `stats()`. A fixed server has its slot
/// for the client's life; a member found through DNS (`discovery.rs`) takes a free slot when it
/// joins and frees it once drained, and the slot's figures start again from zero for the next one.
pub struct ServerShared {
  /// `host:port` or the socket path (a DNS member's own address).
  pub address: Mutex<String>,
  /// A server is in this slot (`stats()` lists only these).
  pub active: AtomicBool,
  pub healthy: AtomicBool,
  pub connected: AtomicBool,
  /// `BreakerState::as_u8`.
  pub breaker: AtomicU8,
  /// Records delivered to this server (acknowledged, with acks).
  pub sent: AtomicU64,
  pub batches: AtomicU64,
  /// Failed connects and connections the server ended or let time out.
  pub errors: AtomicU64,
  pub in_flight: AtomicUsize,
}

impl ServerShared {
  /// A slot holding `address`, or a free one (`None`).
  fn new(address: Option<String>) -> Self {
    Self {
      active: AtomicBool::new(address.is_some()),
      address: Mutex::new(address.unwrap_or_default()),
      healthy: AtomicBool::new(true),
      connected: AtomicBool::new(false),
      breaker: AtomicU8::new(0),
      sent: AtomicU64::new(0),
      batches: AtomicU64::new(0),
      errors: AtomicU64::new(0),
      in_flight: AtomicUsize::new(0),
    }
  }

  /// A member takes this slot: its figures start from zero.
  pub fn occupy(&self, address: String) {
    use std::sync::atomic::Ordering::Relaxed;
    *self.address.lock() = address;
    self.healthy.store(true, Relaxed);
    self.connected.store(false, Relaxed);
    self.breaker.store(0, Relaxed);
    for c in [&self.sent, &self.batches, &self.errors] {
      c.store(0, Relaxed);
    }
    self.in_flight.store(0, Relaxed);
    self.active.store(true, Relaxed);
  }

  /// The member left (drained): the slot no longer shows in `stats()`.
  pub fn vacate(&self) {
    self.active.store(false, std::sync::atomic::Ordering::Relaxed);
    self.connected.store(false, std::sync::atomic::Ordering::Relaxed);
    self.in_flight.store(0, std::sync::atomic::Ordering::Relaxed);
  }
}

pub struct Shared {
  pub config: Config,
  pub limits: Limits,
  pub queue: Mutex<Queue>,
  pub wake: Notify,
  pub counters: Counters,
  pub in_flight: AtomicUsize,
  pub connected: AtomicBool,
  /// One per server of `Config::fleet`, in its order: TLS config and handshake settings.
  pub openers: Vec<Opener>,
  /// One per slot (`discovery::Layout`): the fixed servers first, then room for DNS members.
  pub servers: Vec<ServerShared>,
  /// Emit `Event::Delivered` per settled batch (someone listens for deliveries).
  pub delivery_reports: AtomicBool,
  /// `lost()` when the last flush was called: where the next flush's window starts.
  pub flush_mark: AtomicU64,
  pub control: Mutex<Control>,
  /// Signalled when the writer stops, for blocking waits at process exit.
  pub stopped: Condvar,
  /// The durable spool's state and figures (`spool` option).
  pub spool: Option<crate::spool_view::SpoolShared>,
  sink: EventSink,
}

impl Shared {
  #[cfg(test)]
  pub fn new(config: Config, sink: EventSink) -> Self {
    let openers = vec![Opener::default(); config.fleet().len()];
    Self::with_openers(config, sink, openers)
  }

  pub fn with_openers(config: Config, sink: EventSink, openers: Vec<Opener>) -> Self {
    let limits = Limits {
      max_bytes: config.max_buffer_bytes,
      batch_bytes: config.batch_bytes,
      overflow: config.overflow,
      time_format: config.time_format,
    };
    let reports = config.delivery_reports;
    let mut queue = Queue::new(&limits);
    if config.keep_undelivered {
      queue.undelivered = Some(Undelivered::new(config.undelivered_max_bytes));
    }
    let queue = Mutex::new(queue);
    let spool =
      (config.spool.as_ref()).map(|s| crate::spool_view::SpoolShared::new(s.dir.display().to_string()));
    let fleet = config.fleet();
    let layout = crate::discovery::Layout::of(&fleet);
    let servers = (0..layout.slots())
      .map(|slot| {
        let server = layout.fixed.get(slot).map(|&i| &fleet[i]);
        ServerShared::new(server.map(|s| s.target.address()))
      })
      .collect();
    Self {
      config,
      limits,
      queue,
      wake: Notify::new(),
      counters: Counters::default(),
      in_flight: AtomicUsize::new(0),
      flush_mark: AtomicU64::new(0),
      connected: AtomicBool::new(false),
      openers,
      servers,
      delivery_reports: AtomicBool::new(reports),
      control: Mutex::new(Control::default()),
      stopped: Condvar::new(),
      spool,
      sink,
    }
  }

  /// Delivers an event; a panicking sink must not take the writer down with it. An event the sink
  /// could not take is counted in `events_lost`.
  pub fn emit(&self, event: Event) {
    if matches!(event, Event::Error { .. }) {
      Counters::add(&self.counters.errors, 1);
    }
    if !self.offer(event) {
      Counters::add(&self.counters.events_lost, 1);
    }
  }

  fn offer(&self, event: Event) -> bool {
    let sink = &self.sink;
    let delivered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sink(event)));
    matches!(delivered, Ok(true))
  }

  /// Rings the hand-over doorbell (`Event::HandOver`) when batches wait for the failure handler and
  /// none is outstanding. A doorbell the sink refused (JS busy: its queue is full) is no loss: the
  /// records stay in the store, and the writer rings again (`bell_due`).
  pub fn ring(&self) {
    let ring = {
      let mut q = self.queue.lock();
      match q.undelivered.as_mut() {
        Some(u) if !u.bell && !u.is_empty() => {
          u.bell = true;
          true
        }
        _ => false,
      }
    };
    if ring && !self.offer(Event::HandOver) {
      if let Some(u) = self.queue.lock().undelivered.as_mut() {
        u.bell = false;
      }
    }
  }

  /// Batches wait for the failure handler and no doorbell is on its way: the writer must ring.
  pub fn bell_due(&self) -> bool {
    let q = self.queue.lock();
    q.undelivered.as_ref().is_some_and(|u| !u.bell && !u.is_empty())
  }

  /// Records accepted and then given up on: discarded by `dropOldest`, left at the close deadline
  /// (`counters.dropped`) or rejected by the server (with a failure handler, handed to it).
  pub fn lost(&self) -> u64 {
    let discarded = self.queue.lock().discarded;
    discarded
      + Counters::get(&self.counters.dropped)
      + Counters::get(&self.counters.rejected)
      + Counters::get(&self.counters.rejected_offered)
  }

  /// Records of this client's own settled (sent or given up on): what a `flush` waits for.
  /// Records replayed from an earlier process's spool are not its own.
  pub fn settled(&self) -> u64 {
    let sent = Counters::get(&self.counters.sent) + self.lost();
    sent.saturating_sub(Counters::get(&self.counters.replay_settled))
  }

  /// The identity's `dropped`: records refused or discarded and not kept for the failure handler
  /// (kept ones are pending until it answers), and accepted records given up on by the writer.
  pub fn dropped(&self, q: &crate::queue::Queue) -> u64 {
    let kept = q.undelivered.as_ref().map_or(0, |u| u.kept_dropped);
    q.refused + q.discarded - kept + Counters::get(&self.counters.dropped)
  }
}
