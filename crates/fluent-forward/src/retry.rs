//! Retry limits: how many server-caused failures each held batch has had, what happens to it after
//! each one (retry first, let others go ahead, split, reject), and the rate limit on reporting
//! reconnects. Pure bookkeeping, no I/O, so every rule is unit-tested here.
//!
//! Why attempts are counted per batch and attributed (`Writer::fail_connection`): a server that
//! cannot parse a record (fluentd raising on an unknown ext type) drops the connection, or never
//! acks that request, on every attempt. Without a limit that batch is resent forever and everything
//! behind it waits. With a limit, the batch is split until the bad record is alone; the good halves
//! are delivered on the way, so isolating one record in a batch of n costs about log2(n) failures.

use crate::queue::Chunk;
use std::time::{Duration, Instant};

/// A batch the writer holds (taken from the queue, not yet settled) and its failure history.
#[derive(Debug)]
pub struct Held {
  pub chunk: Chunk,
  /// Server-caused failures attributed to this batch.
  pub attempts: u32,
  /// The writer's health count when this batch last failed. Rejecting a record needs proof that the
  /// server took something else since: a server that drops every connection is down, it is not
  /// rejecting this record.
  pub failed_at: u64,
  /// Failed (for any reason, attributed or not) since it was last written: the next write is a retry.
  pub retry: bool,
  /// Was written and its ack never came: the server may have it, so the next write may duplicate it.
  pub unacked: bool,
  /// Where the batch is stored in the spool (`spool` option): settled when the batch leaves the
  /// writer, left on disk at a close. `None`: memory only (no spool, or the spool refused it).
  pub spool: Option<crate::spool::SpoolId>,
  /// Read back from a spool an earlier process left: not a record this client accepted, so a
  /// `flush` does not count it as one of its own (`Shared::settled`).
  pub replayed: bool,
}

impl Held {
  pub fn new(chunk: Chunk) -> Self {
    Self {
      chunk,
      attempts: 0,
      failed_at: 0,
      retry: false,
      unacked: false,
      spool: None,
      replayed: false,
    }
  }

  /// Failed at least once: it is written alone, so that its next failure cannot be blamed on
  /// another batch, nor another batch's on it.
  pub fn is_suspect(&self) -> bool {
    self.attempts > 0
  }
}

/// What to do with a batch that a failure was attributed to.
#[derive(Debug)]
pub enum Verdict {
  /// Resend it first, before anything else.
  Front(Held),
  /// It failed twice or more: let other batches go ahead, so good records are not held behind it.
  Park(Held),
  /// Split to isolate the rejected record(s); both halves are suspects.
  Split(Held, Held),
  /// A lone record the server refused again after taking other batches: give up on it.
  Reject(Held),
}

impl Verdict {
  /// Where a batch with this many attempts waits.
  fn place(h: Held) -> Verdict {
    if h.attempts >= 2 {
      Verdict::Park(h)
    } else {
      Verdict::Front(h)
    }
  }
}

/// Counts one failure against `h`. `health` counts batches the server has taken so far (acked, or
/// written without acks); `max` is `Config::max_batch_attempts` (at least 1).
pub fn on_failure(mut h: Held, max: u32, health: u64) -> Verdict {
  let max = max.max(1);
  h.attempts = h.attempts.saturating_add(1);
  h.retry = true;
  let healthy_since = health > h.failed_at;
  h.failed_at = health;
  if h.attempts < max {
    return Verdict::place(h);
  }
  if h.chunk.records() > 1 {
    let (a, b) = split(h.chunk);
    // One more failure splits (or rejects) again, so isolation costs one failure per halving.
    let unacked = h.unacked;
    let half = |chunk| Held {
      chunk,
      attempts: max - 1,
      failed_at: health,
      retry: true,
      unacked,
      // The halves are new batches: the writer stores them and settles the whole (`writer/spool/`).
      spool: None,
      replayed: false,
    };
    return Verdict::Split(half(a), half(b));
  }
  if healthy_since {
    return Verdict::Reject(h);
  }
  // An outage, as far as we can tell: keep it, retried with the reconnect backoff.
  h.attempts = max;
  Verdict::Park(h)
}

/// Splits a batch of two or more records into halves. The sum of their footprints is the
/// original's, so the held-bytes accounting needs no change.
pub fn split(mut chunk: Chunk) -> (Chunk, Chunk) {
  let mid = chunk.records() / 2;
  debug_assert!(mid > 0, "split needs two records");
  let cut = chunk.offsets[mid];
  let offsets = chunk.offsets[mid..].iter().map(|o| o - cut).collect();
  let entries = chunk.entries[cut as usize..].to_vec();
  chunk.offsets.truncate(mid);
  chunk.entries.truncate(cut as usize);
  let second = Chunk {
    tag: chunk.tag.clone(),
    tag_id: chunk.tag_id,
    entries,
    offsets,
    since: chunk.since,
  };
  (chunk, second)
}

/// Where the writer takes its next batch from.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Source {
  /// Requeued batches, in their original order (unacked ones after a reconnect, a failed write).
  Pending,
  /// Batches that failed twice or more.
  Parked,
  /// A new sealed batch.
  Queue,
}

/// Requeued batches go first. Parked suspects and new batches alternate, so a suspect neither
/// starves under steady traffic nor holds that traffic back: after a parked batch is tried,
/// `parked_turn` is false until a new batch has gone.
pub fn choose(pending: bool, parked: bool, sealed: bool, parked_turn: bool) -> Option<Source> {
  if pending {
    Some(Source::Pending)
  } else if parked && (parked_turn || !sealed) {
    Some(Source::Parked)
  } else if sealed {
    Some(Source::Queue)
  } else {
    None
  }
}

