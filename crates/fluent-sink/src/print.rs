//! The `--print` sink: one JSON line per valid event, written to stdout once per read batch.

use crate::decode::Time;
use crate::event::EventSink;
use crate::json::{event_line, string, Open};
use crate::output;

#[derive(Debug, Default)]
pub struct JsonSink {
  out: Vec<u8>,
  stack: Vec<Open>,
  /// Requests carry one tag for many events; rendering it once per tag change saves the escaping.
  tag_raw: Vec<u8>,
  tag_json: Vec<u8>,
}

impl JsonSink {
  /// Lines buffered since the last flush.
  pub fn pending(&self) -> &[u8] {
    &self.out
  }
}

impl EventSink for JsonSink {
  fn event(&mut self, tag: &[u8], time: Time, record: &[u8]) {
    if self.tag_json.is_empty() || tag != self.tag_raw.as_slice() {
      self.tag_raw.clear();
      self.tag_raw.extend_from_slice(tag);
      self.tag_json.clear();
      string(&mut self.tag_json, tag);
    }
    event_line(&mut self.out, &self.tag_json, time, record, &mut self.stack);
  }

  fn flush_batch(&mut self) {
    if !self.out.is_empty() {
      output::emit(&self.out);
      self.out.clear();
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn tag_changes_are_rendered() {
    let mut s = JsonSink::default();
    s.event(b"a\"", Time::Secs(1), &[0x80]);
    s.event(b"a\"", Time::Secs(2), &[0x80]);
    s.event(b"b", Time::Secs(3), &[0x80]);
    assert_eq!(
      String::from_utf8(s.pending().to_vec()).unwrap(),
      "{\"tag\":\"a\\\"\",\"time\":1,\"record\":{}}\n{\"tag\":\"a\\\"\",\"time\":2,\"record\":{}}\n{\"tag\":\"b\",\"time\":3,\"record\":{}}\n"
    );
  }
}
