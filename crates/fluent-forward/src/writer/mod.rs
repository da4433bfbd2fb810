//! The writer: one tokio task on its own thread that owns the connections to the fleet. It takes
//! sealed batches, picks a server for each (`fleet`), frames and writes them, matches acks,
//! reconnects with backoff, probes servers it is not connected to (`heartbeat`), and drains on
//! close. All timing decisions (flush interval, ack timeouts, reconnect delays, heartbeats, close
//! deadline) meet in one `select!` in `wait`. Per-server state lives in `link`, the byte stream in
//! `transport`, request encoding in `framer`, attempt counting and splitting in `retry`. This file
//! is the loop and the settling of batches; `tasks` starts and takes in connects and heartbeats,
//! `undelivered` is where records leave without being delivered (rejected, offered to the failure
//! handler, left at the close).
//!
//! Connects and heartbeats run as tasks of their own on the writer's runtime, so a server that
//! does not answer never holds up the others. Writes are awaited in the loop, one at a time: a
//! server that stops reading holds the writer for at most `write_timeout` before it is failed.

use crate::breaker::Failure;
use crate::config::Heartbeat;
use crate::error::Error;
use crate::event::Event;
use crate::fleet::{eligible, Picker};
use crate::framer::Framer;
use crate::link::{Heard, Link};
use crate::queue::Chunk;
use crate::retry::{self, Held, Source, Verdict};
use crate::shared::Shared;
use crate::stats::Counters;
use crate::transport::{classify_io, Opened, Resolver, WriteError};
use std::collections::VecDeque;
use std::io;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

mod tasks;
mod undelivered;

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
  links: Vec<Link>,
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
}

type Joined<T> = Option<Result<(tokio::task::Id, T), tokio::task::JoinError>>;

enum Woke {
  Signal,
  Read(usize, io::Result<usize>),
  Connected(Joined<(usize, Resolver, Result<Opened, Error>)>),
  Beat(Joined<(usize, Resolver, io::Result<()>)>),
}

