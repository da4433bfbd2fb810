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
  /// Records delivered over the client's life.
  pub sent: u64,
  /// Records given up on before the close: overflow policy, emits after close.
  pub dropped: u64,
  /// Records still buffered when the close deadline passed; they were discarded.
  pub pending: u64,
  /// Records the server refused on every attempt (see `Error::Rejected`).
  pub rejected: u64,
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

/// One server's live figures, written by the writer and read by `stats()`.
pub struct ServerShared {
  pub address: String,
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
  pub servers: Vec<ServerShared>,
  /// Emit `Event::Delivered` per settled batch (someone listens for deliveries).
  pub delivery_reports: AtomicBool,
  /// `Event::Undelivered` events the sink took: the embedding waits until it has seen this many
  /// before it reports a close, so that no handler call is still on its way.
  pub undelivered_events: AtomicU64,
  /// `lost()` when the last flush was called: where the next flush's window starts.
  pub flush_mark: AtomicU64,
  pub control: Mutex<Control>,
  /// Signalled when the writer stops, for blocking waits at process exit.
  pub stopped: Condvar,
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
    let mut queue = Queue::new(&limits);
    if config.keep_undelivered {
      queue.undelivered = Some(Undelivered::new(config.undelivered_max_bytes));
    }
    let queue = Mutex::new(queue);
    let servers = config
      .fleet()
      .iter()
      .map(|s| ServerShared {
        address: s.target.address(),
        healthy: AtomicBool::new(true),
        connected: AtomicBool::new(false),
        breaker: AtomicU8::new(0),
        sent: AtomicU64::new(0),
        batches: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        in_flight: AtomicUsize::new(0),
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
      delivery_reports: AtomicBool::new(false),
      undelivered_events: AtomicU64::new(0),
      control: Mutex::new(Control::default()),
      stopped: Condvar::new(),
      sink,
    }
  }

  /// Delivers an event; a panicking sink must not take the writer down with it.
  pub fn emit(&self, event: Event) {
    if matches!(event, Event::Error { .. }) {
      Counters::add(&self.counters.errors, 1);
    }
    let undelivered = matches!(event, Event::Undelivered { .. });
    let sink = &self.sink;
    let delivered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| sink(event)));
    if !matches!(delivered, Ok(true)) {
      Counters::add(&self.counters.events_lost, 1);
    } else if undelivered {
      Counters::add(&self.undelivered_events, 1);
    }
  }

  /// Records accepted and then given up on: discarded by `dropOldest`, left at the close deadline
  /// (`counters.dropped`) or rejected by the server.
  pub fn lost(&self) -> u64 {
    let discarded = self.queue.lock().discarded;
    discarded + Counters::get(&self.counters.dropped) + Counters::get(&self.counters.rejected)
  }
}
