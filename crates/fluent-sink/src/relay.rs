//! A sink that hands decoded events to an embedder (the Node addon's `FluentReceiver`) in batches.
//!
//! A batch is one buffer of concatenated msgpack arrays `[tag, time, record]`, where `time` is an
//! integer (seconds) or `[seconds, nanoseconds]` (an EventTime) and `record` is the record's own
//! bytes, copied as received; then a trailer: each event's start offset as a u32 (little endian),
//! and the event count as a u32. The embedder decodes the whole buffer at once and, should one
//! event fail to decode, uses the offsets to go on with the next one.
//!
//! A batch ends at the end of each read, or earlier once it holds [`MAX_BATCH_EVENTS`] events or
//! would pass [`MAX_BATCH_BYTES`] (a batch of one event may be larger: one event is never split).
//! The embedder's `deliver` blocks while its queue is full, so a consumer that falls behind stops
//! the decoding (and with it the reading) instead of letting batches pile up.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use crate::decode::Time;
use crate::event::EventSink;
use crate::memory::Memory;

pub const MAX_BATCH_EVENTS: u64 = 16_384;
pub const MAX_BATCH_BYTES: usize = 1 << 20;

/// One batch on its way to the embedder, counted in the receiver's memory gauge until the
/// embedder takes its bytes ([`Batch::into_bytes`]) or drops it.
#[derive(Debug)]
pub struct Batch {
  bytes: Vec<u8>,
  events: u64,
  memory: Arc<Memory>,
}

impl Batch {
  pub fn events(&self) -> u64 {
    self.events
  }

  pub fn len(&self) -> usize {
    self.bytes.len()
  }

  pub fn is_empty(&self) -> bool {
    self.bytes.is_empty()
  }

  /// The bytes, no longer counted as the receiver's.
  pub fn into_bytes(mut self) -> Vec<u8> {
    self.memory.resized(self.bytes.capacity(), 0);
    std::mem::take(&mut self.bytes)
  }
}

impl Drop for Batch {
  fn drop(&mut self) {
    self.memory.resized(self.bytes.capacity(), 0);
  }
}

/// Takes one batch; returns false if it could not be delivered. May block while the consumer is
/// behind (that is the backpressure).
pub type Deliver = Arc<dyn Fn(Batch) -> bool + Send + Sync>;

/// State shared by every connection's [`RelaySink`].
pub struct Relay {
  deliver: Deliver,
  /// Off while nobody consumes events: then decoding is the counting walk and nothing is copied.
  enabled: AtomicBool,
  /// Events in batches handed to `deliver` successfully.
  relayed: AtomicU64,
  /// Events decoded while delivery was on but whose batch could not be delivered.
  lost: AtomicU64,
  memory: Arc<Memory>,
}

impl Relay {
  pub fn new(deliver: Deliver, memory: Arc<Memory>) -> Arc<Relay> {
    Arc::new(Relay {
      deliver,
      enabled: AtomicBool::new(false),
      relayed: AtomicU64::new(0),
      lost: AtomicU64::new(0),
      memory,
    })
  }

  pub fn set_enabled(&self, on: bool) {
    self.enabled.store(on, Ordering::SeqCst);
  }

  pub fn relayed(&self) -> u64 {
    self.relayed.load(Ordering::SeqCst)
  }

  pub fn lost(&self) -> u64 {
    self.lost.load(Ordering::Relaxed)
  }

  pub fn sink(self: &Arc<Self>) -> RelaySink {
    RelaySink {
      relay: self.clone(),
      out: Vec::new(),
      offsets: Vec::new(),
      count: 0,
    }
  }
}

/// Builds one connection's batches. Holds no memory between batches.
pub struct RelaySink {
  relay: Arc<Relay>,
  out: Vec<u8>,
  offsets: Vec<u32>,
  count: u64,
}

impl RelaySink {
  fn held(&self) -> usize {
    self.out.capacity() + 4 * self.offsets.capacity()
  }
}

fn uint(out: &mut Vec<u8>, n: u64) {
  if n < 0x80 {
    out.push(n as u8);
  } else if n <= 0xffff_ffff {
    out.push(0xce);
    out.extend_from_slice(&(n as u32).to_be_bytes());
  } else {
    out.push(0xcf);
    out.extend_from_slice(&n.to_be_bytes());
  }
}

fn str_header(out: &mut Vec<u8>, n: usize) {
  if n < 32 {
    out.push(0xa0 | n as u8);
  } else if n <= 0xff {
    out.extend_from_slice(&[0xd9, n as u8]);
  } else if n <= 0xffff {
    out.push(0xda);
    out.extend_from_slice(&(n as u16).to_be_bytes());
  } else {
    out.push(0xdb);
    out.extend_from_slice(&(n as u32).to_be_bytes());
  }
}

/// Appends one event as `[tag, time, record]`.
pub fn encode_event(out: &mut Vec<u8>, tag: &[u8], time: Time, record: &[u8]) {
  out.push(0x93);
  str_header(out, tag.len());
  out.extend_from_slice(tag);
  match time {
    Time::Secs(s) => uint(out, s),
    Time::Event(s, ns) => {
      out.push(0x92);
      uint(out, u64::from(s));
      uint(out, u64::from(ns));
    }
  }
  out.extend_from_slice(record);
}

