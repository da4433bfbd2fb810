//! The writer: one tokio task on its own thread that owns the connection. It takes sealed batches,
//! frames them, writes them, matches acks, reconnects with backoff, and drains on close. All timing
//! decisions (flush interval, ack timeout, reconnect delay, close deadline) meet in one `select!` in
//! `wait`. The byte stream lives in `transport`, request encoding in `framer`, attempt counting
//! and splitting in `retry`, the breaker in `breaker`; this file is the loop and the settling of
//! batches.

use crate::backoff::Backoff;
use crate::breaker::{Breaker, BreakerState};
use crate::codec::ack::{parse_ack, AckParse, ChunkId};
use crate::error::Error;
use crate::event::Event;
use crate::framer::Framer;
use crate::queue::Chunk;
use crate::retry::{self, Held, RateLimit, Source, Verdict};
use crate::shared::{CloseReport, Shared};
use crate::stats::Counters;
use crate::transport::{classify_io, looks_like_tls, open, tls, Conn, WriteError};
use std::collections::{HashMap, VecDeque};
use std::io;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Drops are reported in bulk, at most this often, so an outage cannot flood the error handler.
const DROP_REPORT_EVERY: Duration = Duration::from_millis(100);
/// Reconnects the server caused are reported at most this often (the rest are counted into the next).
const RECONNECT_REPORT_EVERY: Duration = Duration::from_secs(1);
const READ_BUF: usize = 64 << 10;
/// Panics caught before the writer gives up and drains what it can.
const MAX_PANICS: u32 = 100;

struct InFlight {
  held: Held,
  /// Position in write order; `ack_ids` points here, and `in_flight` stays sorted by it.
  seq: u64,
  /// Ids still waiting for an ack (one per request: one per batch, or one per event in Message mode).
  outstanding: usize,
  deadline: Instant,
}

pub struct Writer {
  shared: Arc<Shared>,
  conn: Option<Conn>,
  /// Batches taken from the queue and requeued after a failure, in their original order.
  pending: VecDeque<Held>,
  /// Batches that failed twice or more: they take turns with new batches (`retry::choose`).
  parked: VecDeque<Held>,
  parked_turn: bool,
  /// The batch being framed and written. A field, not a local, so that a panic caught in
  /// `run_thread` can requeue it instead of losing it with its held bytes.
  writing: Option<Held>,
  in_flight: VecDeque<InFlight>,
  /// Every outstanding ack id, to the `seq` of its batch: one lookup per ack, where scanning would
  /// cost 26k comparisons per ack for a 512 KiB Message-mode batch.
  ack_ids: HashMap<[u8; 24], u64>,
  next_seq: u64,
  /// Batches the server has taken (acked, or written without acks): the proof of health that
  /// rejecting a record needs (`retry::on_failure`).
  health: u64,
  framer: Framer,
  rbuf: Vec<u8>,
  rlen: usize,
  /// Bytes the server has sent on this connection (an ack, a TLS alert...).
  heard: usize,
  backoff: Backoff,
  retry_at: Option<Instant>,
  ever_connected: bool,
  last_drop_report: Option<Instant>,
  reconnect_reports: RateLimit,
  finished: bool,
  breaker: Breaker,
  /// The server's HELO `keepalive`: when false, one request per connection.
  keepalive: bool,
  /// Requests written on the current connection.
  conn_requests: u64,
  /// Batches settled on the current connection: a drop before the first counts for the breaker.
  conn_settled: u64,
}

