//! NDJSON in, records out: the lines a JSON logger (pino, or any `JSON.stringify` + `'\n'`) already
//! wrote become msgpack records without any JSON parsing in JS. Chunks may end anywhere, even
//! inside a UTF-8 sequence: the partial line is carried to the next chunk.
//!
//! Per line: the time field becomes the entry's EventTime (removed from the record unless kept),
//! a numeric level becomes its name, the tag comes from a field (or the fallback tag), and a line
//! that is not one JSON object is sent as `{ <messageKey>: <the raw line> }` under the fallback tag
//! and counted: never lost, never fatal.
//!
//! Memory: what is carried is bounded by `max_line_bytes`; a longer line is skipped to its end and
//! counted as too large.

mod time;
pub mod transcode;

use crate::codec::event_time::EventTime;
use crate::codec::primitives::{write_map_header, write_str};
use std::collections::HashMap;
use transcode::{Fields, Role, Scalar, Special};

/// How lines map to records.
#[derive(Clone, Debug)]
pub struct Options {
  /// Tag id for lines without a usable tag field, and for lines that are not JSON.
  pub fallback_tag: u32,
  /// Take the tag from this top-level string field (kept in the record).
  pub tag_key: Option<String>,
  /// This top-level field is the entry time (epoch ms or s, or an RFC 3339 string).
  pub time_key: Option<String>,
  /// Keep the time field in the record too.
  pub keep_time: bool,
  /// This top-level field is the level; numeric values found in `level_names` become names.
  pub level_key: Option<String>,
  pub level_names: Vec<(u64, String)>,
  /// The field that carries a line that is not JSON.
  pub message_key: String,
  /// Longest line carried across chunks or transcoded; longer lines are counted and skipped.
  pub max_line_bytes: usize,
}

/// What the record's destination answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Offer {
  Accepted,
  /// Refused by the overflow policy or because the client is closed (counted there).
  Refused,
  /// Not taken and not counted: no room now. The line is kept and offered again on `resume`.
  NoRoom,
  /// Larger than the destination takes at all.
  TooLarge,
}

/// Where records go (the client, or a test's vector).
pub trait Sink {
  /// The id of `tag`, or `None` if it is not a usable tag (then the fallback tag is used).
  fn tag_id(&mut self, tag: &str) -> Option<u32>;
  /// Moves when the sink forgot tags: cached ids are then stale (see `tags.rs`).
  fn tag_epoch(&mut self) -> u64 {
    0
  }
  fn offer(&mut self, tag: u32, time: Option<EventTime>, record: &[u8]) -> Offer;
}

/// What one `feed` or `end` call did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fed {
  pub accepted: u64,
  pub refused: u64,
  /// Lines that were not one JSON object (sent raw, in `accepted`/`refused` too).
  pub invalid: u64,
  /// Why the first of them was invalid.
  pub first_invalid: Option<String>,
  /// Lines skipped for being longer than `max_line_bytes` or larger than the destination takes.
  pub too_large: u64,
  /// The size of the largest of them (as far as it was read, for a line still arriving).
  pub too_large_bytes: usize,
  /// The destination had no room: the rest is kept until `resume`.
  pub blocked: bool,
}

/// Most tags remembered by name; beyond that each line asks the sink.
const TAG_CACHE: usize = 4096;

pub struct Transcoder {
  opts: Options,
  /// Bytes not yet turned into records: a partial last line, or (while blocked) everything from
  /// the line that found no room.
  pending: Vec<u8>,
  /// Inside a line that outgrew `max_line_bytes`: drop bytes up to its newline.
  skipping: bool,
  out: Vec<u8>,
  /// `out` with the time field removed and the level named, when there is something to edit.
  edited: Vec<u8>,
  specials: Vec<Special>,
  tags: HashMap<Box<str>, u32>,
  /// The sink's tag epoch `tags` was filled in.
  epoch: u64,
}

impl Fields for Options {
  fn role(&self, key: &str) -> Role {
    if self.time_key.as_deref() == Some(key) {
      Role::Time
    } else if self.level_key.as_deref() == Some(key) {
      Role::Level
    } else if self.tag_key.as_deref() == Some(key) {
      Role::Tag
    } else {
      Role::Plain
    }
  }
}

impl Transcoder {
  pub fn new(opts: Options) -> Self {
    Self {
      opts,
      pending: Vec::new(),
      skipping: false,
      out: Vec::with_capacity(1024),
      edited: Vec::with_capacity(1024),
      specials: Vec::with_capacity(3),
      tags: HashMap::new(),
      epoch: 0,
    }
  }

  /// The tag of lines that name none (or none usable).
  pub fn fallback_tag(&self) -> u32 {
    self.opts.fallback_tag
  }

  /// Cached tag ids are stale once the sink forgot tags (another caller's sweep, between calls).
  fn check_epoch(&mut self, sink: &mut dyn Sink) {
    let epoch = sink.tag_epoch();
    if epoch != self.epoch {
      self.tags.clear();
      self.epoch = epoch;
    }
  }

