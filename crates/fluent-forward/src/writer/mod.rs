//! The writer: one tokio task on its own thread that owns the connections to the fleet. It takes
//! sealed batches, picks a server for each (`fleet`), frames and writes them, matches acks,
//! reconnects with backoff, probes servers it is not connected to (`heartbeat`), and drains on
//! close. All timing decisions (flush interval, ack timeouts, reconnect delays, heartbeats, close
//! deadline) meet in one `select!` in `wait`. Per-server state lives in `link`, the byte stream in
//! `transport`, request encoding in `framer`, attempt counting and splitting in `retry`. This file
//! is the loop (`step`) and its one wait (`wait`); `choose` picks the next batch and its server,
//! `send` writes and settles it, `replies` reads acks, `failure` handles a server that fails,
//! `waiters` answers flushes, `tasks` starts and takes in connects and heartbeats, and
//! `undelivered` is where records leave without being delivered (rejected, offered to the failure
//! handler, left at the close).
//!
//! Connects and heartbeats run as tasks of their own on the writer's runtime, so a server that
//! does not answer never holds up the others. Writes are awaited in the loop, one at a time: a
//! server that stops reading holds the writer for at most `write_timeout` before it is failed.

use crate::config::Heartbeat;
use crate::error::Error;
use crate::event::Event;
use crate::fleet::Picker;
use crate::framer::Framer;
use crate::link::Link;
use crate::retry::Held;
use crate::shared::Shared;
use crate::transport::{classify_io, Opened, Resolver};
use std::collections::VecDeque;
use std::io;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

mod choose;
mod failure;
mod members;
mod replies;
mod send;
mod spool;
mod tasks;
mod undelivered;
mod waiters;

pub use spool::{open_spool, SpoolStart};

/// Drops are reported in bulk, at most this often, so an outage cannot flood the error handler.
const DROP_REPORT_EVERY: Duration = Duration::from_millis(100);
/// How soon a refused hand-over doorbell is rung again (see `undelivered.rs`).
const BELL_RETRY: Duration = Duration::from_millis(20);
/// Panics caught before the writer gives up and drains what it can.
const MAX_PANICS: u32 = 100;

type Connecting = JoinSet<(usize, Resolver, Result<Opened, Error>)>;
type Beating = JoinSet<(usize, Resolver, io::Result<()>)>;

pub struct Writer {
  shared: Arc<Shared>,
  /// One per slot (`discovery::Layout`): the fixed servers, then DNS members as they join (a
  /// member that left leaves a vacant link, reused by the next one).
  links: Vec<Link>,
  /// How many links there may be: the fixed servers plus room for DNS members.
  slots: usize,
  /// The `resolve: 'all'` entries (`members.rs`).
  discovery: crate::discovery::Discovery,
  picker: Picker,
  heartbeat: Heartbeat,
  /// Batches taken from the queue and requeued after a failure, in their original order. Any
  /// server may take them: a batch that failed on one is delivered by another.
  pending: VecDeque<Held>,
  /// Batches that failed twice or more: they take turns with new batches (`retry::choose`).
  parked: VecDeque<Held>,
  parked_turn: bool,
  /// The batches being framed and written (in write order; several small ones share a write),
  /// and their server. A field, not a local, so that a panic caught in `run_thread` can requeue
  /// them instead of losing them with their held bytes.
  writing: Option<(usize, Vec<Held>)>,
  /// Batches some server has taken (acked, or written without acks): the proof of health that
  /// rejecting a record needs (`retry::on_failure`).
  health: u64,
  framer: Framer,
  connects: Connecting,
  beats: Beating,
  last_drop_report: Option<Instant>,
  /// Every breaker is open and the failure handler has been offered the buffer for this opening.
  told_unavailable: bool,
  finished: bool,
  /// The durable spool's side of the writer (`writer/spool/`); `None` without one.
  spool: Option<spool::Lane>,
}

type Joined<T> = Option<Result<(tokio::task::Id, T), tokio::task::JoinError>>;

enum Woke {
  Signal,
  Read(usize, io::Result<usize>),
  Connected(Joined<(usize, Resolver, Result<Opened, Error>)>),
  Beat(Joined<(usize, Resolver, io::Result<()>)>),
}