enum Woke {
  Signal,
  Read(io::Result<usize>),
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
  let mut writer = Writer::new(shared.clone());
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
    Self {
      framer: Framer::new(cfg.gzip),
      backoff: Backoff::new(cfg.reconnect_initial, cfg.reconnect_max),
      shared: shared.clone(),
      conn: None,
      pending: VecDeque::new(),
      parked: VecDeque::new(),
      parked_turn: false,
      writing: None,
      in_flight: VecDeque::new(),
      ack_ids: HashMap::new(),
      next_seq: 0,
      health: 0,
      rbuf: vec![0; READ_BUF],
      rlen: 0,
      heard: 0,
      retry_at: None,
      ever_connected: false,
      last_drop_report: None,
      reconnect_reports: RateLimit::new(RECONNECT_REPORT_EVERY),
      finished: false,
      breaker: Breaker::new(cfg.breaker.clone()),
      keepalive: true,
      conn_requests: 0,
      conn_settled: 0,
    }
  }

  async fn run(&mut self) {
    while !self.finished {
      self.step().await;
    }
  }

  async fn step(&mut self) {
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
      let error = Error::QueueFull { dropped: drops };
      self.shared.emit(Event::Error {
        error,
        records: drops,
        tag: None,
      });
    }
    // Acks that arrived while a write was blocked count before any deadline is judged.
    self.read_ready(now);
    if let Some(front) = self.in_flight.front() {
      if now >= front.deadline {
        self.fail_connection(Error::Timeout("ack"), now);
      }
    }
    self.settle_waiters(now);
    if let Some(deadline) = closing {
      if now >= deadline || self.all_settled() {
        self.finish().await;
        return;
      }
    }
    let next = self.next_source(has_sealed);
    if next.is_some() && self.window_open(next) {
      if self.conn.is_some() {
        return self.send_one(has_sealed).await;
      }
      if self.retry_at.is_none_or(|t| now >= t) {
        return self.connect(now, closing).await;
      }
    }
    self.wait(now, closing, next.is_some()).await;
  }

  fn all_settled(&self) -> bool {
    self.pending.is_empty()
      && self.parked.is_empty()
      && self.writing.is_none()
      && self.in_flight.is_empty()
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

  /// With acks: at most `max_in_flight` batches, and a suspect only ever alone on the connection,
  /// so that a disconnect or an ack timeout is attributed to the right batch.
  fn window_open(&self, next: Option<Source>) -> bool {
    let cfg = &self.shared.config;
    if self.conn.is_some() && !self.keepalive && self.conn_requests > 0 {
      // The server closes after one request: the next one waits for a fresh connection.
      return false;
    }
    if !cfg.require_ack || self.in_flight.is_empty() {
      return true;
    }
    let next_suspect = match next {
      Some(Source::Pending) => self.pending.front().is_some_and(Held::is_suspect),
      Some(Source::Parked) => self.parked.front().is_some_and(Held::is_suspect),
      _ => false,
    };
    let suspect_in_flight = self.in_flight.iter().any(|f| f.held.is_suspect());
    self.in_flight.len() < cfg.max_in_flight && !suspect_in_flight && !next_suspect
  }

  fn remaining(deadline: Option<Instant>, now: Instant, limit: Duration) -> Duration {
    deadline.map_or(limit, |d| d.saturating_duration_since(now).min(limit))
  }

  async fn connect(&mut self, now: Instant, closing: Option<Instant>) {
    let (allowed, change) = self.breaker.allow(now);
    if let Some(state) = change {
      self.breaker_changed(state);
    }
    if !allowed {
      self.retry_at = self.breaker.open_until();
      return;
    }
    let cfg = &self.shared.config;
    let timeout = Self::remaining(closing, now, cfg.connect_timeout);
    let hs_timeout = Self::remaining(closing, now, cfg.handshake_timeout);
    let attempt = tokio::select! {
      // Biased: when the close deadline cut the timeouts short, it is the close, not a timeout.
      biased;
      _ = watch_deadlines(&self.shared) => return,
      r = open(cfg, &self.shared.opener, timeout, hs_timeout) => r,
    };
    match attempt {
      Ok(opened) => {
        self.conn = Some(opened.conn);
        self.keepalive = opened.keepalive;
        self.conn_requests = 0;
        self.conn_settled = 0;
        if let Some(state) = self.breaker.on_connected() {
          self.breaker_changed(state);
        }
        self.retry_at = None;
        self.rlen = 0;
        self.heard = 0;
        self.shared.connected.store(true, Relaxed);
        Counters::add(&self.shared.counters.connects, 1);
        if self.ever_connected {
          Counters::add(&self.shared.counters.reconnects, 1);
        }
        self.ever_connected = true;
        self.shared.emit(Event::Connected);
      }
      Err(error) => {
        let now = Instant::now();
        self.retry_at = Some(now + self.backoff.next_delay());
        if let Some(state) = self.breaker.on_failure(now, error.is_permanent()) {
          self.breaker_changed(state);
          self.retry_at = self.breaker.open_until();
        }
        // Reported on every attempt while closed (backoff-paced), once per opening otherwise:
        // an open breaker makes no attempts.
        self.shared.emit(Event::Error {
          error,
          records: 0,
          tag: None,
        });
      }
    }
  }

  fn breaker_changed(&self, state: BreakerState) {
    self.shared.breaker.store(state.as_u8(), Relaxed);
    self.shared.emit(Event::Breaker { state });
  }

  /// A `keepalive: false` server closes after one request: once it is settled, the connection is
  /// let go (quietly, it did its job) and the next request opens and handshakes a new one.
  fn maybe_retire(&mut self) {
    if self.conn.is_some()
      && !self.keepalive
      && self.conn_requests > 0
      && self.in_flight.is_empty()
      && self.writing.is_none()
    {
      self.drop_connection();
    }
  }

  fn conn_is_tls(&self) -> bool {
    self.conn.as_ref().is_some_and(Conn::is_tls)
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
        let mut chunk = self.shared.queue.lock().take()?;
        self.vet(&mut chunk);
        if chunk.records() == 0 {
          // Nothing valid was left to send (the held bytes were released by `vet`).
          self.recycle(chunk);
          return None;
        }
        self.parked_turn = true;
        Some(Held::new(chunk))
      }
    }
  }

  async fn send_one(&mut self, has_sealed: bool) {
    let Some(mut held) = self.next_chunk(has_sealed) else {
      return;
    };
    if std::mem::take(&mut held.retry) {
      Counters::add(&self.shared.counters.retries, 1);
    }
    let held = self.writing.insert(held);
    let ids = self.framer.frame(&self.shared.config, &held.chunk);
    let idle = self.shared.config.write_timeout;
    let conn = self.conn.as_mut().expect("send_one needs a connection");
    let mut written = 0;
    let result = tokio::select! {
      r = conn.write_with_progress(&self.framer.wbuf, idle, &mut written) => r,
      _ = watch_deadlines(&self.shared) => {
        // Close deadline: the request may be half written, so the connection cannot be reused.
        // Our own deadline, not the server's doing: no attempt is counted.
        let mut held = self.writing.take().expect("set above");
        held.retry = true;
        self.pending.push_front(held);
        self.drop_connection();
        return;
      }
    };
    match result {
      Ok(()) => {
        let held = self.writing.take().expect("set above");
        self.conn_requests += 1;
        Counters::add(&self.shared.counters.bytes_sent, self.framer.wbuf.len() as u64);
        Counters::add(&self.shared.counters.batches_sent, 1);
        if self.shared.config.require_ack {
          let seq = self.next_seq;
          self.next_seq += 1;
          for id in &ids {
            self.ack_ids.insert(key(id), seq);
          }
          let deadline = Instant::now() + self.shared.config.ack_timeout;
          self.in_flight.push_back(InFlight {
            held,
            seq,
            outstanding: ids.len(),
            deadline,
          });
          self.shared.in_flight.store(self.in_flight.len(), Relaxed);
        } else {
          // Without acks a batch the kernel took is sent: the client cannot know whether the
          // server rejected it, so only failed writes count as attempts.
          self.settle_sent(held);
          self.maybe_retire();
        }
      }
      Err(WriteError::Io(e)) => {
        let why = classify_io(e, self.conn_is_tls());
        self.fail_connection(why, Instant::now())
      }
      Err(WriteError::Stalled) => self.fail_connection(Error::Timeout("write"), Instant::now()),
    }
    self.framer.trim(self.shared.config.batch_bytes);
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

  fn settle_sent(&mut self, held: Held) {
    let chunk = held.chunk;
    Counters::add(&self.shared.counters.sent, chunk.records() as u64);
    self.health += 1;
    self.conn_settled += 1;
    self.breaker.on_settled();
    self.release(&chunk);
    self.backoff.reset();
    self.recycle(chunk);
  }

  fn recycle(&self, chunk: Chunk) {
    let keep = 2 * self.shared.config.batch_bytes;
    self.shared.queue.lock().recycle(chunk, keep);
  }

  fn drop_connection(&mut self) {
    self.conn = None;
    self.rlen = 0;
    self.shared.connected.store(false, Relaxed);
  }

  /// Takes every unacked batch and the one being written back, in write order, for a resend on a
  /// fresh connection (their ack ids die with this one).
  fn take_unsettled(&mut self) -> Vec<Held> {
    self.ack_ids.clear();
    self.shared.in_flight.store(0, Relaxed);
    let mut all: Vec<Held> = self.in_flight.drain(..).map(|f| f.held).collect();
    all.extend(self.writing.take());
    for h in &mut all {
      h.retry = true;
    }
    all
  }

  /// After a caught panic: the connection may be mid-request, so only a fresh one is safe; what it
  /// carried goes back to the front at once rather than waiting for an ack timeout. Nothing is
  /// counted against a batch: the panic was ours.
  fn recover(&mut self) {
    self.drop_connection();
    for h in self.take_unsettled().into_iter().rev() {
      self.pending.push_front(h);
    }
  }

  /// The server ended the connection (EOF, reset, garbage, an ack for an unknown id) or let a write
  /// or an ack time out. The failure counts against the oldest request it had not settled (the
  /// earliest unacked batch, else the batch being written): the server handles a connection's
  /// requests in order, so that is the one it choked on. The rest go back in order, uncounted.
  fn fail_connection(&mut self, why: Error, now: Instant) {
    let counts = self.conn_settled == 0 || why.is_permanent();
    self.drop_connection();
    let mut all = self.take_unsettled().into_iter();
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
    self.retry_at = Some(now + self.backoff.next_delay());
    let mut opened = false;
    if counts {
      if let Some(state) = self.breaker.on_failure(now, why.is_permanent()) {
        self.breaker_changed(state);
        self.retry_at = self.breaker.open_until();
        opened = state == BreakerState::Open;
      }
    }
    let report = self.reconnect_reports.admit(now);
    // The error that opens the breaker is always reported (once: nothing is tried while open).
    if let Some(suppressed) = report.or(opened.then_some(0)) {
      self.shared.emit(Event::Error {
        error: reconnect_report(&why, suppressed),
        records: 0,
        tag: None,
      });
    }
    self.shared.emit(Event::Disconnected(Some(why)));
  }

  fn reject(&mut self, held: Held) {
    let chunk = held.chunk;
    let n = chunk.records() as u64;
    Counters::add(&self.shared.counters.rejected, n);
    self.release(&chunk);
    let tag = chunk.tag.clone();
    self.recycle(chunk);
    self.shared.emit(Event::Error {
      error: Error::Rejected { records: n },
      records: n,
      tag: Some(tag),
    });
  }

  /// Consumes whatever the server already sent, without waiting.
  fn read_ready(&mut self, now: Instant) {
    while let Some(conn) = self.conn.as_mut() {
      let rlen = self.rlen;
      let is_tls = conn.is_tls();
      match conn.try_read(&mut self.rbuf[rlen..]) {
        Ok(0) => return,
        Ok(n) => self.on_read(n, now),
        Err(e) => return self.fail_connection(classify_io(e, is_tls), now),
      }
    }
  }

  fn on_read(&mut self, n: usize, now: Instant) {
    self.heard += n;
    // A TLS server answering our plaintext with an alert (or a handshake record): where an ack (or
    // nothing, without acks) was expected, these bytes are never msgpack we could accept.
    if self.rlen == 0 && !self.conn_is_tls() && looks_like_tls(&self.rbuf[..n]) {
      return self.fail_connection(Error::TlsProtocol(tls::SPEAKS_TLS.into()), now);
    }
    if !self.shared.config.require_ack {
      // Nothing is expected without acks; whatever a server says is ignored.
      return;
    }
    self.rlen += n;
    loop {
      match parse_ack(&self.rbuf[..self.rlen]) {
        AckParse::Ack(id, used) => {
          let seq = <&[u8; 24]>::try_from(id)
            .ok()
            .and_then(|id| self.ack_ids.remove(id));
          let Some(seq) = seq else {
            let what = format!(
              "ack for unknown chunk {}",
              String::from_utf8_lossy(&self.rbuf[..used.min(64)])
            );
            return self.fail_connection(Error::AckMismatch(what), now);
          };
          self.rbuf.copy_within(used..self.rlen, 0);
          self.rlen -= used;
          self.acked(seq);
        }
        AckParse::Incomplete if self.rlen < self.rbuf.len() => return,
        AckParse::Incomplete => {
          return self.fail_connection(Error::AckMismatch("oversized response".into()), now)
        }
        AckParse::Garbage(what) => return self.fail_connection(Error::AckMismatch(what.into()), now),
      }
    }
  }

  /// One ack id of batch `seq` came back; the batch settles with its last one.
  fn acked(&mut self, seq: u64) {
    let Ok(i) = self.in_flight.binary_search_by_key(&seq, |f| f.seq) else {
      debug_assert!(false, "ack_ids points at a batch not in flight");
      return;
    };
    let f = &mut self.in_flight[i];
    f.outstanding -= 1;
    if f.outstanding == 0 {
      let done = self.in_flight.remove(i).expect("index in range");
      self.shared.in_flight.store(self.in_flight.len(), Relaxed);
      self.settle_sent(done.held);
      self.maybe_retire();
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
    if has_work && self.conn.is_none() {
      consider(self.retry_at);
    }
    consider(self.in_flight.front().map(|f| f.deadline));
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
        Some(_) => {}
        None => std::future::pending().await,
      }
    };
    let rlen = self.rlen;
    let is_tls = self.conn_is_tls();
    let rbuf = &mut self.rbuf;
    let read = async {
      match self.conn.as_mut() {
        Some(conn) => conn.read(&mut rbuf[rlen..]).await,
        None => std::future::pending().await,
      }
    };
    let woke = tokio::select! {
      _ = shared.wake.notified() => Woke::Signal,
      _ = sleep => Woke::Signal,
      r = read => Woke::Read(r),
    };
    if let Woke::Read(r) = woke {
      let now = Instant::now();
      match r {
        Ok(0) => {
          // A TLS server that gets plaintext may close without an alert (Node's does), which looks
          // exactly like this: a fresh connection closed after our request with not a byte back.
          let what = if self.rlen == 0 && !self.conn_is_tls() && self.heard == 0 {
            "server closed the connection without a word (if its input expects TLS, set tls)"
          } else {
            "server closed the connection"
          };
          let eof = io::Error::new(io::ErrorKind::UnexpectedEof, what);
          self.fail_connection(Error::Io(eof), now);
        }
        Ok(n) => self.on_read(n, now),
        Err(e) => self.fail_connection(classify_io(e, is_tls), now),
      }
    }
  }

  /// Stops: whatever is still buffered is discarded and reported, and every waiter is answered.
  async fn finish(&mut self) {
    if let Some(mut conn) = self.conn.take() {
      // Everything was written already; this only sends FIN, so keep it short.
      let _ = tokio::time::timeout(Duration::from_millis(200), conn.shutdown()).await;
    }
    self.finish_now();
  }

  fn finish_now(&mut self) {
    self.drop_connection();
    let mut leftover: Vec<Chunk> = self.take_unsettled().into_iter().map(|h| h.chunk).collect();
    leftover.extend(self.pending.drain(..).map(|h| h.chunk));
    leftover.extend(self.parked.drain(..).map(|h| h.chunk));
    for c in &leftover {
      self.release(c);
    }
    let (refused, discarded) = {
      let mut q = self.shared.queue.lock();
      q.closed = true;
      leftover.extend(q.take_all());
      (q.refused, q.discarded)
    };
    let pending: u64 = leftover.iter().map(|c| c.records() as u64).sum();
    for c in &leftover {
      if c.records() > 0 {
        let error = Error::Undelivered {
          records: c.records() as u64,
        };
        self.shared.emit(Event::Error {
          error,
          records: c.records() as u64,
          tag: Some(c.tag.clone()),
        });
      }
    }
    let report = CloseReport {
      sent: Counters::get(&self.shared.counters.sent),
      dropped: refused + discarded + Counters::get(&self.shared.counters.dropped),
      pending,
      rejected: Counters::get(&self.shared.counters.rejected),
    };
    Counters::add(&self.shared.counters.dropped, pending);
    self.finished = true;
    // Final from here on: nothing is sent or lost any more.
    let lost = self.shared.lost();
    let settled = Counters::get(&self.shared.counters.sent) + lost;
    // One lock for both: `Client::flush` checks `report` and adds its waiter under this lock, so a
    // waiter is either drained here or sees the report and answers itself. Never neither.
    let (waiters, callbacks) = {
      let mut c = self.shared.control.lock();
      c.report = Some(report);
      if c.close_deadline.is_none() {
        c.close_deadline = Some(Instant::now());
      }
      (std::mem::take(&mut c.waiters), std::mem::take(&mut c.close_done))
    };
    for w in waiters {
      let outcome = w.outcome(settled, lost);
      (w.done)(outcome);
    }
    self.shared.stopped.notify_all();
    for cb in callbacks {
      cb(report);
    }
  }
}

