//! What a client's JS stage holds and has not handed over, readable when no JS can run any more.
//!
//! `worker.terminate()` stops a Worker's JS wherever it is, so the timer that would hand the stage
//! over (src/stage.ts, within 10 ms) may never fire: records `emit` accepted are then only in the
//! client's stage buffer, a JS `Buffer`, when the env cleanup hook drains the clients. So JS tells
//! this side which buffer it stages into (`trackStage`, again whenever the buffer is replaced) and
//! keeps two Int32 marks next to it, `[start, end)`: the committed frames not yet handed over. The
//! hook hands those over itself (`take`).
//!
//! A handover of a block from the tracked buffer sets `start = end` here, inside the native call:
//! a termination between that call and JS's own bookkeeping then cannot make the hook send the
//! block a second time. JS moves the marks only in orders that never show a handed-over frame.

use fluent_forward::staging::Anchor;
use napi::bindgen_prelude::Buffer;
use std::time::Instant;

pub struct StageMarks {
  /// Held by reference, so the memory stays valid however long the JS side has moved on.
  stage: Buffer,
  /// Two native-endian i32: start and end, in bytes, of the frames not handed over.
  marks: Buffer,
  /// `performance.now()` when tracked, and the same moment on this clock: records stamped in JS
  /// (monotonic milliseconds) are timed at teardown from these, since no JS can read the clock then.
  mono_ms: f64,
  at: Instant,
}

impl StageMarks {
  /// `None` if `marks` cannot hold the two marks (a JS bug: nothing is tracked then).
  pub fn new(stage: Buffer, marks: Buffer, mono_ms: f64) -> Option<Self> {
    (marks.len() >= 8).then(|| Self {
      stage,
      marks,
      mono_ms,
      at: Instant::now(),
    })
  }

  fn get(&self) -> (usize, usize) {
    let at = |i: usize| i32::from_ne_bytes(self.marks[i..i + 4].try_into().expect("4 bytes"));
    (at(0).max(0) as usize, at(4).max(0) as usize)
  }

  fn set_start(&mut self, start: usize) {
    self.marks[0..4].copy_from_slice(&(start as i32).to_ne_bytes());
  }

  /// `block` is being handed over. If it is the stage's own (not a side buffer's nested record), it
  /// is everything the marks hold, which is then taken.
  pub fn handing_over(&mut self, block: &[u8]) {
    let stage = self.stage.as_ptr_range();
    let b = block.as_ptr_range();
    if !block.is_empty() && stage.start <= b.start && b.end <= stage.end {
      let (_, end) = self.get();
      self.set_start(end);
    }
  }

  /// The frames JS staged and never handed over, marked taken, with the anchor to time them by.
  /// `None` if there are none, or if the marks make no sense (they are JS's to keep right).
  pub fn take(&mut self) -> Option<(&[u8], Anchor)> {
    let (start, end) = self.get();
    if end <= start || end > self.stage.len() || start % 8 != 0 {
      return None;
    }
    self.set_start(end);
    let now = self.mono_ms + self.at.elapsed().as_secs_f64() * 1000.0;
    Some((&self.stage[start..end], Anchor::now(now)))
  }
}
