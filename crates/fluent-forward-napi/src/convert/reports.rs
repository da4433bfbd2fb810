//! What the client reports to JS: `stats()`, the close report and the exit report.

use super::events::breaker_name;
use fluent_forward::{CloseReport, SpoolView, Stats};
use napi_derive::napi;

/// What `close()` resolves with: the writer's terms of the public `CloseReport` (src/types.ts), and `kept`.
#[napi(object)]
pub struct JsCloseReport {
  /// Records accepted at emit over the client's life.
  pub emitted: f64,
  /// Records the writer refused at emit (JS adds those emitted after the close).
  pub refused: f64,
  /// With a failure handler: records waiting in the hand-over store when the writer stopped.
  pub kept: f64,
  /// Records delivered over the client's life (acknowledged, with `requireAck`).
  pub sent: f64,
  /// Records the writer gave up on before the close (JS adds what the failure handler let go of).
  pub dropped: f64,
  /// Records still buffered at the close deadline, discarded (with a failure handler: given to it).
  pub pending: f64,
  /// Records the server rejected on every attempt, with no failure handler to take them.
  pub rejected: f64,
  /// Records read back from a spool an earlier process left.
  pub replayed: f64,
  /// Records left on disk in the spool at the close, for the next process.
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
  /// The writer's close report, as `NativeClient.close` resolves with it.
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

/// A client's counters and state, as the writer counts them: each field is the public `FluentStats`
/// field of the same name (src/types.ts documents them in full; src/client-shapes.ts adds JS's own).
#[napi(object)]
pub struct JsStats {
  /// Records accepted at emit.
  pub emitted: f64,
  /// Records refused at emit (JS adds those emitted after the close).
  pub refused: f64,
  /// Records not yet in a final bucket (JS adds those the failure handler holds).
  pub pending: f64,
  /// Records delivered (acknowledged, with `requireAck`).
  pub sent: f64,
  /// Records given up on (JS adds emits after the close and the failure handler's drops).
  pub dropped: f64,
  /// Records the server rejected on every attempt.
  pub rejected: f64,
  /// Bytes buffered now, as `maxBufferBytes` counts them.
  pub queued_bytes: f64,
  /// Records buffered now.
  pub queued_records: f64,
  /// Batches written and awaiting their ack.
  pub in_flight_batches: f64,
  /// Batches delivered.
  pub batches_sent: f64,
  /// Bytes written to servers, as framed (after compression).
  pub bytes_sent: f64,
  /// Connections opened.
  pub connects: f64,
  /// Connections opened after a lost one.
  pub reconnects: f64,
  /// Errors the writer reported.
  pub errors: f64,
  /// Batches written again after a failure.
  pub retries: f64,
  /// Events the JS thread was too far behind to take.
  pub events_lost: f64,
  /// A connection to some server is open.
  pub connected: bool,
  /// `closed`, `open` or `halfOpen`: the first server's.
  pub breaker: String,
  /// Records written again after a write whose ack never came.
  pub duplicates: f64,
  /// Records handed to the failure handler.
  pub handed_over: f64,
  /// Dropped records the failure handler never saw: its backlog was full (JS adds its own).
  pub handler_overflow: f64,
  /// NDJSON lines sent under the fallback tag because the tag they named cannot be used.
  pub retagged: f64,
  /// Records read back from a spool an earlier process left.
  pub replayed: f64,
  /// Records left on disk at the close (0 while running).
  pub spooled: f64,
  /// Unset without the `spool` option.
  pub spool: Option<JsSpoolStats>,
  /// Each server's state, in the order of `servers`.
  pub servers: Vec<JsServerStats>,
}

/// `stats().spool` (see `fluent_forward::SpoolView`).
#[napi(object)]
pub struct JsSpoolStats {
  /// The `spool.dir` option.
  pub dir: String,
  /// The slot directory this client holds (empty when the spool could not be opened).
  pub slot: String,
  /// `ok` or `memoryOnly`.
  pub state: String,
  /// Bytes of segment files on disk now.
  pub bytes: f64,
  /// Segment files on disk now.
  pub files: f64,
  /// Records on disk not yet settled.
  pub records: f64,
  /// Records appended over the client's life.
  pub appended: f64,
  /// Records read back from leftovers of an earlier process.
  pub replayed: f64,
  /// Batches let go of in memory because they are on disk.
  pub evicted: f64,
  /// Batches kept in memory only because the spool refused them.
  pub not_spooled: f64,
  /// Damaged stretches skipped on replay.
  pub corrupted: f64,
  /// Bytes of those damaged stretches.
  pub corrupted_bytes: f64,
  /// fsync calls for segment data.
  pub syncs: f64,
  /// Leftover files of earlier processes that replay has not finished reading.
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
  /// `host:port` or the socket path.
  pub address: String,
  /// Usable: not failing (heartbeats, send results) and its breaker not open.
  pub healthy: bool,
  /// A connection to it is open.
  pub connected: bool,
  /// Its breaker: `closed`, `open` or `halfOpen`.
  pub breaker: String,
  /// Records delivered to it (acknowledged, with `requireAck`).
  pub sent: f64,
  /// Batches delivered to it.
  pub batches: f64,
  /// Failed connects and connections it ended or let time out.
  pub errors: f64,
  /// Batches written to it awaiting their ack.
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
