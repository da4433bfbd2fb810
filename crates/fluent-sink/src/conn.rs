//! One connection: a read buffer that holds partial requests across reads, and the read loop.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::ack;
use crate::event::EventSink;
use crate::frame::{FrameError, Framer};
use crate::limits::Limits;
use crate::memory::Memory;
use crate::request::{self, Fatal, Scratch};
use crate::stats::{Stats, Tally};

/// What a new or quiet connection holds: 10,000 idle connections cost 40 MiB, not 10 GiB.
pub const INITIAL_BUF: usize = 4 << 10;
/// Every read is offered at least this much space.
const MIN_SPARE: usize = 4 << 10;
/// A buffer above this is given back once large requests stop coming.
const KEEP_BUF: usize = 1 << 20;
/// Reads between checks whether a grown buffer can be given back.
const SHRINK_EVERY: u32 = 256;
/// A connection that sends nothing for this long gives its read buffer back.
const QUIET: Duration = Duration::from_secs(1);

/// Why a connection was closed by us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
  Frame(FrameError),
  Request(Fatal),
}

/// The I/O-free part of a connection, so tests can feed it bytes split at any point.
///
/// The read buffer grows with the bytes received, never with a length a header declares: it
/// doubles only when a read filled all the space it was offered (or too little is left), and
/// never beyond `max_request_bytes` + [`MIN_SPARE`] (a partial request is always shorter than
/// `max_request_bytes`, the framer enforces it).
#[derive(Debug)]
pub struct Session<S> {
  buf: Vec<u8>,
  /// `buf[start..end]` is received but not yet consumed: a partial request, or complete requests
  /// left for after a yield (see [`Session::backlog`]).
  start: usize,
  end: usize,
  framer: Framer,
  scratch: Scratch,
  pub tally: Tally,
  acks: Vec<u8>,
  pending_acks: u64,
  sink: S,
  /// Whether requests carrying a `chunk` are acknowledged (a test server may withhold acks).
  ack: bool,
  limits: Limits,
  memory: Arc<Memory>,
  /// Space offered by the last [`Session::space`], and whether the read after it filled it all.
  offered: usize,
  filled_all: bool,
  /// Complete requests wait in the buffer: this read inflated `max_inflated_bytes` already.
  backlog: bool,
  /// When the request now in progress began arriving.
  partial_since: Option<Instant>,
  /// Largest request seen in the current shrink window, and reads in that window.
  largest: usize,
  reads: u32,
}

impl<S: EventSink> Session<S> {
  pub fn new(sink: S) -> Self {
    Self::with_acks(sink, true)
  }

  /// As [`Session::new`]; with `ack` false, chunks are never acknowledged.
  pub fn with_acks(sink: S, ack: bool) -> Self {
    Self::with_limits(sink, ack, Limits::default(), Arc::default())
  }

  /// As [`Session::with_acks`], with these limits and every buffer accounted in `memory`.
  pub fn with_limits(sink: S, ack: bool, limits: Limits, memory: Arc<Memory>) -> Self {
    Session {
      buf: Vec::new(),
      start: 0,
      end: 0,
      framer: Framer::new(limits.max_request_bytes),
      scratch: Scratch::new(limits.max_inflated_bytes, memory.clone()),
      tally: Tally::default(),
      acks: Vec::new(),
      pending_acks: 0,
      sink,
      ack,
      limits,
      memory,
      offered: 0,
      filled_all: false,
      backlog: false,
      partial_since: None,
      largest: 0,
      reads: 0,
    }
  }

  fn set_len(&mut self, len: usize) {
    let before = self.buf.capacity();
    if len < self.buf.len() {
      self.buf = vec![0; len];
    } else {
      self.buf.reserve_exact(len - self.buf.len());
      self.buf.resize(len, 0);
    }
    self.memory.resized(before, self.buf.capacity());
  }

  /// Free space to read into (at least [`MIN_SPARE`] bytes).
  pub fn space(&mut self) -> &mut [u8] {
    if self.buf.len() - self.end < MIN_SPARE && self.start > 0 {
      self.buf.copy_within(self.start..self.end, 0);
      self.end -= self.start;
      self.start = 0;
    }
    let spare = self.buf.len() - self.end;
    if spare < MIN_SPARE || self.filled_all {
      let limit = self.limits.max_request_bytes + MIN_SPARE;
      let len = (self.buf.len() * 2)
        .max(INITIAL_BUF)
        .min(limit)
        .max(self.end + MIN_SPARE);
      if len > self.buf.len() {
        self.set_len(len);
      }
    }
    self.offered = self.buf.len() - self.end;
    &mut self.buf[self.end..]
  }

