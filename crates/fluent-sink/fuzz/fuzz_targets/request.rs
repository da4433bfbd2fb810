//! `request::handle` on one arbitrary request: no panic; every event handed to the sink has a
//! record that is one complete msgpack value lying inside the request; valid <= entries.
#![no_main]

use std::sync::Arc;

use fluent_sink::decode::{skip, Time};
use fluent_sink::event::EventSink;
use fluent_sink::memory::Memory;
use fluent_sink::request::{handle, Scratch};
use libfuzzer_sys::fuzz_target;

struct Check(u64);

impl EventSink for Check {
  fn event(&mut self, _tag: &[u8], time: Time, record: &[u8]) {
    assert_eq!(skip(record, 0, 1), Ok(record.len()), "record is exactly one value");
    if let Time::Event(_, _) | Time::Secs(_) = time {}
    self.0 += 1;
  }
}

fuzz_target!(|data: &[u8]| {
  let memory = Arc::new(Memory::default());
  let mut scratch = Scratch::new(64 << 10, memory.clone());
  let mut sink = Check(0);
  if let Ok(out) = handle(data, &mut scratch, &mut sink) {
    assert!(out.counts.valid <= out.counts.entries);
    assert_eq!(out.counts.valid, sink.0);
    assert!(out.inflated <= 64 << 10);
  }
  assert_eq!(memory.now(), 0, "the inflate buffer is released after every request");
});
