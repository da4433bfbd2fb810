//! A sink that hands decoded events to an embedder (the Node addon's `FluentReceiver`) in batches.
//!
//! Each read batch becomes one buffer of concatenated msgpack arrays `[tag, time, record]`, where
//! `time` is an integer (seconds) or `[seconds, nanoseconds]` (an EventTime) and `record` is the
//! record's own bytes, copied as received. One buffer per read keeps the crossing to JS cheap: the
//! embedder decodes the whole buffer at once.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use crate::decode::Time;
use crate::event::EventSink;

/// Takes one batch and its event count; returns false if the batch could not be delivered.
pub type Deliver = Arc<dyn Fn(Vec<u8>, u64) -> bool + Send + Sync>;

/// State shared by every connection's [`RelaySink`].
pub struct Relay {
  deliver: Deliver,
  /// Off while nobody consumes events: then decoding is the counting walk and nothing is copied.
  enabled: AtomicBool,
  /// Events in batches handed to `deliver` successfully.
  relayed: AtomicU64,
  /// Events decoded while delivery was on but whose batch could not be delivered.
  lost: AtomicU64,
}

impl Relay {
  pub fn new(deliver: Deliver) -> Arc<Relay> {
    Arc::new(Relay {
      deliver,
      enabled: AtomicBool::new(false),
      relayed: AtomicU64::new(0),
      lost: AtomicU64::new(0),
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
      count: 0,
    }
  }
}

pub struct RelaySink {
  relay: Arc<Relay>,
  out: Vec<u8>,
  count: u64,
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
    if self.relay.enabled.load(Ordering::Relaxed) {
      encode_event(&mut self.out, tag, time, record);
      self.count += 1;
    }
  }

  fn flush_batch(&mut self) {
    if self.count == 0 {
      return;
    }
    let count = std::mem::take(&mut self.count);
    let keep = self.out.capacity().min(1 << 20);
    let batch = std::mem::replace(&mut self.out, Vec::with_capacity(keep));
    if (self.relay.deliver)(batch, count) {
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
    let relay = Relay::new(Arc::new(move |b, n| {
      g.lock().unwrap().push((b, n));
      n != 2
    }));
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
    assert_eq!(got[0].0, want);
    // The callback refused that batch of two.
    assert_eq!((relay.relayed(), relay.lost()), (0, 2));
    drop(got);
    sink.event(b"t", Time::Secs(1), &[0x80]);
    sink.flush_batch();
    assert_eq!(relay.relayed(), 1);
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