  /// Bytes held: the partial line, or what waits for room.
  pub fn pending_bytes(&self) -> usize {
    self.pending.len()
  }

  /// Turns every complete line of `chunk` (after what was pending) into a record.
  pub fn feed(&mut self, sink: &mut dyn Sink, chunk: &[u8]) -> Fed {
    self.check_epoch(sink);
    let mut fed = Fed::default();
    let mut input = chunk;
    if self.skipping {
      match memchr::memchr(b'\n', input) {
        None => return fed,
        Some(nl) => {
          self.skipping = false;
          input = &input[nl + 1..];
        }
      }
    }
    let mut pending = std::mem::take(&mut self.pending);
    if !pending.is_empty() {
      // Complete lines first (there are some only after a block), then the partial one.
      let used = self.lines(sink, &pending, &mut fed);
      pending.drain(..used);
      if !fed.blocked && !pending.is_empty() {
        match memchr::memchr(b'\n', input) {
          None => {
            self.carry(&mut pending, input, &mut fed);
            self.pending = pending;
            return fed;
          }
          Some(nl) => {
            pending.extend_from_slice(&input[..=nl]);
            input = &input[nl + 1..];
            let used = self.lines(sink, &pending, &mut fed);
            pending.drain(..used);
          }
        }
      }
      if fed.blocked {
        pending.extend_from_slice(input);
        self.pending = pending;
        return fed;
      }
    }
    let used = self.lines(sink, input, &mut fed);
    let rest = &input[used..];
    if fed.blocked {
      pending.extend_from_slice(rest);
    } else {
      self.carry(&mut pending, rest, &mut fed);
    }
    self.pending = pending;
    fed
  }

  /// After a block: offers what was kept again.
  pub fn resume(&mut self, sink: &mut dyn Sink) -> Fed {
    self.feed(sink, &[])
  }

  /// The input ended: what is pending, a last line without its newline included, becomes records.
  pub fn end(&mut self, sink: &mut dyn Sink) -> Fed {
    let mut fed = self.resume(sink);
    if !fed.blocked && !self.pending.is_empty() {
      let mut last = std::mem::take(&mut self.pending);
      last.push(b'\n');
      let used = self.lines(sink, &last, &mut fed);
      last.drain(..used);
      last.pop();
      self.pending = last;
    }
    self.skipping = false;
    fed
  }

  /// Keeps an incomplete line for the next chunk, unless it is already too long.
  fn carry(&mut self, pending: &mut Vec<u8>, rest: &[u8], fed: &mut Fed) {
    if pending.len() + rest.len() > self.opts.max_line_bytes {
      fed.too_large_bytes = fed.too_large_bytes.max(pending.len() + rest.len());
      pending.clear();
      self.skipping = true;
      fed.too_large += 1;
    } else {
      pending.extend_from_slice(rest);
    }
  }

  /// Turns the complete lines at the start of `buf` into records; returns the bytes used (up to
  /// the line that found no room, or up to after the last newline).
  fn lines(&mut self, sink: &mut dyn Sink, buf: &[u8], fed: &mut Fed) -> usize {
    let mut pos = 0;
    while let Some(nl) = memchr::memchr(b'\n', &buf[pos..]) {
      let mut line = &buf[pos..pos + nl];
      if let [rest @ .., b'\r'] = line {
        line = rest;
      }
      if !line.iter().all(u8::is_ascii_whitespace) {
        if line.len() > self.opts.max_line_bytes {
          fed.too_large += 1;
          fed.too_large_bytes = fed.too_large_bytes.max(line.len());
        } else {
          match self.line(sink, line, fed) {
            Offer::Accepted => fed.accepted += 1,
            Offer::Refused => fed.refused += 1,
            Offer::TooLarge => {
              fed.too_large += 1;
              fed.too_large_bytes = fed.too_large_bytes.max(self.out.len());
            }
            Offer::NoRoom => {
              fed.blocked = true;
              return pos;
            }
          }
        }
      }
      pos += nl + 1;
    }
    pos
  }

