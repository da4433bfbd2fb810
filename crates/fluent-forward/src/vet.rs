//! The last check before a batch goes on the wire: every entry must be `[time, record]` with a
//! record that is exactly one valid msgpack map. The JS encoder is trusted to produce that, and is
//! tested for it; this walk makes a bug there cost the bad record alone (dropped, counted and
//! reported) instead of the whole batch the server would refuse to decode. It runs on the writer
//! thread, once per batch, so the JS thread does not pay for it. It checks structure, not UTF-8:
//! servers decode a batch whatever its strings hold, and every way into the queue already yields
//! UTF-8: the encoder's strings come from `utf8Write` (lone surrogates become U+FFFD), NDJSON lines
//! are parsed by serde_json (which refuses bad UTF-8) or sent raw through `from_utf8_lossy`, and
//! `emitRaw` records and entries given back by a failure handler are checked in full on entry. In a service logging one record per request (bench/service.ts's logger, 8,000
//! requests/s, perf at 5 kHz) `from_utf8` alone was 72 of the writer thread's 253 samples.

use crate::codec::validate::{object_structure_len, structure_len};
use crate::queue::Chunk;

/// Is `entry` a `[time, record]` pair whose record is one valid map, with nothing after it?
fn valid_entry(entry: &[u8]) -> bool {
  if entry.first() != Some(&0x92) {
    return false;
  }
  let Ok(time) = object_structure_len(&entry[1..], 0) else {
    return false;
  };
  let record = &entry[1 + time..];
  structure_len(record) == Ok(record.len())
}

/// Removes the entries that are not valid, keeping the order of the rest. Returns how many records
/// and how many bytes of footprint (entry bytes plus index) were removed; `(0, 0)`, with the chunk
/// untouched, in the normal case.
pub fn vet(chunk: &mut Chunk) -> (usize, usize) {
  let n = chunk.records();
  let Some(first_bad) = (0..n).find(|&i| !valid_entry(chunk.entry(i))) else {
    return (0, 0);
  };
  let before = chunk.footprint();
  let mut entries = Vec::with_capacity(chunk.entries.len());
  let mut offsets = Vec::with_capacity(n);
  for i in 0..n {
    let entry = chunk.entry(i);
    if i < first_bad || (i > first_bad && valid_entry(entry)) {
      offsets.push(entries.len() as u32);
      entries.extend_from_slice(entry);
    }
  }
  let removed = n - offsets.len();
  chunk.entries = entries;
  chunk.offsets = offsets;
  (removed, before - chunk.footprint())
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::queue::INDEX_BYTES;
  use std::sync::Arc;
  use std::time::Instant;

  fn chunk(entries: &[&[u8]]) -> Chunk {
    let mut c = Chunk {
      tag: Arc::from("t"),
      tag_id: 0,
      entries: Vec::new(),
      offsets: Vec::new(),
      since: Instant::now(),
    };
    for e in entries {
      c.offsets.push(c.entries.len() as u32);
      c.entries.extend_from_slice(e);
    }
    c
  }

  const GOOD: &[u8] = &[0x92, 0x05, 0x81, 0xa1, b'a', 0x01];
  const GOOD_EVENT_TIME: &[u8] = &[0x92, 0xd7, 0x00, 0, 0, 0, 1, 0, 0, 0, 2, 0x80];
  /// The map says two pairs and holds one: a server cannot decode what follows.
  const SHORT_MAP: &[u8] = &[0x92, 0x05, 0x82, 0xa1, b'a', 0x01];
  /// One byte too many after the map.
  const TRAILING: &[u8] = &[0x92, 0x05, 0x80, 0x01];

  #[test]
  fn valid_batches_are_left_alone() {
    let mut c = chunk(&[GOOD, GOOD_EVENT_TIME, GOOD]);
    let before = c.entries.clone();
    assert_eq!(vet(&mut c), (0, 0));
    assert_eq!(c.entries, before);
  }

  #[test]
  fn invalid_entries_are_removed_and_the_rest_kept_in_order() {
    let mut c = chunk(&[GOOD, SHORT_MAP, GOOD_EVENT_TIME, TRAILING, GOOD]);
    let footprint = c.footprint();
    let (n, bytes) = vet(&mut c);
    assert_eq!(n, 2);
    assert_eq!(bytes, SHORT_MAP.len() + TRAILING.len() + 2 * INDEX_BYTES);
    assert_eq!(c.footprint(), footprint - bytes);
    assert_eq!(c.records(), 3);
    assert_eq!(c.entry(0), GOOD);
    assert_eq!(c.entry(1), GOOD_EVENT_TIME);
    assert_eq!(c.entry(2), GOOD);
  }

  /// Structure, not UTF-8: a str of bytes that are not UTF-8 still decodes on every server, so the
  /// last check lets it through (emitRaw checks UTF-8 when a record comes in; the encoder cannot
  /// write anything else), while a record whose structure is broken is still removed.
  #[test]
  fn strings_are_not_checked_for_utf8_here() {
    const NOT_UTF8: &[u8] = &[0x92, 0x05, 0x81, 0xa1, b'a', 0xa1, 0xff];
    let mut c = chunk(&[GOOD, NOT_UTF8, SHORT_MAP]);
    assert_eq!(vet(&mut c).0, 1);
    assert_eq!(c.records(), 2);
    assert_eq!(c.entry(1), NOT_UTF8);
  }
}
