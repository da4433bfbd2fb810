//! Counters shared by the producer and the writer; all relaxed atomics, read together by `snapshot`.

pub use crate::breaker::BreakerState;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

#[derive(Default)]
pub struct Counters {
  pub sent: AtomicU64,
  pub dropped: AtomicU64,
  /// Records given up on after `max_batch_attempts` (see `Error::Rejected`).
  pub rejected: AtomicU64,
  pub batches_sent: AtomicU64,
  pub bytes_sent: AtomicU64,
  pub reconnects: AtomicU64,
  pub connects: AtomicU64,
  pub errors: AtomicU64,
  pub retries: AtomicU64,
  pub events_lost: AtomicU64,
  /// Records written again after a write whose ack never came (each may arrive twice).
  pub duplicates: AtomicU64,
  /// Records the embedding took for its failure handler (`Client::take_undelivered`, leftovers).
  pub handed_over: AtomicU64,
  /// Records the server rejected on every attempt that went to the failure handler (not in
  /// `rejected`: the handler decides where they end).
  pub rejected_offered: AtomicU64,
  /// NDJSON lines whose tag field named a tag that cannot be used: sent under the fallback tag.
  pub retagged: AtomicU64,
  /// Records read back from a spool an earlier process left (the identity's `replayed`).
  pub replayed: AtomicU64,
  /// Records left on disk in the spool when the writer stopped (the identity's `spooled`).
  pub spooled: AtomicU64,
  /// Records of replayed batches that left the writer (sent or given up on): subtracted from what
  /// a `flush` counts as settled, since it waits for this client's own records only.
  pub replay_settled: AtomicU64,
}

/// One server's figures in `Stats::servers`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerStats {
  /// `host:port` or the socket path.
  pub address: String,
  /// Usable for traffic: not failing (heartbeats and send results) and its breaker not open.
  pub healthy: bool,
  pub connected: bool,
  pub breaker: BreakerState,
  /// Records delivered to it (acknowledged, with acks).
  pub sent: u64,
  pub batches: u64,
  pub errors: u64,
  /// Batches written to it and waiting for their ack.
  pub in_flight: u64,
}

/// A point-in-time view for `stats()`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
  /// Records accepted into the buffer at emit (a failure handler's requeue is not counted again).
  pub emitted: u64,
  /// Records refused at emit (overflow policy, closed client); also in `dropped` unless kept for
  /// the failure handler.
  pub refused: u64,
  /// Records accepted and not yet in a final bucket: buffered, held by the writer, or waiting for
  /// the failure handler (kept), including refused records kept for it.
  pub pending: u64,
  /// Records written to the socket (with acks: acknowledged).
  pub sent: u64,
  /// Records given up on: overflow, closed client, close deadline (not those kept for the failure
  /// handler: they are pending until it answers).
  pub dropped: u64,
  /// Records the server refused on every attempt, isolated and given up on (not in `dropped`; with a
  /// failure handler they go to it instead).
  pub rejected: u64,
  pub queued_bytes: u64,
  pub queued_records: u64,
  pub in_flight_batches: u64,
  pub batches_sent: u64,
  pub bytes_sent: u64,
  pub connects: u64,
  pub reconnects: u64,
  /// Errors reported to the error sink.
  pub errors: u64,
  /// Batches written again after a failure.
  pub retries: u64,
  /// Events the sink could not take (or that panicked in it).
  pub events_lost: u64,
  pub connected: bool,
  /// The first server's circuit breaker state (each server's is in `servers`).
  pub breaker: BreakerState,
  /// Records written again after a write whose ack never came: each may have arrived twice.
  pub duplicates: u64,
  /// Records handed to the failure handler.
  pub handed_over: u64,
  /// NDJSON lines sent under the fallback tag because the tag they named cannot be used.
  pub retagged: u64,
  /// Dropped records the failure handler never saw: its backlog (`undelivered_max_bytes`) was full.
  pub handler_overflow: u64,
  /// Records read back from a spool an earlier process left:
  /// `emitted + refused + replayed = sent + dropped + rejected + handled + pending + spooled`.
  pub replayed: u64,
  /// Records left on disk at the close (0 while running: records on disk are `pending`).
  pub spooled: u64,
  /// `None` without the `spool` option.
  pub spool: Option<crate::spool_view::SpoolView>,
  pub servers: Vec<ServerStats>,
}

impl Counters {
  pub fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Relaxed);
  }

  pub fn get(counter: &AtomicU64) -> u64 {
    counter.load(Relaxed)
  }
}
