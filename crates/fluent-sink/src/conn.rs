//! One connection: a read buffer that holds partial requests across reads, and the read loop.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::ack;
use crate::event::EventSink;
use crate::frame::{FrameError, Framer, MAX_FRAME};
use crate::request::{self, Fatal, Scratch};
use crate::stats::{Stats, Tally};

/// Large enough that a benchmark client's 512 KiB batches arrive in few reads.
pub const INITIAL_BUF: usize = 1 << 20;
/// Below this much free space at the tail, the partial request is moved to the front first.
const MIN_READ: usize = 64 << 10;
/// Reads between checks whether a grown buffer can be given back.
const SHRINK_EVERY: u32 = 256;

/// Why a connection was closed by us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
  Frame(FrameError),
  Request(Fatal),
}

/// The I/O-free part of a connection, so tests can feed it bytes split at any point.
#[derive(Debug)]
pub struct Session<S> {
  buf: Vec<u8>,
  /// `buf[start..end]` is received but not yet consumed: always at most one partial request.
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
    Session {
      buf: vec![0; INITIAL_BUF],
      start: 0,
      end: 0,
      framer: Framer::default(),
      scratch: Scratch::default(),
      tally: Tally::default(),
      acks: Vec::new(),
      pending_acks: 0,
      sink,
      ack,
      largest: 0,
      reads: 0,
    }
  }

  /// Free space to read into. Makes room first: compacts the partial request to the front, and
  /// grows the buffer (up to [`MAX_FRAME`]) when the framer knows the request needs more.
  pub fn space(&mut self) -> &mut [u8] {
    let partial = self.end - self.start;
    // `partial < need <= MAX_FRAME` (the framer enforces it), so at least one byte stays free.
    let want = self.framer.need().max(partial + MIN_READ).min(MAX_FRAME);
    if self.buf.len() - self.start < want {
      // Requests bigger than half the buffer would otherwise be moved to the front on nearly every
      // read; room for two of them keeps those copies rare.
      if want * 2 > self.buf.len() {
        self.buf.resize((want * 2).next_power_of_two().min(MAX_FRAME), 0);
      }
      if self.buf.len() - self.start < want {
        self.buf.copy_within(self.start..self.end, 0);
        self.end = partial;
        self.start = 0;
      }
    }
    &mut self.buf[self.end..]
  }

  /// Accounts for `n` bytes just read into [`Session::space`] and handles every request they
  /// complete. Acks for the handled requests are queued even when an error follows them.
  pub fn filled(&mut self, n: usize) -> Result<(), Closed> {
    self.end += n;
    self.tally.bytes += n as u64;
    let res = loop {
      if self.start == self.end {
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
          if let Some(chunk) = o.chunk.filter(|_| self.ack) {
            ack::encode(&mut self.acks, chunk);
            self.pending_acks += 1;
          }
        }
        Err(f) => break Err(Closed::Request(f)),
      }
      self.largest = self.largest.max(len);
      self.start += len;
    };
    if self.start == self.end {
      self.start = 0;
      self.end = 0;
    }
    self.reads += 1;
    if self.reads >= SHRINK_EVERY {
      // Give back the memory of occasional huge requests, but not while they keep coming.
      if self.start == self.end && self.buf.len() > 4 * INITIAL_BUF && self.largest * 8 < self.buf.len() {
        self.buf = vec![0; INITIAL_BUF];
      }
      self.reads = 0;
      self.largest = 0;
    }
    self.sink.flush_batch();
    if res.is_err() {
      self.tally.errors += 1;
    }
    res
  }

  /// Encoded acks waiting to be written.
  pub fn acks(&self) -> &[u8] {
    &self.acks
  }

  pub fn acks_sent(&mut self) {
    self.tally.acks += self.pending_acks;
    self.pending_acks = 0;
    self.acks.clear();
  }

  /// The peer closed; a request cut short is an error.
  pub fn eof(&mut self) {
    if self.start != self.end {
      self.tally.errors += 1;
    }
  }
}

/// Serves one connection until EOF, an I/O error or undecodable input.
pub async fn run<T, S>(io: T, stats: &Stats, sink: S)
where
  T: AsyncRead + AsyncWrite + Unpin,
  S: EventSink,
{
  run_with(io, stats, sink, true).await
}

/// As [`run`]; with `ack` false, chunks are never acknowledged.
pub async fn run_with<T, S>(mut io: T, stats: &Stats, sink: S, ack: bool)
where
  T: AsyncRead + AsyncWrite + Unpin,
  S: EventSink,
{
  let mut s = Session::with_acks(sink, ack);
  loop {
    let n = match io.read(s.space()).await {
      Ok(0) => {
        s.eof();
        break;
      }
      Ok(n) => n,
      Err(_) => {
        s.tally.errors += 1;
        break;
      }
    };
    let res = s.filled(n);
    if !s.acks().is_empty() {
      if io.write_all(s.acks()).await.is_err() {
        s.tally.errors += 1;
        break;
      }
      s.acks_sent();
    }
    stats.commit(&mut s.tally);
    if res.is_err() {
      break;
    }
  }
  stats.commit(&mut s.tally);
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
  fn large_requests_grow_the_buffer_and_too_large_ones_close() {
    // One PackedForward request of ~3 MiB in 100 KiB pieces.
    let entry = [0x92, 0x01, 0x81, 0xa1, b'k', 0xa1, b'v'];
    let count = 450_000;
    let mut req = vec![0x92, 0xa1, b't', 0xc6];
    req.extend(((entry.len() * count) as u32).to_be_bytes());
    for _ in 0..count {
      req.extend(entry);
    }
    let mut s = Session::new(());
    for piece in req.chunks(100 << 10) {
      feed(&mut s, piece).unwrap();
    }
    assert_eq!(s.tally.events, count as u64);

    let mut s = Session::new(());
    let too_big = [0x92, 0xa1, b't', 0xc6, 0x04, 0x00, 0x00, 0x01];
    assert_eq!(feed(&mut s, &too_big), Err(Closed::Frame(FrameError::TooLarge)));
    assert_eq!(s.tally.errors, 1);
  }
}