impl EventSink for RelaySink {
  fn event(&mut self, tag: &[u8], time: Time, record: &[u8]) {
    // Read per event, not per batch: the flag may change while a long batch is being walked, and
    // a relaxed load costs nothing next to the copy.
    if !self.relay.enabled.load(Ordering::Relaxed) {
      return;
    }
    // Upper bound of the encoded event: headers of the array, tag and time are under 24 bytes.
    let size = tag.len() + record.len() + 24;
    if self.count >= MAX_BATCH_EVENTS || (self.count > 0 && self.out.len() + size > MAX_BATCH_BYTES) {
      self.flush_batch();
    }
    let before = self.held();
    // Offsets fit: the byte limits are at most MAX_LIMIT_BYTES (1 GiB), and so is one batch.
    self.offsets.push(self.out.len() as u32);
    encode_event(&mut self.out, tag, time, record);
    self.count += 1;
    let after = self.held();
    if after != before {
      self.relay.memory.resized(before, after);
    }
  }

  fn flush_batch(&mut self) {
    if self.count == 0 {
      return;
    }
    let count = std::mem::take(&mut self.count);
    let before = self.held();
    let mut out = std::mem::take(&mut self.out);
    let offsets = std::mem::take(&mut self.offsets);
    out.reserve_exact(4 * offsets.len() + 4);
    for o in offsets {
      out.extend_from_slice(&o.to_le_bytes());
    }
    out.extend_from_slice(&(count as u32).to_le_bytes());
    self.relay.memory.resized(before, out.capacity());
    let batch = Batch {
      bytes: out,
      events: count,
      memory: self.relay.memory.clone(),
    };
    if (self.relay.deliver)(batch) {
      self.relay.relayed.fetch_add(count, Ordering::SeqCst);
    } else {
      self.relay.lost.fetch_add(count, Ordering::Relaxed);
    }
  }
}

#[cfg(test)]
mod tests {
  use std::sync::Mutex;

  use super::*;

  #[test]
  fn batches_only_while_enabled() {
    let got = Arc::new(Mutex::new(Vec::new()));
    let g = got.clone();
    let memory = Arc::new(Memory::default());
    let relay = Relay::new(
      Arc::new(move |b: Batch| {
        let n = b.events();
        g.lock().unwrap().push((b.into_bytes(), n));
        n != 2
      }),
      memory.clone(),
    );
    let mut sink = relay.sink();
    sink.event(b"t", Time::Secs(5), &[0x80]);
    sink.flush_batch();
    assert!(got.lock().unwrap().is_empty());
    relay.set_enabled(true);
    sink.event(b"t", Time::Secs(300), &[0x80]);
    sink.event(b"t", Time::Event(1, 2), &[0x81, 0xa1, b'a', 0x01]);
    sink.flush_batch();
    sink.flush_batch();
    let got = got.lock().unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].1, 2);
    let mut want = vec![0x93, 0xa1, b't', 0xce, 0, 0, 1, 44, 0x80];
    want.extend([0x93, 0xa1, b't', 0x92, 1, 2, 0x81, 0xa1, b'a', 0x01]);
    // the trailer: offsets 0 and 9, then the count
    want.extend([0, 0, 0, 0, 9, 0, 0, 0, 2, 0, 0, 0]);
    assert_eq!(got[0].0, want);
    assert_eq!(memory.now(), 0, "delivered batches leave the gauge");
    // The callback refused that batch of two.
    assert_eq!((relay.relayed(), relay.lost()), (0, 2));
    drop(got);
    sink.event(b"t", Time::Secs(1), &[0x80]);
    sink.flush_batch();
    assert_eq!(relay.relayed(), 1);
  }

  #[test]
  fn batches_are_bounded_in_events_and_bytes() {
    let sizes = Arc::new(Mutex::new(Vec::new()));
    let g = sizes.clone();
    let memory = Arc::new(Memory::default());
    let relay = Relay::new(
      Arc::new(move |b: Batch| {
        g.lock().unwrap().push((b.events(), b.len()));
        true
      }),
      memory.clone(),
    );
    relay.set_enabled(true);
    let mut sink = relay.sink();
    // Tiny events: the event count ends batches.
    for _ in 0..(2 * MAX_BATCH_EVENTS + 5) {
      sink.event(b"t", Time::Secs(1), &[0x80]);
    }
    sink.flush_batch();
    let got: Vec<u64> = sizes.lock().unwrap().iter().map(|s| s.0).collect();
    assert_eq!(got, vec![MAX_BATCH_EVENTS, MAX_BATCH_EVENTS, 5]);
    // 100 KiB records: the byte size ends them, and one larger record is a batch of its own.
    sizes.lock().unwrap().clear();
    let mut record = vec![0x81, 0xa1, b'k', 0xc6];
    record.extend(((100 << 10) as u32).to_be_bytes());
    record.resize(record.len() + (100 << 10), b'x');
    for _ in 0..25 {
      sink.event(b"t", Time::Secs(1), &record);
    }
    let mut huge = vec![0x81, 0xa1, b'k', 0xc6];
    huge.extend(((3 << 20) as u32).to_be_bytes());
    huge.resize(huge.len() + (3 << 20), b'x');
    sink.event(b"t", Time::Secs(1), &huge);
    sink.flush_batch();
    let got = sizes.lock().unwrap().clone();
    assert_eq!(got.iter().map(|s| s.0).sum::<u64>(), 26);
    for &(n, len) in &got[..got.len() - 1] {
      assert!(
        len <= MAX_BATCH_BYTES + 4 * n as usize + 4,
        "{n} events in {len} bytes"
      );
    }
    assert_eq!(got.last().unwrap().0, 1);
    assert_eq!(memory.now(), 0);
  }

  #[test]
  fn long_tags_and_times() {
    let mut out = Vec::new();
    let tag = vec![b'x'; 40];
    encode_event(&mut out, &tag, Time::Secs(u64::MAX), &[0x80]);
    assert_eq!(&out[..3], &[0x93, 0xd9, 40]);
    assert_eq!(
      &out[43..52],
      &[0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
    );
  }
}