  /// Whether complete requests wait to be handled by `filled(0)` (after letting others run).
  pub fn backlog(&self) -> bool {
    self.backlog
  }

  /// When the request in progress began arriving, if one is.
  pub fn partial_since(&self) -> Option<Instant> {
    self.partial_since
  }

  /// The peer has been quiet: give the read buffer back if no request is in progress.
  pub fn quiet(&mut self) {
    if self.start == self.end && self.buf.len() > INITIAL_BUF {
      self.start = 0;
      self.end = 0;
      self.set_len(INITIAL_BUF);
    }
  }

  /// Accounts for `n` bytes just read into [`Session::space`] and handles the requests they
  /// complete. Acks for the handled requests are queued even when an error follows them.
  /// Stops early once this read inflated `max_inflated_bytes` ([`Session::backlog`]).
  pub fn filled(&mut self, n: usize) -> Result<(), Closed> {
    self.filled_all = n > 0 && n == self.offered;
    self.end += n;
    self.tally.bytes += n as u64;
    self.backlog = false;
    let mut inflated = 0;
    let mut handled = false;
    let res = loop {
      if self.start == self.end {
        break Ok(());
      }
      if inflated >= self.limits.max_inflated_bytes {
        self.backlog = true;
        break Ok(());
      }
      let len = match self.framer.advance(&self.buf[self.start..self.end]) {
        Ok(Some(len)) => len,
        Ok(None) => break Ok(()),
        Err(e) => break Err(Closed::Frame(e)),
      };
      let frame = &self.buf[self.start..self.start + len];
      match request::handle(frame, &mut self.scratch, &mut self.sink) {
        Ok(o) => {
          if o.request {
            let t = &mut self.tally;
            t.requests += 1;
            t.events += o.counts.valid;
            t.invalid += o.counts.entries - o.counts.valid;
            t.size_mismatch += u64::from(o.size_mismatch);
          }
          inflated += o.inflated;
          if let Some(chunk) = o.chunk.filter(|_| self.ack) {
            ack::encode(&mut self.acks, chunk);
            self.pending_acks += 1;
          }
        }
        Err(f) => break Err(Closed::Request(f)),
      }
      handled = true;
      self.largest = self.largest.max(len);
      self.start += len;
    };
    if self.start == self.end {
      self.start = 0;
      self.end = 0;
      self.partial_since = None;
    } else if handled || self.partial_since.is_none() {
      self.partial_since = Some(Instant::now());
    }
    self.reads += 1;
    if self.reads >= SHRINK_EVERY {
      // Give back the memory of occasional huge requests, but not while they keep coming.
      if self.start == self.end && self.buf.len() > KEEP_BUF && self.largest * 8 < self.buf.len() {
        self.set_len(INITIAL_BUF);
      }
      self.reads = 0;
      self.largest = 0;
    }
    self.sink.flush_batch();
    if let Err(e) = res {
      self.tally.errors += 1;
      if matches!(
        e,
        Closed::Frame(FrameError::TooLarge) | Closed::Request(Fatal::TooLarge)
      ) {
        self.tally.too_large += 1;
      }
    }
    res
  }

  /// The sink events go to (tests read what it collected).
  pub fn sink_mut(&mut self) -> &mut S {
    &mut self.sink
  }

  /// Encoded acks waiting to be written.
  pub fn acks(&self) -> &[u8] {
    &self.acks
  }

  /// The acks encoded so far are about to be written: counted now (see `serve`).
  pub fn count_acks(&mut self) {
    self.tally.acks += self.pending_acks;
    self.pending_acks = 0;
  }

  /// The encoded acks were written.
  pub fn acks_sent(&mut self) {
    self.acks.clear();
  }

  /// The peer closed; a request cut short is an error.
  pub fn eof(&mut self) {
    if self.start != self.end {
      self.tally.errors += 1;
    }
  }
}

impl<S> Drop for Session<S> {
  fn drop(&mut self) {
    self.memory.resized(self.buf.capacity(), 0);
  }
}

/// Serves one connection with the default limits until EOF, an I/O error or undecodable input.
pub async fn run<T, S>(io: T, stats: &Stats, sink: S)
where
  T: AsyncRead + AsyncWrite + Unpin,
  S: EventSink,
{
  run_with(io, stats, sink, true, &Limits::default()).await
}