/// At most one report per `every`; the ones held back are counted into the next.
#[derive(Debug)]
pub struct RateLimit {
  every: Duration,
  last: Option<Instant>,
  suppressed: u64,
}

impl RateLimit {
  pub fn new(every: Duration) -> Self {
    Self {
      every,
      last: None,
      suppressed: 0,
    }
  }

  /// `Some(n)` when a report may go out now, `n` being how many were held back before it.
  pub fn admit(&mut self, now: Instant) -> Option<u64> {
    if self.last.is_some_and(|t| now < t + self.every) {
      self.suppressed += 1;
      return None;
    }
    self.last = Some(now);
    Some(std::mem::take(&mut self.suppressed))
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use std::sync::Arc;

  fn chunk(n: usize) -> Chunk {
    let mut entries = Vec::new();
    let mut offsets = Vec::new();
    for i in 0..n {
      offsets.push(entries.len() as u32);
      // Entries of different lengths, so offsets are not a multiple of anything.
      entries.extend(std::iter::repeat_n(i as u8, i + 1));
    }
    Chunk {
      tag: Arc::from("t"),
      tag_id: 3,
      entries,
      offsets,
      since: Instant::now(),
    }
  }

  fn contents(c: &Chunk) -> Vec<Vec<u8>> {
    (0..c.records()).map(|i| c.entry(i).to_vec()).collect()
  }

  #[test]
  fn split_keeps_every_entry_and_the_footprint() {
    for n in 2..20 {
      let whole = chunk(n);
      let (all, footprint) = (contents(&whole), whole.footprint());
      let (a, b) = split(whole);
      assert_eq!(a.records(), n / 2);
      assert_eq!(a.footprint() + b.footprint(), footprint);
      assert_eq!((b.tag.as_ref(), b.tag_id), ("t", 3));
      let mut joined = contents(&a);
      joined.extend(contents(&b));
      assert_eq!(joined, all);
    }
  }

  /// Plays a server that refuses one record: each time the batch holding it is tried it fails, and
  /// every other batch is accepted (health goes up). Returns the failures until the rejection.
  fn isolate(n: usize, bad: u8, max: u32) -> (u32, usize) {
    let mut health = 0;
    let mut queue = vec![Held::new(chunk(n))];
    let mut failures = 0;
    let mut delivered = 0;
    let mut rejected = 0;
    while let Some(h) = queue.pop() {
      assert!(failures < 100, "no convergence");
      if !contents(&h.chunk).iter().any(|e| e[0] == bad) {
        delivered += h.chunk.records();
        health += 1;
        continue;
      }
      failures += 1;
      match on_failure(h, max, health) {
        Verdict::Front(h) | Verdict::Park(h) => queue.insert(0, h),
        Verdict::Split(a, b) => {
          queue.insert(0, a);
          queue.insert(0, b);
        }
        Verdict::Reject(h) => {
          assert_eq!(contents(&h.chunk), vec![vec![bad; bad as usize + 1]]);
          rejected += 1;
        }
      }
    }
    assert_eq!(rejected, 1);
    (failures, delivered)
  }

  #[test]
  fn a_bad_record_is_isolated_in_about_log2_failures() {
    for (n, bad) in [(2, 1), (3, 0), (7, 3), (64, 0), (64, 63), (200, 117), (255, 254)] {
      let (failures, delivered) = isolate(n, bad, 5);
      let log2 = (n as f64).log2().ceil() as u32;
      assert!(failures <= 5 + log2 + 1, "n={n}: {failures} failures");
      assert_eq!(delivered, n - 1, "every other record goes through");
    }
  }

  #[test]
  fn an_outage_never_rejects() {
    // No batch is ever accepted (health stays 0): splitting is allowed, rejecting is not.
    let mut h = Held::new(chunk(1));
    for _ in 0..50 {
      h = match on_failure(h, 5, 0) {
        Verdict::Front(h) | Verdict::Park(h) => h,
        other => panic!("{other:?}"),
      };
    }
    assert_eq!(h.attempts, 5);
  }

  #[test]
  fn a_lone_record_needs_health_since_its_last_failure() {
    let mut h = Held::new(chunk(1));
    h.attempts = 4;
    h.failed_at = 7;
    let h = match on_failure(h, 5, 7) {
      Verdict::Park(h) => h,
      other => panic!("no health since: {other:?}"),
    };
    assert!(matches!(on_failure(h, 5, 8), Verdict::Reject(_)));
  }

  #[test]
  fn second_failure_parks_first_stays_in_front() {
    let h = match on_failure(Held::new(chunk(4)), 5, 0) {
      Verdict::Front(h) => h,
      other => panic!("{other:?}"),
    };
    assert!(h.is_suspect() && h.retry);
    assert!(matches!(on_failure(h, 5, 0), Verdict::Park(_)));
  }

  #[test]
  fn choose_alternates_parked_and_new() {
    assert_eq!(choose(true, true, true, true), Some(Source::Pending));
    assert_eq!(choose(false, true, true, false), Some(Source::Queue));
    assert_eq!(choose(false, true, true, true), Some(Source::Parked));
    assert_eq!(choose(false, true, false, false), Some(Source::Parked));
    assert_eq!(choose(false, false, false, true), None);
  }

  #[test]
  fn rate_limit_counts_what_it_holds_back() {
    let t = Instant::now();
    let mut r = RateLimit::new(Duration::from_secs(1));
    assert_eq!(r.admit(t), Some(0));
    assert_eq!(r.admit(t + Duration::from_millis(10)), None);
    assert_eq!(r.admit(t + Duration::from_millis(900)), None);
    assert_eq!(r.admit(t + Duration::from_millis(1000)), Some(2));
    assert_eq!(r.admit(t + Duration::from_millis(1500)), None);
  }
}