/// Body of the writer thread.
pub fn run_thread(shared: Arc<Shared>, spool: Option<SpoolStart>) {
  let rt = tokio::runtime::Builder::new_current_thread()
    .enable_io()
    .enable_time()
    .build();
  let rt = match rt {
    Ok(rt) => rt,
    Err(e) => {
      shared.emit(Event::Error {
        error: Error::Io(e),
        records: 0,
        tag: None,
      });
      Writer::new(shared).finish_now();
      return;
    }
  };
  // JoinSets spawn onto the runtime: the writer is made inside it.
  let mut writer = rt.block_on(async { Writer::new(shared.clone()) });
  writer.attach_spool(spool);
  let mut panics = 0;
  while !writer.finished {
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| rt.block_on(writer.run())));
    if let Err(payload) = run {
      panics += 1;
      let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "writer panicked".into());
      shared.emit(Event::Error {
        error: Error::Internal(what),
        records: 0,
        tag: None,
      });
      writer.recover();
      if panics >= MAX_PANICS {
        writer.finish_now();
      }
    }
  }
  // Not `drop(rt)`: that waits for blocking tasks without limit, and a `getaddrinfo` for an
  // unreachable DNS server can run for many seconds after its connect was cancelled.
  rt.shutdown_background();
}

impl Writer {
  fn new(shared: Arc<Shared>) -> Self {
    let cfg = &shared.config;
    let fleet = cfg.fleet();
    let layout = crate::discovery::Layout::of(&fleet);
    let links: Vec<Link> = layout
      .fixed
      .iter()
      .map(|&i| {
        let mut link = Link::new(fleet[i].clone(), cfg);
        link.fleet_index = i;
        link
      })
      .collect();
    Self {
      slots: layout.slots(),
      discovery: crate::discovery::Discovery::new(cfg, &layout),
      framer: Framer::new(cfg.compression),
      picker: Picker::new(links.len()),
      heartbeat: cfg.heartbeat_mode(),
      links,
      shared: shared.clone(),
      pending: VecDeque::new(),
      parked: VecDeque::new(),
      parked_turn: false,
      writing: None,
      health: 0,
      connects: JoinSet::new(),
      beats: JoinSet::new(),
      last_drop_report: None,
      told_unavailable: false,
      finished: false,
      spool: None,
    }
  }

  async fn run(&mut self) {
    while !self.finished {
      self.step().await;
    }
  }

  async fn step(&mut self) {
    self.collect_tasks().await;
    let now = Instant::now();
    let closing = self.shared.control.lock().close_deadline;
    self.discover(now, closing.is_some());
    let (has_sealed, drops) = {
      let mut q = self.shared.queue.lock();
      // Closing: everything goes out now, whatever its age.
      let age = if closing.is_some() {
        Duration::ZERO
      } else {
        self.shared.config.flush_interval
      };
      q.seal_older_than(now, age);
      let due = self.last_drop_report.is_none_or(|t| now >= t + DROP_REPORT_EVERY);
      let drops = if due && q.unreported_drops > 0 {
        std::mem::take(&mut q.unreported_drops)
      } else {
        0
      };
      (q.has_sealed(), drops)
    };
    if drops > 0 {
      self.last_drop_report = Some(now);
      self.shared.emit(Event::Error {
        error: Error::QueueFull { dropped: drops },
        records: drops,
        tag: None,
      });
    }
    let has_sealed = self.spool_step(now, closing.is_some(), has_sealed);
    // Kept records (refused, discarded, rejected, offered) wait in the store until JS takes them;
    // this rings again when the last doorbell was refused.
    self.shared.ring();
    // Acks that arrived while a write was blocked count before any deadline is judged.
    for i in 0..self.links.len() {
      self.read_ready(i, now);
      for held in self.links[i].probation.passed(now) {
        self.settle_sent(i, held);
      }
      let late = self.links[i].in_flight.front().is_some_and(|f| now >= f.deadline);
      if late {
        self.fail_link(i, Error::Timeout("ack"), now);
      }
      if self.links[i].should_retire() && self.writing.is_none() {
        self.links[i].drop_connection(&self.shared.servers[i]);
      }
    }
    self.settle_waiters(now);
    if let Some(deadline) = closing {
      if now >= deadline || self.all_settled() {
        for i in 0..self.links.len() {
          for held in self.links[i].cut_probation_short(now) {
            self.settle_sent(i, held);
          }
        }
        self.finish().await;
        return;
      }
    }
    self.start_beats(now);
    let next = self.next_source(has_sealed);
    if next.is_some() {
      let candidates = self.candidates(now);
      self.offer_if_unavailable(&candidates, closing.is_some());
      // Every candidate not connected gets its connect now, not only when no other can write: a
      // server that comes back while another takes every batch must still be connected to, or
      // it would never get traffic again.
      for &i in &candidates {
        self.start_connect(i, now, closing);
      }
      if let Some((i, ready)) = self.pick_ready(&candidates, next) {
        return self.send(i, has_sealed, &ready).await;
      }
    }
    self.wait(now, closing, next.is_some()).await;
  }

