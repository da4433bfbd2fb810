//! Counters of a spool, for `stats()` and the metrics.

/// What a spool holds and has done since it was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SpoolStats {
  /// Bytes of segment files held (own and adopted), what `max_bytes` caps.
  pub bytes: u64,
  /// Segment files held.
  pub files: u64,
  /// Leftover segment files replay has not finished yet (their batches are not counted below
  /// until replay reads them).
  pub unread_files: u64,
  /// Batches appended or replayed and not settled yet.
  pub batches: u64,
  /// Records in those batches.
  pub records: u64,
  /// Batches appended since open.
  pub appended: u64,
  /// Batches replayed from leftovers since open, and their records.
  pub replayed: u64,
  pub replayed_records: u64,
  /// Batches settled since open.
  pub settled: u64,
  /// Damaged stretches found by replay (each at least one batch lost), and their bytes.
  pub corrupted: u64,
  pub corrupted_bytes: u64,
  /// Damaged ledgers found at open (their settles are forgotten: those batches come again).
  pub ledger_damaged: u64,
  /// Slots of dead processes whose leftovers were adopted.
  pub adopted_slots: u64,
  /// fsync calls made for segment data.
  pub syncs: u64,
}