  fn line(&mut self, sink: &mut dyn Sink, line: &[u8], fed: &mut Fed) -> Offer {
    self.out.clear();
    self.specials.clear();
    let mut parsed = transcode::object(line, &self.opts, &mut self.out, &mut self.specials);
    if parsed.is_err() {
      // JSON.stringify writes a lone surrogate as an escape (`"\ud800"`), which serde_json refuses;
      // such a line keeps its fields with U+FFFD in its place, as the JS encoder does.
      if let Some(fixed) = replace_lone_surrogates(line) {
        if transcode::object(&fixed, &self.opts, &mut self.out, &mut self.specials).is_ok() {
          parsed = Ok(());
        }
      }
    }
    if let Err(why) = parsed {
      // Counted once per line, even if it is offered again after a block: the first answer counts.
      let offer = self.raw(sink, line);
      if offer != Offer::NoRoom {
        fed.invalid += 1;
        fed.first_invalid.get_or_insert(why);
      }
      return offer;
    }
    let mut tag = self.opts.fallback_tag;
    let mut time = None;
    let mut removed: Option<(usize, usize)> = None;
    let mut level: Option<(usize, usize, usize)> = None;
    for i in 0..self.specials.len() {
      let s = self.specials[i];
      match s.role {
        Role::Time => {
          time = time::event_time(s.value, &self.out);
          if time.is_some() && !self.opts.keep_time {
            removed = Some((s.key_start, s.value_end));
          }
        }
        Role::Level => {
          if let Scalar::U64(n) = s.value {
            if let Some(i) = self.opts.level_names.iter().position(|(l, _)| *l == n) {
              level = Some((s.value_start, s.value_end, i));
            }
          }
        }
        Role::Tag => {
          if let Scalar::Str(a, b) = s.value {
            if let Ok(name) = std::str::from_utf8(&self.out[a..b]) {
              tag = tag_of(
                &mut self.tags,
                &mut self.epoch,
                self.opts.fallback_tag,
                sink,
                name,
              );
            }
          }
        }
        Role::Plain => {}
      }
    }
    if removed.is_none() && level.is_none() {
      return sink.offer(tag, time, &self.out);
    }
    // The record again, without the time field and with the level's name: segments of `out`
    // copied around the edits (at most two, in order) into `edited`, under a recounted header.
    let mut edits = [
      removed.map(|(a, b)| (a, b, None)),
      level.map(|(a, b, i)| (a, b, Some(i))),
    ];
    if let [Some(x), Some(y)] = &edits {
      if x.0 > y.0 {
        edits.swap(0, 1);
      }
    }
    let (count, header) = map_header(&self.out);
    self.edited.clear();
    write_map_header(&mut self.edited, count - removed.is_some() as usize);
    let mut pos = header;
    for (a, b, name) in edits.into_iter().flatten() {
      self.edited.extend_from_slice(&self.out[pos..a]);
      if let Some(i) = name {
        write_str(&mut self.edited, &self.opts.level_names[i].1);
      }
      pos = b;
    }
    self.edited.extend_from_slice(&self.out[pos..]);
    sink.offer(tag, time, &self.edited)
  }

  /// A line that is not JSON, as `{ <messageKey>: <line> }` (invalid UTF-8 replaced).
  fn raw(&mut self, sink: &mut dyn Sink, line: &[u8]) -> Offer {
    self.out.clear();
    self.out.push(0x81);
    write_str(&mut self.out, &self.opts.message_key);
    write_str(&mut self.out, &String::from_utf8_lossy(line));
    sink.offer(self.opts.fallback_tag, None, &self.out)
  }
}

/// The id of a tag named in a line, remembered for the next lines.
fn tag_of(
  tags: &mut HashMap<Box<str>, u32>,
  epoch: &mut u64,
  fallback: u32,
  sink: &mut dyn Sink,
  name: &str,
) -> u32 {
  if let Some(id) = tags.get(name) {
    return *id;
  }
  let found = sink.tag_id(name);
  // The lookup may have swept the table to make room (a full table): what is cached is stale.
  let now = sink.tag_epoch();
  if now != *epoch {
    tags.clear();
    *epoch = now;
  }
  match found {
    Some(id) => {
      if tags.len() < TAG_CACHE {
        tags.insert(name.into(), id);
      }
      id
    }
    None => fallback,
  }
}

/// `line` with every `\uXXXX` escape of a lone UTF-16 surrogate turned into `\ufffd` (the same
/// length), or `None` if it has none.
fn replace_lone_surrogates(line: &[u8]) -> Option<Vec<u8>> {
  fn hex4(b: &[u8]) -> Option<u32> {
    let s = std::str::from_utf8(b.get(..4)?).ok()?;
    u32::from_str_radix(s, 16).ok()
  }
  let mut out: Option<Vec<u8>> = None;
  let mut i = 0;
  while i + 1 < line.len() {
    if line[i] != b'\\' {
      i += 1;
      continue;
    }
    if line[i + 1] != b'u' {
      i += 2;
      continue;
    }
    let Some(unit) = hex4(&line[i + 2..]) else {
      i += 2;
      continue;
    };
    let paired = (0xd800..0xdc00).contains(&unit)
      && line.get(i + 6..i + 8) == Some(b"\\u")
      && hex4(&line[i + 8..]).is_some_and(|low| (0xdc00..0xe000).contains(&low));
    if paired {
      i += 12;
    } else if (0xd800..0xe000).contains(&unit) {
      out.get_or_insert_with(|| line.to_vec())[i + 2..i + 6].copy_from_slice(b"fffd");
      i += 6;
    } else {
      i += 6;
    }
  }
  out
}

/// The element count and header length of the map the transcoder wrote at the start of `out`.
fn map_header(out: &[u8]) -> (usize, usize) {
  match out[0] {
    b @ 0x80..=0x8f => ((b & 0x0f) as usize, 1),
    0xde => (u16::from_be_bytes([out[1], out[2]]) as usize, 3),
    _ => (u32::from_be_bytes([out[1], out[2], out[3], out[4]]) as usize, 5),
  }
}

#[cfg(test)]
mod tests;
