//! The writer: one tokio task on its own thread that owns the connection. It frames sealed batches,
//! writes them, matches acks, reconnects with backoff, and drains on close. All timing decisions
//! (flush interval, ack timeout, reconnect delay, close deadline) meet in one `select!` in `wait`.

use crate::backoff::Backoff;
use crate::codec::ack::{parse_ack, AckParse, ChunkId};
use crate::codec::gzip::GzipWriter;
use crate::codec::{forward, message, packed_forward, RequestOptions};
use crate::config::Mode;
use crate::connection::{connect, Conn};
use crate::error::Error;
use crate::event::Event;
use crate::queue::Chunk;
use crate::shared::{CloseReport, Shared};
use crate::stats::Counters;
use std::collections::VecDeque;
use std::io;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Drops are reported in bulk, at most this often, so an outage cannot flood the error handler.
const DROP_REPORT_EVERY: Duration = Duration::from_millis(100);
const READ_BUF: usize = 64 << 10;
/// Panics caught before the writer gives up and drains what it can.
const MAX_PANICS: u32 = 100;

struct InFlight {
  chunk: Chunk,
  /// Ids still waiting for an ack (one per request: one per batch, or one per event in Message mode).
  ids: Vec<ChunkId>,
  deadline: Instant,
}

pub struct Writer {
  shared: Arc<Shared>,
  conn: Option<Conn>,
  /// Batches taken from the queue and not yet written: failed writes and unacked batches go back here first.
  pending: VecDeque<Chunk>,
  in_flight: VecDeque<InFlight>,
  wbuf: Vec<u8>,
  zbuf: Vec<u8>,
  rbuf: Vec<u8>,
  rlen: usize,
  gzip: Option<GzipWriter>,
  backoff: Backoff,
  retry_at: Option<Instant>,
  ever_connected: bool,
  last_drop_report: Option<Instant>,
  finished: bool,
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
      // The connection may be mid-request; only a fresh one is safe.
      writer.drop_connection();
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
      gzip: cfg.gzip.map(GzipWriter::new),
      backoff: Backoff::new(cfg.reconnect_initial, cfg.reconnect_max),
      shared: shared.clone(),
      conn: None,
      pending: VecDeque::new(),
      in_flight: VecDeque::new(),
      wbuf: Vec::new(),
      zbuf: Vec::new(),
      rbuf: vec![0; READ_BUF],
      rlen: 0,
      retry_at: None,
      ever_connected: false,
      last_drop_report: None,
      finished: false,
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
        self.disconnect(Error::Timeout("ack"), now);
      }
    }
    self.settle_waiters(now);
    if let Some(deadline) = closing {
      if now >= deadline || self.all_settled() {
        self.finish().await;
        return;
      }
    }
    let has_work = !self.pending.is_empty() || has_sealed;
    let window_open =
      !self.shared.config.require_ack || self.in_flight.len() < self.shared.config.max_in_flight;
    if has_work && window_open {
      if self.conn.is_some() {
        return self.send_one(now, closing).await;
      }
      if self.retry_at.is_none_or(|t| now >= t) {
        return self.connect(now, closing).await;
      }
    }
    self.wait(now, closing, has_work).await;
  }

  fn all_settled(&self) -> bool {
    self.pending.is_empty() && self.in_flight.is_empty() && self.shared.queue.lock().records == 0
  }

  fn remaining(deadline: Option<Instant>, now: Instant, limit: Duration) -> Duration {
    deadline.map_or(limit, |d| d.saturating_duration_since(now).min(limit))
  }

  async fn connect(&mut self, now: Instant, closing: Option<Instant>) {
    let cfg = &self.shared.config;
    let timeout = Self::remaining(closing, now, cfg.connect_timeout);
    let attempt = tokio::select! {
      r = connect(&cfg.target, timeout) => r,
      _ = watch_deadlines(&self.shared) => return,
    };
    match attempt {
      Ok(conn) => {
        self.conn = Some(conn);
        self.retry_at = None;
        self.rlen = 0;
        self.shared.connected.store(true, Relaxed);
        Counters::add(&self.shared.counters.connects, 1);
        if self.ever_connected {
          Counters::add(&self.shared.counters.reconnects, 1);
        }
        self.ever_connected = true;
        self.shared.emit(Event::Connected);
      }
      Err(e) => {
        self.retry_at = Some(Instant::now() + self.backoff.next_delay());
        self.shared.emit(Event::Error {
          error: Error::Connect(e),
          records: 0,
          tag: None,
        });
      }
    }
  }

  fn next_chunk(&mut self) -> Option<Chunk> {
    if let Some(c) = self.pending.pop_front() {
      return Some(c);
    }
    let chunk = self.shared.queue.lock().take()?;
    self.shared.held_bytes.fetch_add(chunk.footprint(), Relaxed);
    self.shared.held_records.fetch_add(chunk.records(), Relaxed);
    Some(chunk)
  }

  /// Encodes one batch as requests into `wbuf`, returning the ack ids it asked for.
  fn frame(&mut self, chunk: &Chunk) -> Vec<ChunkId> {
    let cfg = &self.shared.config;
    let tag: &str = &chunk.tag;
    let n = chunk.records();
    self.wbuf.clear();
    let mut ids = Vec::new();
    let new_id = |ids: &mut Vec<ChunkId>| {
      cfg.require_ack.then(|| {
        ids.push(ChunkId::random());
        *ids.last().expect("just pushed")
      })
    };
    match cfg.mode {
      Mode::Message => {
        for i in 0..n {
          let id = new_id(&mut ids);
          message::write_request(
            &mut self.wbuf,
            tag,
            chunk.entry(i),
            id.as_ref().map(|c| c.as_str()),
          );
        }
      }
      Mode::Forward => {
        let id = new_id(&mut ids);
        let opts = RequestOptions {
          size: Some(n),
          chunk: id.as_ref().map(|c| c.as_str()),
          gzip: false,
        };
        forward::write_request(&mut self.wbuf, tag, &chunk.entries, n, &opts);
      }
      Mode::PackedForward => {
        let id = new_id(&mut ids);
        let chunk_id = id.as_ref().map(|c| c.as_str());
        match self.gzip.as_mut() {
          Some(gz) => {
            self.zbuf.clear();
            gz.compress_into(&chunk.entries, &mut self.zbuf);
            let opts = RequestOptions {
              size: Some(n),
              chunk: chunk_id,
              gzip: true,
            };
            packed_forward::write_request(&mut self.wbuf, tag, &self.zbuf, &opts);
          }
          None => {
            let opts = RequestOptions {
              size: Some(n),
              chunk: chunk_id,
              gzip: false,
            };
            packed_forward::write_request(&mut self.wbuf, tag, &chunk.entries, &opts);
          }
        }
      }
    }
    ids
  }

  async fn send_one(&mut self, now: Instant, closing: Option<Instant>) {
    let Some(chunk) = self.next_chunk() else { return };
    let ids = self.frame(&chunk);
    let timeout = Self::remaining(closing, now, self.shared.config.write_timeout);
    let conn = self.conn.as_mut().expect("send_one needs a connection");
    let result = tokio::select! {
      r = tokio::time::timeout(timeout, conn.write_all(&self.wbuf)) => r,
      _ = watch_deadlines(&self.shared) => {
        // Close deadline: the request may be half written, so the connection cannot be reused.
        self.pending.push_front(chunk);
        self.drop_connection();
        return;
      }
    };
    match result {
      Ok(Ok(())) => {
        Counters::add(&self.shared.counters.bytes_sent, self.wbuf.len() as u64);
        Counters::add(&self.shared.counters.batches_sent, 1);
        if self.shared.config.require_ack {
          let deadline = Instant::now() + self.shared.config.ack_timeout;
          self.in_flight.push_back(InFlight { chunk, ids, deadline });
          self.shared.in_flight.store(self.in_flight.len(), Relaxed);
        } else {
          self.settle_sent(chunk);
        }
      }
      Ok(Err(e)) => {
        self.pending.push_front(chunk);
        self.disconnect(Error::Io(e), Instant::now());
      }
      Err(_) => {
        self.pending.push_front(chunk);
        self.disconnect(Error::Timeout("write"), Instant::now());
      }
    }
    // Large buffers (one huge record) are not kept around.
    let keep = 2 * self.shared.config.batch_bytes + 1024;
    if self.wbuf.capacity() > keep {
      self.wbuf = Vec::new();
    }
    if self.zbuf.capacity() > keep {
      self.zbuf = Vec::new();
    }
  }

  fn release(&self, chunk: &Chunk) {
    self.shared.held_bytes.fetch_sub(chunk.footprint(), Relaxed);
    self.shared.held_records.fetch_sub(chunk.records(), Relaxed);
  }

  fn settle_sent(&mut self, chunk: Chunk) {
    Counters::add(&self.shared.counters.sent, chunk.records() as u64);
    self.release(&chunk);
    self.backoff.reset();
    let keep = 2 * self.shared.config.batch_bytes;
    self.shared.queue.lock().recycle(chunk, keep);
  }

  fn drop_connection(&mut self) {
    self.conn = None;
    self.rlen = 0;
    self.shared.connected.store(false, Relaxed);
  }

  /// Gives up on the connection; everything written but unacked goes back to the front, in order.
  fn disconnect(&mut self, why: Error, now: Instant) {
    self.drop_connection();
    let requeued = self.in_flight.len();
    while let Some(f) = self.in_flight.pop_back() {
      self.pending.push_front(f.chunk);
    }
    self.shared.in_flight.store(0, Relaxed);
    if requeued > 0 {
      Counters::add(&self.shared.counters.retries, requeued as u64);
    }
    self.retry_at = Some(now + self.backoff.next_delay());
    self.shared.emit(Event::Disconnected(Some(why)));
  }

  /// Consumes whatever the server already sent, without waiting.
  fn read_ready(&mut self, now: Instant) {
    while let Some(conn) = self.conn.as_mut() {
      let rlen = self.rlen;
      match conn.try_read(&mut self.rbuf[rlen..]) {
        Ok(0) => return,
        Ok(n) => self.on_read(n, now),
        Err(e) => return self.disconnect(Error::Io(e), now),
      }
    }
  }

  fn on_read(&mut self, n: usize, now: Instant) {
    if !self.shared.config.require_ack {
      // Nothing is expected without acks; whatever a server says is ignored.
      return;
    }
    self.rlen += n;
    loop {
      match parse_ack(&self.rbuf[..self.rlen]) {
        AckParse::Ack(id, used) => {
          // Our ids are 24 bytes; anything longer cannot match, so a short copy frees the borrow.
          let mut copy = [0u8; 32];
          let matched = id.len() <= copy.len() && {
            copy[..id.len()].copy_from_slice(id);
            let len = id.len();
            self.match_ack(&copy[..len])
          };
          if !matched {
            let what = format!(
              "ack for unknown chunk {}",
              String::from_utf8_lossy(&self.rbuf[..used.min(64)])
            );
            return self.disconnect(Error::AckMismatch(what), now);
          }
          self.rbuf.copy_within(used..self.rlen, 0);
          self.rlen -= used;
        }
        AckParse::Incomplete if self.rlen < self.rbuf.len() => return,
        AckParse::Incomplete => return self.disconnect(Error::AckMismatch("oversized response".into()), now),
        AckParse::Garbage(what) => return self.disconnect(Error::AckMismatch(what.into()), now),
      }
    }
  }

  fn match_ack(&mut self, id: &[u8]) -> bool {
    for i in 0..self.in_flight.len() {
      let f = &mut self.in_flight[i];
      if let Some(p) = f.ids.iter().position(|x| x.as_bytes() == id) {
        f.ids.swap_remove(p);
        if f.ids.is_empty() {
          let done = self.in_flight.remove(i).expect("index in range");
          self.shared.in_flight.store(self.in_flight.len(), Relaxed);
          self.settle_sent(done.chunk);
        }
        return true;
      }
    }
    false
  }

  fn settle_waiters(&mut self, now: Instant) {
    settle_waiters(&self.shared, now, self.finished);
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
          let eof = io::Error::new(io::ErrorKind::UnexpectedEof, "server closed the connection");
          self.disconnect(Error::Io(eof), now);
        }
        Ok(n) => self.on_read(n, now),
        Err(e) => self.disconnect(Error::Io(e), now),
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
    let mut leftover: Vec<Chunk> = self.pending.drain(..).collect();
    leftover.extend(self.in_flight.drain(..).map(|f| f.chunk));
    for c in &leftover {
      self.release(c);
    }
    let (refused, discarded) = {
      let mut q = self.shared.queue.lock();
      q.closed = true;
      leftover.extend(q.take_all());
      (q.refused, q.discarded)
    };
    self.shared.in_flight.store(0, Relaxed);
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
    self.settle_waiters(Instant::now());
    let callbacks = {
      let mut c = self.shared.control.lock();
      c.report = Some(report);
      if c.close_deadline.is_none() {
        c.close_deadline = Some(Instant::now());
      }
      std::mem::take(&mut c.close_done)
    };
    self.shared.stopped.notify_all();
    for cb in callbacks {
      cb(report);
    }
  }
}

/// Answers the flush waiters that are satisfied or past their deadline (all of them once `finished`).
fn settle_waiters(shared: &Shared, now: Instant, finished: bool) {
  if shared.control.lock().waiters.is_empty() {
    return;
  }
  let lost = shared.lost();
  let settled = Counters::get(&shared.counters.sent) + lost;
  let done: Vec<_> = {
    let mut c = shared.control.lock();
    let (ready, keep) = std::mem::take(&mut c.waiters)
      .into_iter()
      .partition(|w| finished || w.target <= settled || now >= w.deadline);
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
    settle_waiters(shared, now, false);
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