  fn all_settled(&self) -> bool {
    self.pending.is_empty()
      && self.parked.is_empty()
      && self.writing.is_none()
      && self.links.iter().all(|l| l.all_settled())
      && self.spool_idle()
      && self.shared.queue.lock().records == 0
  }

  async fn wait(&mut self, now: Instant, closing: Option<Instant>, has_work: bool) {
    let mut deadline = closing;
    let mut consider = |t: Option<Instant>| {
      if let Some(t) = t {
        deadline = Some(deadline.map_or(t, |d| d.min(t)));
      }
    };
    {
      let q = self.shared.queue.lock();
      consider(q.next_seal(self.shared.config.flush_interval));
      if q.unreported_drops > 0 {
        consider(self.last_drop_report.map(|t| t + DROP_REPORT_EVERY));
      }
    }
    consider(self.spool_wake_at());
    consider(self.next_lookup(now, closing.is_some()));
    if self.shared.bell_due() {
      // The last doorbell was refused (the JS thread is behind): ring again soon, not never.
      consider(Some(now + BELL_RETRY));
    }
    for link in &self.links {
      // Only times still ahead: a backoff that has passed while the server waits for a
      // heartbeat (or, a standby, for its turn) is no reason to wake, and a deadline in the past
      // would make this wait return at once, forever.
      if has_work && link.conn.is_none() && !link.connecting {
        // Only times still ahead: a server whose backoff is over but that waits for a heartbeat
        // (see `Link::available`) must not wake the writer in a loop; the heartbeat's timer will.
        consider(link.retry_at.filter(|t| *t > now));
        consider(link.breaker.open_until().filter(|t| *t > now));
      }
      if self.heartbeat != Heartbeat::None && link.wants_beats() {
        consider(Some(link.next_beat));
      }
      consider(link.in_flight.front().map(|f| f.deadline));
      consider(link.probation.deadline());
    }
    consider(
      self
        .shared
        .control
        .lock()
        .waiters
        .iter()
        .map(|w| w.deadline)
        .min(),
    );

    let shared = &self.shared;
    let sleep = async {
      match deadline {
        Some(d) if d > now => tokio::time::sleep_until(d.into()).await,
        // Due now: still yield once, so that the runtime polls its sockets. A loop that never
        // yields starves the I/O driver: acks, connects and heartbeats would never complete.
        Some(_) => tokio::task::yield_now().await,
        None => std::future::pending().await,
      }
    };
    let links = &mut self.links;
    // Every connection at once: an ack, or a server closing, on any of them wakes the writer.
    let read = std::future::poll_fn(|cx| {
      for (i, link) in links.iter_mut().enumerate() {
        let rlen = link.rlen;
        if let Some(conn) = link.conn.as_mut() {
          if let Poll::Ready(r) = conn.poll_read(cx, &mut link.rbuf[rlen..]) {
            return Poll::Ready((i, r));
          }
        }
      }
      Poll::Pending
    });
    let connects = &mut self.connects;
    let beats = &mut self.beats;
    let woke = tokio::select! {
      _ = shared.wake.notified() => Woke::Signal,
      _ = sleep => Woke::Signal,
      (i, r) = read => Woke::Read(i, r),
      r = connects.join_next_with_id(), if !connects.is_empty() => Woke::Connected(r),
      r = beats.join_next_with_id(), if !beats.is_empty() => Woke::Beat(r),
    };
    match woke {
      Woke::Signal => {}
      Woke::Connected(r) => self.on_joined_connect(r),
      Woke::Beat(r) => self.on_joined_beat(r),
      Woke::Read(i, r) => {
        let now = Instant::now();
        let is_tls = self.links[i].is_tls();
        match r {
          Ok(0) => {
            // A TLS server that gets plaintext may close without an alert (Node's does): on a
            // fresh connection, `fail_link` judges that (`Link::judge`), not an ordinary close.
            let eof = io::Error::new(io::ErrorKind::UnexpectedEof, "server closed the connection");
            self.fail_link(i, Error::Io(eof), now);
          }
          Ok(n) => self.on_read(i, n, now),
          Err(e) => self.fail_link(i, classify_io(e, is_tls), now),
        }
      }
    }
  }
}
