//! NDJSON streams (the pino destination and transport, `toWritable` in text mode): JS hands over
//! the bytes or string it was given, and the core turns its lines into records on this (the
//! calling) thread, straight into the client's queue. For `pino.transport` that thread is pino's
//! worker, not the application's.

use crate::convert::{to_napi, Code};
use crate::registry;
use fluent_forward::client::NdjsonSink;
use fluent_forward::ndjson::{Fed, Options, Transcoder};
use fluent_forward::{Client, Error};
use napi::bindgen_prelude::*;
use napi_derive::napi;
use std::sync::Arc;

/// In a `NativeNdjson` answer: lines are held back until there is room.
#[napi]
pub const NDJSON_HELD: u32 = 1;
/// In a `NativeNdjson` answer: the overflow policy or a closed client refused lines.
#[napi]
pub const NDJSON_REFUSED: u32 = 2;

/// How a stream of NDJSON lines becomes records (src/ndjson.ts fills it from the line options).
#[napi(object)]
pub struct NdjsonOptions {
  /// The fallback tag (and the tag of every line without `tagKey`).
  pub tag: String,
  /// Take the tag from this top-level string field.
  pub tag_key: Option<String>,
  /// This field is the entry's time (epoch ms, s or ISO 8601).
  pub time_key: Option<String>,
  /// Keep the time field in the record too.
  pub keep_time: bool,
  /// The level field to name.
  pub level_key: Option<String>,
  /// Numeric levels and their names, pairwise.
  pub levels: Vec<u32>,
  /// The names of `levels`, in the same order.
  pub level_names: Vec<String>,
  /// The field that carries a line that is not JSON.
  pub message_key: String,
  /// Longer lines are skipped and counted as too large.
  pub max_line_bytes: u32,
  /// Streams: keep lines until there is room instead of applying the overflow policy.
  pub wait_for_room: bool,
}

/// Lines seen by one stream, by what became of them.
#[napi(object)]
pub struct NdjsonCounts {
  /// Lines buffered as records.
  pub accepted: f64,
  /// Lines the overflow policy refused.
  pub refused: f64,
  /// Lines that were not one JSON object (sent under the fallback tag).
  pub invalid: f64,
  /// Lines past `max_line_bytes`, skipped.
  pub too_large: f64,
  /// Bytes held: a partial last line, or what waits for room.
  pub pending_bytes: f64,
}

/// Internal: used by src/ndjson.ts.
#[napi]
pub struct NativeNdjson {
  client: Arc<Client>,
  transcoder: Transcoder,
  wait_for_room: bool,
  max_line: usize,
  counts: [u64; 4],
}

#[napi]
impl NativeNdjson {
  /// For the client with this id (`NativeClient.id`, of this thread). Throws ERR_FLUENT_INVALID_TAG
  /// for a bad fallback tag, ERR_FLUENT_CONFIG for a client that is gone.
  #[napi(constructor, catch_unwind)]
  pub fn new(client_id: u32, options: NdjsonOptions) -> Result<Self, Code> {
    let client = registry::get(client_id)
      .ok_or_else(|| to_napi(Error::Config("the client is closed or gone".into())))?;
    // Pinned: the transcoder holds this id for its life (see `fluent_forward` tags).
    let fallback_tag = client.pin_tag(&options.tag).map_err(to_napi)?;
    if options.levels.len() != options.level_names.len() {
      return Err(to_napi(Error::Config(
        "levels and levelNames differ in length".into(),
      )));
    }
    let max_line = options.max_line_bytes as usize;
    let transcoder = Transcoder::new(Options {
      fallback_tag,
      tag_key: options.tag_key,
      time_key: options.time_key,
      keep_time: options.keep_time,
      level_key: options.level_key,
      level_names: options
        .levels
        .into_iter()
        .map(u64::from)
        .zip(options.level_names)
        .collect(),
      message_key: options.message_key,
      max_line_bytes: max_line,
    });
    Ok(Self {
      client,
      transcoder,
      wait_for_room: options.wait_for_room,
      max_line,
      counts: [0; 4],
    })
  }

