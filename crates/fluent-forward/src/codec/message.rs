//! Message: `[tag, time, record, option?]`, one request per event (PROTOCOL.md §2).

use super::primitives::{write_array_header, write_str};
use super::RequestOptions;

/// `entry` is one encoded Entry (`92 <time> <record>`): its time and record are reused as they are.
pub fn write_request(out: &mut Vec<u8>, tag: &str, entry: &[u8], chunk: Option<&str>) {
  debug_assert_eq!(entry.first(), Some(&0x92));
  write_array_header(out, if chunk.is_some() { 4 } else { 3 });
  write_str(out, tag);
  out.extend_from_slice(&entry[1..]);
  if chunk.is_some() {
    RequestOptions {
      chunk,
      ..Default::default()
    }
    .write(out);
  }
}