fn key(id: &ChunkId) -> [u8; 24] {
  let mut k = [0u8; 24];
  k.copy_from_slice(id.as_bytes());
  k
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

/// Runs beside a connect or a write that may block: answers flush deadlines as they pass, and returns
/// once the close deadline has passed, so that neither waits for a socket timeout.
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
  #[test]
  fn recover_requeues_the_batch_in_hand_and_the_unacked_ones() {
    let shared = Arc::new(Shared::new(crate::config::Config::default(), Arc::new(|_| true)));
    let mut w = Writer::new(shared.clone());
    w.pending.push_back(held(3));
    w.in_flight.push_back(InFlight {
      held: held(1),
      seq: 0,
      outstanding: 1,
      deadline: Instant::now() + Duration::from_secs(3600),
    });
    w.ack_ids.insert([b'A'; 24], 0);
    w.writing = Some(held(2));
    w.recover();
    let order: Vec<(u8, bool, u32)> = w
      .pending
      .iter()
      .map(|h| (h.chunk.entries[0], h.retry, h.attempts))
      .collect();
    assert_eq!(order, vec![(1, true, 0), (2, true, 0), (3, false, 0)]);
    assert!(w.writing.is_none() && w.in_flight.is_empty() && w.ack_ids.is_empty());
  }
}
