//! Forward: `[tag, [entry, ...], option]` (PROTOCOL.md §2). Entries are already encoded, so the
//! array header is written and the entry bytes follow verbatim, with no re-encoding.

use super::primitives::{write_array_header, write_str};
use super::RequestOptions;

pub fn write_request(out: &mut Vec<u8>, tag: &str, entries: &[u8], count: usize, opts: &RequestOptions) {
  let (len, with_opts) = opts.array_len_and_write();
  write_array_header(out, len);
  write_str(out, tag);
  write_array_header(out, count);
  out.extend_from_slice(entries);
  if with_opts {
    opts.write(out);
  }
}
