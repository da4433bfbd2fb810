//! PackedForward: `[tag, bin(concatenated entries), option]` (PROTOCOL.md §2).
//! CompressedPackedForward is the same frame with gzip'd entries and `compressed: "gzip"`.

use super::primitives::{write_array_header, write_bin_header, write_str};
use super::RequestOptions;

/// `entries` is the concatenation of encoded Entry arrays (or their gzip, with `opts.gzip`).
pub fn write_request(out: &mut Vec<u8>, tag: &str, entries: &[u8], opts: &RequestOptions) {
  let (len, with_opts) = opts.array_len_and_write();
  write_array_header(out, len);
  write_str(out, tag);
  write_bin_header(out, entries.len());
  out.extend_from_slice(entries);
  if with_opts {
    opts.write(out);
  }
}