/// What ended a wait for bytes.
enum Wait {
  Read(std::io::Result<usize>),
  /// The idle or request deadline passed.
  Expired,
}

/// Reads into `s` until `deadline`, giving the buffer back once the peer has been quiet a while.
async fn read_until<T, S>(io: &mut T, s: &mut Session<S>, deadline: Instant) -> Wait
where
  T: AsyncRead + Unpin,
  S: EventSink,
{
  let quiet_at = Instant::now() + QUIET;
  if quiet_at < deadline {
    // Cancel-safe: a read that times out has taken no bytes (true of TcpStream and TLS streams).
    match tokio::time::timeout_at(quiet_at.into(), io.read(s.space())).await {
      Ok(r) => return Wait::Read(r),
      Err(_) => s.quiet(),
    }
  }
  match tokio::time::timeout_at(deadline.into(), io.read(s.space())).await {
    Ok(r) => Wait::Read(r),
    Err(_) => Wait::Expired,
  }
}

/// As [`run`]; with `ack` false, chunks are never acknowledged. The connection is closed when
/// a request is not complete within `request_timeout` of its first byte, or when no request
/// starts within `idle_timeout`.
pub async fn run_with<T, S>(mut io: T, stats: &Stats, sink: S, ack: bool, limits: &Limits)
where
  T: AsyncRead + AsyncWrite + Unpin,
  S: EventSink,
{
  let mut s = Session::with_limits(sink, ack, *limits, stats.memory.clone());
  let mut last = Instant::now();
  loop {
    let res = if s.backlog() {
      // This read inflated its share: let other connections run before the rest of it.
      tokio::task::yield_now().await;
      s.filled(0)
    } else {
      let deadline = match s.partial_since() {
        Some(t) => t + limits.request_timeout,
        None => last + limits.idle_timeout,
      };
      match read_until(&mut io, &mut s, deadline).await {
        Wait::Read(Ok(0)) => {
          s.eof();
          break;
        }
        Wait::Read(Ok(n)) => {
          last = Instant::now();
          s.filled(n)
        }
        Wait::Read(Err(_)) => {
          s.tally.errors += 1;
          break;
        }
        Wait::Expired => {
          s.tally.timeouts += 1;
          // A request cut short by its deadline is an error; an idle connection is not.
          if s.partial_since().is_some() {
            s.tally.errors += 1;
          }
          break;
        }
      }
    };
    // Counted before the acks go out (requests, events and the acks themselves): a client that
    // has its ack finds both in the stats. A write that fails is an error, committed after the loop.
    s.count_acks();
    stats.commit(&mut s.tally);
    if !s.acks().is_empty() {
      if io.write_all(s.acks()).await.is_err() {
        s.tally.errors += 1;
        break;
      }
      s.acks_sent();
    }
    if res.is_err() {
      break;
    }
  }
  stats.commit(&mut s.tally);
  drop(s);
  let _ = io.shutdown().await;
}

#[cfg(test)]
mod tests {
  use super::*;

  fn feed<S: EventSink>(s: &mut Session<S>, mut data: &[u8]) -> Result<(), Closed> {
    while !data.is_empty() {
      let space = s.space();
      let n = space.len().min(data.len());
      space[..n].copy_from_slice(&data[..n]);
      data = &data[n..];
      s.filled(n)?;
      while s.backlog() {
        s.filled(0)?;
      }
    }
    Ok(())
  }

  /// Message mode with a chunk, a heartbeat, then PackedForward with size: 1.
  fn stream() -> Vec<u8> {
    let mut v = vec![0x94, 0xa1, b't', 0x01, 0x81, 0xa1, b'a', 0x01];
    v.extend([0x81, 0xa5, b'c', b'h', b'u', b'n', b'k', 0xa2, b'i', b'd']);
    v.push(0xc0);
    v.extend([0x93, 0xa1, b't', 0xc4, 0x05, 0x92, 0x02, 0x81, 0xa0, 0xc0]);
    v.extend([0x81, 0xa4, b's', b'i', b'z', b'e', 0x01]);
    v
  }

  #[test]
  fn split_at_every_byte_across_two_reads() {
    let data = stream();
    for cut in 0..=data.len() {
      let mut s = Session::new(());
      feed(&mut s, &data[..cut]).unwrap();
      feed(&mut s, &data[cut..]).unwrap();
      assert_eq!(s.tally.events, 2, "cut {cut}");
      assert_eq!(s.tally.requests, 2, "cut {cut}");
      assert_eq!(
        s.tally.invalid + s.tally.size_mismatch + s.tally.errors,
        0,
        "cut {cut}"
      );
      assert_eq!(s.tally.bytes, data.len() as u64);
      assert_eq!(
        s.acks(),
        [0x81, 0xa3, b'a', b'c', b'k', 0xa2, b'i', b'd'],
        "cut {cut}"
      );
      s.eof();
      assert_eq!(s.tally.errors, 0);
    }
  }

