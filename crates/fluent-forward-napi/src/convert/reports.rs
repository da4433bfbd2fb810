//! What the client reports to JS: `stats()`, the close report and the exit report.

use super::events::breaker_name;
use fluent_forward::{CloseReport, SpoolView, Stats};
use napi_derive::napi;

/// What `close()` resolves with: the public `CloseReport` (src/types.ts documents its fields), and `kept`.
#[napi(object)]
pub struct JsCloseReport {
  pub emitted: f64,
  pub refused: f64,
  /// With a failure handler: records waiting in the hand-over store when the writer stopped.
  pub kept: f64,
  pub sent: f64,
  pub dropped: f64,
  pub pending: f64,
  pub rejected: f64,
  pub replayed: f64,
  pub spooled: f64,
}

/// One client's outcome at exit.
#[napi(object)]
pub struct JsExitReport {
  /// The client's id (`NativeClient.id`).
  pub id: u32,
  /// This report sums the clients whose JS object was collected before they were closed.
  pub collected: bool,
  /// `false`: the writer had not stopped by the deadline; `pending` is then what it still held.
  pub stopped: bool,
  pub report: JsCloseReport,
  /// Records not delivered.
  pub pending: f64,
}

pub fn close_report(r: CloseReport) -> JsCloseReport {
  JsCloseReport {
    emitted: r.emitted as f64,
    refused: r.refused as f64,
    kept: r.kept as f64,
    sent: r.sent as f64,
    dropped: r.dropped as f64,
    pending: r.pending as f64,
    rejected: r.rejected as f64,
    replayed: r.replayed as f64,
    spooled: r.spooled as f64,
  }
}

/// A client's counters and state: each field is the public `FluentStats` field of the same name
/// (src/types.ts documents them once).
#[napi(object)]
pub struct JsStats {
  pub emitted: f64,
  pub refused: f64,
  pub pending: f64,
  pub sent: f64,
  pub dropped: f64,
  pub rejected: f64,
  pub queued_bytes: f64,
  pub queued_records: f64,
  pub in_flight_batches: f64,
  pub batches_sent: f64,
  pub bytes_sent: f64,
  pub connects: f64,
  pub reconnects: f64,
  pub errors: f64,
  pub retries: f64,
  pub events_lost: f64,
  pub connected: bool,
  /// `closed`, `open` or `halfOpen`: the first server's.
  pub breaker: String,
  pub duplicates: f64,
  pub handed_over: f64,
  pub handler_overflow: f64,
  pub retagged: f64,
  pub replayed: f64,
  pub spooled: f64,
  /// Unset without the `spool` option.
  pub spool: Option<JsSpoolStats>,
  pub servers: Vec<JsServerStats>,
}

/// `stats().spool` (see `fluent_forward::SpoolView`).
#[napi(object)]
pub struct JsSpoolStats {
  pub dir: String,
  pub slot: String,
  /// `ok` or `memoryOnly`.
  pub state: String,
  pub bytes: f64,
  pub files: f64,
  pub records: f64,
  pub appended: f64,
  pub replayed: f64,
  pub evicted: f64,
  pub not_spooled: f64,
  pub corrupted: f64,
  pub corrupted_bytes: f64,
  pub syncs: f64,
  pub unread_files: f64,
}

fn spool_to_js(v: SpoolView) -> JsSpoolStats {
  JsSpoolStats {
    dir: v.dir,
    slot: v.slot,
    state: if v.memory_only { "memoryOnly" } else { "ok" }.into(),
    bytes: v.bytes as f64,
    files: v.files as f64,
    records: v.records as f64,
    appended: v.appended as f64,
    replayed: v.replayed as f64,
    evicted: v.evicted as f64,
    not_spooled: v.not_spooled as f64,
    corrupted: v.corrupted as f64,
    corrupted_bytes: v.corrupted_bytes as f64,
    syncs: v.syncs as f64,
    unread_files: v.unread_files as f64,
  }
}

/// One server's state: the public `ServerStats` (src/types.ts).
#[napi(object)]
pub struct JsServerStats {
  pub address: String,
  pub healthy: bool,
  pub connected: bool,
  pub breaker: String,
  pub sent: f64,
  pub batches: f64,
  pub errors: f64,
  pub in_flight: f64,
}

pub fn stats_to_js(s: Stats) -> JsStats {
  JsStats {
    emitted: s.emitted as f64,
    refused: s.refused as f64,
    pending: s.pending as f64,
    sent: s.sent as f64,
    dropped: s.dropped as f64,
    rejected: s.rejected as f64,
    queued_bytes: s.queued_bytes as f64,
    queued_records: s.queued_records as f64,
    in_flight_batches: s.in_flight_batches as f64,
    batches_sent: s.batches_sent as f64,
    bytes_sent: s.bytes_sent as f64,
    connects: s.connects as f64,
    reconnects: s.reconnects as f64,
    errors: s.errors as f64,
    retries: s.retries as f64,
    events_lost: s.events_lost as f64,
    connected: s.connected,
    breaker: breaker_name(s.breaker).into(),
    duplicates: s.duplicates as f64,
    handed_over: s.handed_over as f64,
    handler_overflow: s.handler_overflow as f64,
    retagged: s.retagged as f64,
    replayed: s.replayed as f64,
    spooled: s.spooled as f64,
    spool: s.spool.map(spool_to_js),
    servers: s
      .servers
      .into_iter()
      .map(|v| JsServerStats {
        address: v.address,
        healthy: v.healthy,
        connected: v.connected,
        breaker: breaker_name(v.breaker).into(),
        sent: v.sent as f64,
        batches: v.batches as f64,
        errors: v.errors as f64,
        in_flight: v.in_flight as f64,
      })
      .collect(),
  }
}
