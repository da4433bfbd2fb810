//! Whole-line writes to stdout, shared by event printing and command answers.

use std::io::Write;

/// Writes `bytes` (one or more complete lines) and flushes. Holding the stdout lock for the whole
/// write keeps lines from different connections and the command thread from interleaving.
/// Errors are ignored: a vanished reader means our parent is gone, and stdin EOF ends the process.
pub fn emit(bytes: &[u8]) {
  let mut out = std::io::stdout().lock();
  let _ = out.write_all(bytes);
  let _ = out.flush();
}

pub fn emit_line(line: &str) {
  let mut buf = Vec::with_capacity(line.len() + 1);
  buf.extend_from_slice(line.as_bytes());
  buf.push(b'\n');
  emit(&buf);
}