  /// Transcodes the complete lines of `chunk`. Answers `HELD` (bit 0) when a stream waiting for
  /// room holds lines back (call `resume` once there is room) and `REFUSED` (bit 1) when the
  /// overflow policy or a closed client refused some; `0`: all are in the buffer.
  #[napi(catch_unwind)]
  pub fn write_bytes(&mut self, chunk: &[u8]) -> u32 {
    let mut sink = NdjsonSink {
      client: &self.client,
      wait_for_room: self.wait_for_room,
    };
    let fed = self.transcoder.feed(&mut sink, chunk);
    self.account(fed)
  }

  /// `write_bytes` for a string (thread-stream and pino hand over strings).
  #[napi(catch_unwind)]
  pub fn write_text(&mut self, chunk: String) -> u32 {
    let mut sink = NdjsonSink {
      client: &self.client,
      wait_for_room: self.wait_for_room,
    };
    let fed = self.transcoder.feed(&mut sink, chunk.as_bytes());
    self.account(fed)
  }

  /// Offers the held-back lines again; answers as `write_bytes`.
  #[napi(catch_unwind)]
  pub fn resume(&mut self) -> u32 {
    let mut sink = NdjsonSink {
      client: &self.client,
      wait_for_room: self.wait_for_room,
    };
    let fed = self.transcoder.resume(&mut sink);
    self.account(fed)
  }

  /// The input is complete: a last line without a newline becomes a record too.
  #[napi(catch_unwind)]
  pub fn end(&mut self) -> u32 {
    let mut sink = NdjsonSink {
      client: &self.client,
      wait_for_room: self.wait_for_room,
    };
    let fed = self.transcoder.end(&mut sink);
    self.account(fed)
  }

  /// What became of the lines so far.
  #[napi(catch_unwind)]
  pub fn counts(&self) -> NdjsonCounts {
    let [accepted, refused, invalid, too_large] = self.counts.map(|n| n as f64);
    NdjsonCounts {
      accepted,
      refused,
      invalid,
      too_large,
      pending_bytes: self.transcoder.pending_bytes() as f64,
    }
  }
}

impl Drop for NativeNdjson {
  fn drop(&mut self) {
    self.client.unpin_tag(self.transcoder.fallback_tag());
  }
}

impl NativeNdjson {
  /// Counts what one call did and reports the lines that were not plain records, once per call.
  fn account(&mut self, fed: Fed) -> u32 {
    self.counts[0] += fed.accepted;
    self.counts[1] += fed.refused;
    self.counts[2] += fed.invalid;
    self.counts[3] += fed.too_large;
    if fed.invalid > 0 {
      let why = fed.first_invalid.as_deref().unwrap_or("not a JSON object");
      // Not lost (records: 0): each went out as { messageKey: line } under the fallback tag.
      self.client.report(Error::Encode(format!(
        "{} line(s) were not one JSON object ({why}); sent as the raw line under the fallback tag",
        fed.invalid
      )));
    }
    if fed.too_large > 0 {
      let error = Error::RecordTooLarge {
        size: fed.too_large_bytes,
        max: self.max_line,
      };
      self.client.report_lost(error, fed.too_large);
    }
    (fed.blocked as u32) * NDJSON_HELD + ((fed.refused > 0) as u32) * NDJSON_REFUSED
  }
}

/// Bytes buffered by client `id` (as the cap counts them), or `-1` if it is gone or stopped: what
/// the `'drain'` watch (src/drain.ts) looks at.
#[napi(catch_unwind)]
pub fn queued_bytes(id: u32) -> f64 {
  match registry::get(id) {
    Some(client) if !client.stopped() => client.queued_bytes() as f64,
    _ => -1.0,
  }
}

/// Leaves client `id` (of this thread) out of the main thread's exit drain; see
/// `registry::exclude_from_process_exit`. For the pino transport's client.
#[napi(catch_unwind)]
pub fn exclude_from_process_exit(id: u32) {
  if let Some(client) = registry::get(id) {
    registry::exclude_from_process_exit(&client);
  }
}