  #[test]
  fn withheld_acks_still_count_events() {
    let mut s = Session::with_acks((), false);
    feed(&mut s, &stream()).unwrap();
    assert_eq!(s.tally.events, 2);
    assert!(s.acks().is_empty());
  }

  #[test]
  fn byte_by_byte() {
    let data = stream().repeat(3);
    let mut s = Session::new(());
    for b in &data {
      feed(&mut s, std::slice::from_ref(b)).unwrap();
    }
    assert_eq!(s.tally.events, 6);
    assert_eq!(s.acks().len(), 3 * 8);
  }

  #[test]
  fn garbage_closes_after_acking_what_came_before() {
    let mut data = stream();
    data.extend(b"garbage");
    let mut s = Session::new(());
    assert_eq!(feed(&mut s, &data), Err(Closed::Frame(FrameError::Malformed)));
    assert_eq!(s.tally.events, 2);
    assert_eq!(s.tally.errors, 1);
    assert_eq!(s.acks().len(), 8);
  }

  #[test]
  fn truncated_request_at_eof_is_an_error() {
    let data = stream();
    let mut s = Session::new(());
    feed(&mut s, &data[..data.len() - 1]).unwrap();
    s.eof();
    assert_eq!(s.tally.errors, 1);
  }

  #[test]
  fn a_declared_length_reserves_nothing() {
    // The header of a 6,000,000-byte bin32 (under the default limit): 8 bytes arrive.
    let memory = Arc::new(Memory::default());
    let mut s = Session::with_limits((), true, Limits::default(), memory.clone());
    let header = [0x92, 0xa1, b't', 0xc6, 0x00, 0x5b, 0x8d, 0x80];
    feed(&mut s, &header).unwrap();
    assert!(memory.peak() <= INITIAL_BUF as u64, "peak {}", memory.peak());
    // Then the bytes come: the buffer grows with them, and never past the request limit.
    let mut body = vec![0x92, 0x01, 0x80];
    body.resize(6_000_000, 0xc0);
    feed(&mut s, &body[..1_000_000]).unwrap();
    assert!(memory.peak() <= 2 * 1_000_000 + 2 * MIN_SPARE as u64 + INITIAL_BUF as u64);
    drop(s);
    assert_eq!(memory.now(), 0);
  }

  #[test]
  fn requests_over_the_limit_close_counted() {
    let limits = Limits {
      max_request_bytes: 1000,
      ..Limits::default()
    };
    let mut s = Session::with_limits((), true, limits, Arc::default());
    // bin16 of 1,000 bytes: the request is certain to be longer than 1,000.
    assert_eq!(
      feed(&mut s, &[0x92, 0xa1, b't', 0xc5, 0x03, 0xe8]),
      Err(Closed::Frame(FrameError::TooLarge))
    );
    assert_eq!((s.tally.errors, s.tally.too_large), (1, 1));
  }

  #[test]
  fn large_requests_grow_the_buffer_and_too_large_ones_close() {
    // One PackedForward request of ~3 MiB in 100 KiB pieces.
    let entry = [0x92, 0x01, 0x81, 0xa1, b'k', 0xa1, b'v'];
    let count = 450_000;
    let mut req = vec![0x92, 0xa1, b't', 0xc6];
    req.extend(((entry.len() * count) as u32).to_be_bytes());
    for _ in 0..count {
      req.extend(entry);
    }
    let limits = Limits {
      max_request_bytes: 4 << 20,
      ..Limits::default()
    };
    let memory = Arc::new(Memory::default());
    let mut s = Session::with_limits((), true, limits, memory.clone());
    for piece in req.chunks(100 << 10) {
      feed(&mut s, piece).unwrap();
    }
    assert_eq!(s.tally.events, count as u64);
    assert!(memory.peak() <= (4 << 20) + MIN_SPARE as u64);

    let mut s = Session::new(());
    let too_big = [0x92, 0xa1, b't', 0xc6, 0x04, 0x00, 0x00, 0x01];
    assert_eq!(feed(&mut s, &too_big), Err(Closed::Frame(FrameError::TooLarge)));
    assert_eq!(s.tally.errors, 1);
  }
}