/// Body of the writer thread.
pub fn run_thread(shared: Arc<Shared>) {
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
    let links: Vec<Link> = cfg.fleet().into_iter().map(|s| Link::new(s, cfg)).collect();
    Self {
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
      && self.shared.queue.lock().records == 0
  }

  fn next_source(&self, has_sealed: bool) -> Option<Source> {
    retry::choose(
      !self.pending.is_empty(),
      !self.parked.is_empty(),
      has_sealed,
      self.parked_turn,
    )
  }

  fn next_is_suspect(&self, next: Option<Source>) -> bool {
    match next {
      Some(Source::Pending) => self.pending.front().is_some_and(Held::is_suspect),
      Some(Source::Parked) => self.parked.front().is_some_and(Held::is_suspect),
      _ => false,
    }
  }

  /// The servers that may take traffic now: available regular servers, else available standbys.
  fn candidates(&mut self, now: Instant) -> Vec<usize> {
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
  fn pick_ready(&mut self, candidates: &[usize], next: Option<Source>) -> Option<(usize, Vec<(usize, u32)>)> {
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
  fn next_chunk(&mut self, has_sealed: bool) -> Option<Held> {
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
  fn take_fresh(&mut self) -> Option<Held> {
    let chunk = self.shared.queue.lock().take()?;
    self.vetted(chunk)
  }

  /// A batch just taken from the queue, vetted; `None` if nothing in it was valid.
  fn vetted(&mut self, mut chunk: Chunk) -> Option<Held> {
    self.vet(&mut chunk);
    if chunk.records() == 0 {
      // Nothing valid was left to send (the held bytes were released by `vet`).
      self.recycle(chunk);
      return None;
    }
    Some(Held::new(chunk))
  }

  /// One more fresh batch for the write going to server `i`, which holds `grouped` batches framed
  /// into `framed` bytes, if one may join it. Only new batches from the queue (a retry goes alone, so that a
  /// failure is blamed on it), only while the write stays under `batch_bytes`, the ack window has
  /// room for it, and the weighted round robin would give the next batch to `i` anyway (the turn
  /// is taken then): many tags mean many small batches, and one write for each cost a syscall per
  /// handful of records (bench/scale.ts, 10,000 tags).
  fn joining(&mut self, i: usize, grouped: usize, framed: usize, ready: &[(usize, u32)]) -> Option<Held> {
    let cfg = &self.shared.config;
    let link = &self.links[i];
    if framed >= cfg.batch_bytes || !self.pending.is_empty() || !self.parked.is_empty() {
      return None;
    }
    if !link.keepalive || (cfg.require_ack && link.in_flight.len() + grouped >= cfg.max_in_flight) {
      return None;
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

  /// Writes the next batch to server `i`, with any fresh batches that may join it (`joining`),
  /// in one write; then settles them (without acks) or puts them in flight.
  async fn send(&mut self, i: usize, has_sealed: bool, ready: &[(usize, u32)]) {
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

  fn update_in_flight(&self, i: usize) {
    self.shared.servers[i]
      .in_flight
      .store(self.links[i].in_flight.len(), Relaxed);
    let total = self.links.iter().map(|l| l.in_flight.len()).sum();
    self.shared.in_flight.store(total, Relaxed);
  }

  fn update_connected(&self) {
    let any = self.links.iter().any(|l| l.conn.is_some());
    self.shared.connected.store(any, Relaxed);
  }

  /// Drops the entries of a freshly taken batch that are not valid records (see `vet`): counted as
  /// dropped, released from the cap and reported, so the rest of the batch still goes out.
  fn vet(&self, chunk: &mut Chunk) {
    let (records, bytes) = crate::vet::vet(chunk);
    if records == 0 {
      return;
    }
    self.shared.queue.lock().release_part(bytes, records);
    Counters::add(&self.shared.counters.dropped, records as u64);
    self.shared.emit(Event::Error {
      error: Error::Internal(format!(
        "{records} record(s) were not valid msgpack and were dropped before sending (an encoder bug: please report it)"
      )),
      records: records as u64,
      tag: Some(chunk.tag.clone()),
    });
  }

  /// A held batch leaves the writer (sent, rejected or discarded): the cap no longer counts it.
  fn release(&self, chunk: &Chunk) {
    self.shared.queue.lock().release(chunk);
  }

  fn settle_sent(&mut self, i: usize, held: Held) {
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

  fn recycle(&self, chunk: Chunk) {
    let keep = self.pooled_capacity();
    self.shared.queue.lock().recycle(chunk, keep);
  }

  /// The largest batch buffer worth pooling for reuse: one that grew for a large record goes.
  fn pooled_capacity(&self) -> usize {
    2 * self.shared.config.batch_bytes
  }

  /// Every unacked batch of server `i`, and the one being written to it, in write order.
  fn take_unsettled(&mut self, i: usize) -> Vec<Held> {
    let mut all = self.links[i].take_unsettled();
    if self.writing.as_ref().is_some_and(|(w, _)| *w == i) {
      let (_, group) = self.writing.take().expect("checked");
      for mut h in group {
        h.retry = true;
        all.push(h);
      }
    }
    self.update_in_flight(i);
    all
  }

  /// After a caught panic: a connection may be mid-request, so only fresh ones are safe; what they
  /// carried goes back to the front at once rather than waiting for an ack timeout. Nothing is
  /// counted against a batch: the panic was ours.
  fn recover(&mut self) {
    let mut back = Vec::new();
    for i in 0..self.links.len() {
      self.links[i].drop_connection(&self.shared.servers[i]);
      back.extend(self.take_unsettled(i));
    }
    for mut h in self.writing.take().map(|(_, g)| g).unwrap_or_default() {
      h.retry = true;
      back.push(h);
    }
    for h in back.into_iter().rev() {
      self.pending.push_front(h);
    }
    // Tasks that were under way took their resolvers with them.
    self.connects.abort_all();
    self.beats.abort_all();
    let ttl = self.shared.config.dns_ttl;
    for link in &mut self.links {
      link.connecting = false;
      link.resolver.get_or_insert_with(|| Resolver::new(ttl));
      link.beat_resolver.get_or_insert_with(|| Resolver::new(ttl));
    }
    self.update_connected();
  }

  /// Server `i` ended the connection (EOF, reset, garbage, an ack for an unknown id) or let a write
  /// or an ack time out. The failure counts against the oldest request it had not settled (the
  /// earliest unacked batch, else the batch being written): the server handles a connection's
  /// requests in order, so that is the one it choked on. The rest go back in order, uncounted, for
  /// whichever server takes them next.
  fn fail_link(&mut self, i: usize, why: Error, now: Instant) {
    let why = self.links[i].judge(why, now);
    let counts = self.links[i].conn_settled == 0 || why.is_permanent();
    self.links[i].drop_connection(&self.shared.servers[i]);
    self.update_connected();
    let mut all = self.take_unsettled(i).into_iter();
    let blamed = all.next();
    for h in all.rev() {
      self.pending.push_front(h);
    }
    if let Some(h) = blamed {
      let max = self.shared.config.max_batch_attempts;
      match retry::on_failure(h, max, self.health) {
        Verdict::Front(h) => self.pending.push_front(h),
        Verdict::Park(h) => self.parked.push_back(h),
        Verdict::Split(a, b) if a.attempts >= 2 => {
          self.parked.push_back(a);
          self.parked.push_back(b);
        }
        Verdict::Split(a, b) => {
          self.pending.push_front(b);
          self.pending.push_front(a);
        }
        Verdict::Reject(h) => self.reject(h),
      }
    }
    let opened = self.link_down(i, now, Failure::of(&why), counts);
    let report = self.links[i].reconnect_reports.admit(now);
    // The error that opens the breaker is always reported (once: nothing is tried while open).
    let address = self.links[i].server.target.address();
    if let Some(suppressed) = report.or(opened.then_some(0)) {
      self.shared.emit(Event::Error {
        error: reconnect_report(&why, suppressed).at(address.clone()),
        records: 0,
        tag: None,
      });
    }
    self.shared.emit(Event::Disconnected {
      server: i,
      error: Some(why.at(address)),
    });
  }

  /// Consumes whatever server `i` already sent, without waiting.
  fn read_ready(&mut self, i: usize, now: Instant) {
    loop {
      let link = &mut self.links[i];
      let Some(conn) = link.conn.as_mut() else {
        return;
      };
      let is_tls = conn.is_tls();
      let rlen = link.rlen;
      match conn.try_read(&mut link.rbuf[rlen..]) {
        Ok(0) => return,
        Ok(n) => self.on_read(i, n, now),
        Err(e) => return self.fail_link(i, classify_io(e, is_tls), now),
      }
    }
  }

  fn on_read(&mut self, i: usize, n: usize, now: Instant) {
    match self.links[i].on_read(n, self.shared.config.require_ack) {
      Heard::Fault(e) => self.fail_link(i, e, now),
      Heard::Settled(done) => {
        if done.is_empty() {
          return;
        }
        self.update_in_flight(i);
        for h in done {
          self.settle_sent(i, h);
        }
      }
    }
  }

  fn settle_waiters(&mut self, now: Instant) {
    settle_waiters(&self.shared, now);
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

/// The error event for a reconnect the server caused: its cause, plus how many reconnects the rate
/// limit held back since the last report. `Error::Timeout` holds a static text, so a timeout that
/// carries a count goes out as an `Io` error of kind `TimedOut`.
fn reconnect_report(why: &Error, suppressed: u64) -> Error {
  let more = if suppressed > 0 {
    format!(" ({suppressed} more server-caused reconnect(s) since the last report)")
  } else {
    String::new()
  };
  match why {
    Error::Io(e) => Error::Io(io::Error::new(e.kind(), format!("{e}; reconnecting{more}"))),
    Error::AckMismatch(what) => Error::AckMismatch(format!("{what}; reconnecting{more}")),
    Error::Timeout(what) if suppressed == 0 => Error::Timeout(what),
    // Typed errors keep their code (they open the breaker, so they are not repeated anyway).
    Error::AuthKey(w) => Error::AuthKey(w.clone()),
    Error::AuthUser(w) => Error::AuthUser(w.clone()),
    Error::AuthServer(w) => Error::AuthServer(w.clone()),
    Error::TlsCert(w) => Error::TlsCert(w.clone()),
    Error::TlsHostname(w) => Error::TlsHostname(w.clone()),
    Error::TlsProtocol(w) => Error::TlsProtocol(w.clone()),
    Error::TlsSuspected(w) => Error::TlsSuspected(format!("{w}; reconnecting{more}")),
    Error::HandshakeTimeout => Error::HandshakeTimeout,
    other => Error::Io(io::Error::new(
      io::ErrorKind::TimedOut,
      format!("{other}; reconnecting{more}"),
    )),
  }
}

/// Answers the flush waiters that are satisfied or past their deadline.
fn settle_waiters(shared: &Shared, now: Instant) {
  if shared.control.lock().waiters.is_empty() {
    return;
  }
  let lost = shared.lost();
  let settled = Counters::get(&shared.counters.sent) + lost;
  let done: Vec<_> = {
    let mut c = shared.control.lock();
    let (ready, keep) = std::mem::take(&mut c.waiters)
      .into_iter()
      .partition(|w| w.target <= settled || now >= w.deadline);
    c.waiters = keep;
    ready
  };
  for w in done {
    let outcome = w.outcome(settled, lost);
    (w.done)(outcome);
  }
}

/// Runs beside a write that may block: answers flush deadlines as they pass, and returns once the
/// close deadline has passed, so that no write waits for a socket timeout.
async fn watch_deadlines(shared: &Shared) {
  loop {
    let now = Instant::now();
    settle_waiters(shared, now);
    let (close, next_waiter) = {
      let c = shared.control.lock();
      (c.close_deadline, c.waiters.iter().map(|w| w.deadline).min())
    };
    if close.is_some_and(|d| now >= d) {
      return;
    }
    let next = match (close, next_waiter) {
      (Some(a), Some(b)) => Some(a.min(b)),
      (a, b) => a.or(b),
    };
    // A wake (close or flush called) re-evaluates at once; the permit it consumes only ever means
    // "look again", and the writer looks again after this write anyway.
    tokio::select! {
      _ = shared.wake.notified() => {}
      _ = async {
        match next {
          Some(d) => tokio::time::sleep_until(d.into()).await,
          None => std::future::pending().await,
        }
      } => {}
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::link::InFlight;

  fn held(n: u8) -> Held {
    Held::new(Chunk {
      tag: Arc::from("t"),
      tag_id: 0,
      entries: vec![n],
      offsets: vec![0],
      since: Instant::now(),
    })
  }

  /// What `run_thread` does after a caught panic: the batch in hand and the unacked ones go back to
  /// the front, in write order, at once (not after an ack timeout), and nothing is counted against
  /// them.
  #[tokio::test]
  async fn recover_requeues_the_batch_in_hand_and_the_unacked_ones() {
    let shared = Arc::new(Shared::new(crate::config::Config::default(), Arc::new(|_| true)));
    let mut w = Writer::new(shared.clone());
    w.pending.push_back(held(3));
    w.links[0].in_flight.push_back(InFlight {
      held: held(1),
      seq: 0,
      outstanding: 1,
      deadline: Instant::now() + Duration::from_secs(3600),
    });
    w.links[0].ack_ids.insert([b'A'; 24], 0);
    w.writing = Some((0, vec![held(2)]));
    w.recover();
    let order: Vec<(u8, bool, u32)> = w
      .pending
      .iter()
      .map(|h| (h.chunk.entries[0], h.retry, h.attempts))
      .collect();
    assert_eq!(order, vec![(1, true, 0), (2, true, 0), (3, false, 0)]);
    assert!(w.writing.is_none() && w.links[0].in_flight.is_empty() && w.links[0].ack_ids.is_empty());
  }
}
