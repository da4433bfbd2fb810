//! The public handle: producers push records, the writer thread does everything else.

use crate::codec::event_time::EventTime;
use crate::codec::validate::{record_len, Invalid};
use crate::config::Config;
use crate::error::Error;
use crate::event::{Event, EventSink};
use crate::queue::{Pushed, MAX_TAGS};
use crate::shared::{CloseDone, CloseReport, FlushDone, FlushWaiter, Shared};
use crate::staging::{self, Anchor, Staged};
use crate::stats::{Counters, ServerStats, Stats};
use crate::writer::run_thread;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Longest tag accepted; fluentd tags are short dotted names.
pub const MAX_TAG_BYTES: usize = 1024;
/// How long past its own deadline a blocking close waits for the writer to report.
pub const EXIT_MARGIN: Duration = Duration::from_millis(250);
/// How long a dropped (garbage-collected, never closed) client keeps trying to drain.
pub const DROP_DRAIN: Duration = Duration::from_secs(5);

pub struct Client {
  shared: Arc<Shared>,
  /// Never joined: the writer stops by itself after its close deadline (see `close_all_blocking`).
  _thread: JoinHandle<()>,
}

/// What happened to one record offered to the queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
  Accepted,
  /// Refused by `dropNewest` (or `dropOldest` when nothing older could make room).
  Dropped,
  /// Refused under the `error` policy.
  Full,
  /// The client is closed.
  Closed,
}

/// Result of `push_staged`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StagedPush {
  /// Bytes buffered after the block (queued plus held by the writer), as the cap counts them.
  pub queued_bytes: u64,
  /// What happened to the block's last record (`None` for an empty block).
  pub last: Option<Admission>,
}

impl Client {
  /// Validates the config and starts the writer thread. Nothing connects until there is data to send.
  pub fn start(config: Config, sink: EventSink) -> Result<Self, Error> {
    config.validate()?;
    let openers = config
      .fleet()
      .iter()
      .map(crate::transport::Opener::new)
      .collect::<Result<Vec<_>, _>>()?;
    let shared = Arc::new(Shared::with_openers(config, sink, openers));
    let for_thread = shared.clone();
    let thread = std::thread::Builder::new()
      .name("fluent-forward-writer".into())
      .spawn(move || run_thread(for_thread))
      .map_err(|e| Error::Internal(format!("cannot start writer thread: {e}")))?;
    Ok(Self {
      shared,
      _thread: thread,
    })
  }

  /// A small integer standing for `tag`, to pass to `push` instead of the string. For JS, which
  /// caches it: such an id stays valid until `forget_idle_tags`.
  pub fn tag_id(&self, tag: &str) -> Result<u32, Error> {
    self.tag_id_for(tag, true)
  }

  fn tag_id_for(&self, tag: &str, js: bool) -> Result<u32, Error> {
    if tag.is_empty() {
      return Err(Error::InvalidTag("tag must not be empty".into()));
    }
    if tag.len() > MAX_TAG_BYTES {
      return Err(Error::InvalidTag(format!(
        "tag longer than {MAX_TAG_BYTES} bytes"
      )));
    }
    self.shared.queue.lock().tag_id_for(tag, js).ok_or_else(|| {
      Error::InvalidTag(format!(
        "more than {MAX_TAGS} tags with buffered records (tags with nothing buffered are forgotten; a tag built from unbounded data?)"
      ))
    })
  }

  /// Forgets every tag with nothing buffered (that no `logger()` or stream pinned), so that their
  /// ids can be reused. The caller (JS) hands its staged records over first and clears its tag
  /// caches after: ids it held for forgotten tags are no longer valid. Returns how many.
  pub fn forget_idle_tags(&self) -> usize {
    self.shared.queue.lock().forget_idle_tags()
  }

  /// `tag_id`, and the tag is never forgotten until `unpin_tag` (a `logger()` or a stream holds it).
  pub fn pin_tag(&self, tag: &str) -> Result<u32, Error> {
    let id = self.tag_id(tag)?;
    self.shared.queue.lock().pin_tag(id);
    Ok(id)
  }

  pub fn unpin_tag(&self, id: u32) {
    self.shared.queue.lock().unpin_tag(id);
  }

  /// Live tags (see `tags`), and the epoch that moves when tags are forgotten.
  pub fn tag_state(&self) -> (usize, u64) {
    let q = self.shared.queue.lock();
    (q.live_tags(), q.tag_epoch())
  }

  /// Buffers one record that the caller guarantees is a single msgpack map (the JS encoder's output).
  /// `Ok(false)`: refused by the `dropNewest`/`dropOldest` policy or because the client is closed.
  pub fn push(&self, tag: u32, time: Option<EventTime>, record: &[u8]) -> Result<bool, Error> {
    let max = self.shared.config.max_record_bytes;
    if record.len() > max {
      return Err(Error::RecordTooLarge {
        size: record.len(),
        max,
      });
    }
    let time = time.unwrap_or_else(EventTime::now);
    let (pushed, first_drop) = {
      let mut q = self.shared.queue.lock();
      if !q.has_tag(tag) {
        return Err(Error::InvalidTag(format!("unknown tag id {tag}")));
      }
      let before = q.unreported_drops;
      let pushed = q.push(tag, time, record, &self.shared.limits);
      (pushed, before == 0 && q.unreported_drops > 0)
    };
    match pushed {
      Pushed::Accepted { wake } => {
        if wake {
          self.shared.wake.notify_one();
        }
        Ok(true)
      }
      Pushed::Dropped => {
        // One wake per burst of drops is enough for the writer to report them.
        if first_drop {
          self.shared.wake.notify_one();
        }
        Ok(false)
      }
      Pushed::Full => Err(Error::QueueFull { dropped: 1 }),
      Pushed::Closed => Ok(false),
    }
  }

  /// Buffers a staged block from the JS thread (see `staging`): one lock for the whole block.
  /// Returns the bytes buffered afterwards, which JS uses to anticipate the cap, and what happened
  /// to the last frame (JS hands a record over on its own when its estimate says it may not fit, and
  /// reports this answer from `emit`).
  ///
  /// Frames are checked, not trusted: one the JS side got wrong (unknown tag, too large, not a
  /// msgpack map) is not queued, counts as dropped and is reported once per block through the event
  /// sink as `Error::Internal`, while the block's other frames go in; so the answer stays true.
  /// (`Err` is not returned for frame problems, since it would lose that answer.)
  pub fn push_staged(&self, block: &[u8], anchor: Anchor) -> Result<StagedPush, Error> {
    let max = self.shared.config.max_record_bytes;
    let mut wake = false;
    let mut bad: Option<(usize, String)> = None;
    let mut bad_count = 0u64;
    let mut last = None;
    let queued = {
      let mut q = self.shared.queue.lock();
      let before = q.unreported_drops;
      // Prefetch distances in records: far enough for a miss to arrive, near enough to stay cached.
      let mut slots_ahead = staging::tags(block).skip(8);
      let mut tails_ahead = staging::tags(block).skip(4);
      for (i, frame) in staging::frames(block, anchor).enumerate() {
        if let Some(t) = slots_ahead.next() {
          q.prefetch_slot(t);
        }
        if let Some(t) = tails_ahead.next() {
          q.prefetch_tail(t);
        }
        let f = match frame {
          Ok(f) => f,
          Err(e) => {
            // The walk cannot go on: whatever followed is lost with this frame, at least one record.
            bad_count += 1;
            bad.get_or_insert_with(|| (i, format!("{e}; the rest of the block is lost")));
            last = Some(Admission::Dropped);
            break;
          }
        };
        if let Some(why) = staged_fault(&f, max, q.has_tag(f.tag)) {
          bad_count += 1;
          bad.get_or_insert_with(|| (i, format!("tag {}, {} bytes: {why}", f.tag, f.record.len())));
          last = Some(Admission::Dropped);
          continue;
        }
        let pushed = q.push(f.tag, f.time, f.record, &self.shared.limits);
        last = Some(match pushed {
          Pushed::Accepted { wake: w } => {
            wake |= w;
            Admission::Accepted
          }
          // Under the `error` policy the caller throws for this record; it is counted as refused.
          Pushed::Full => Admission::Full,
          Pushed::Dropped => Admission::Dropped,
          Pushed::Closed => Admission::Closed,
        });
      }
      q.refused += bad_count;
      wake |= before == 0 && q.unreported_drops > 0;
      q.bytes + q.held_bytes
    };
    if wake {
      self.shared.wake.notify_one();
    }
    if let Some((i, what)) = bad {
      let more = match bad_count {
        1 => String::new(),
        n => format!(" ({} more bad frame(s) in the block)", n - 1),
      };
      self.shared.emit(Event::Error {
        error: Error::Internal(format!("staged frame {i} dropped: {what}{more}")),
        records: bad_count,
        tag: None,
      });
    }
    Ok(StagedPush {
      queued_bytes: queued as u64,
      last,
    })
  }

  /// Buffers one record encoded elsewhere: it must be exactly one valid msgpack map.
  pub fn push_raw(&self, tag: u32, time: Option<EventTime>, record: &[u8]) -> Result<bool, Error> {
    match record_len(record) {
      Ok(n) if n == record.len() => self.push(tag, time, record),
      Ok(n) => Err(Error::Encode(format!(
        "{} trailing bytes after the record",
        record.len() - n
      ))),
      Err(e) => Err(Error::Encode(e.to_string())),
    }
  }

  /// Calls `done` once every record accepted before this call is written (acknowledged, with acks)
  /// or given up on, or at the deadline; records given up on meanwhile make it `Lost`, never
  /// `Delivered`. Runs on the writer thread.
  pub fn flush(&self, timeout: Duration, done: FlushDone) {
    let target = {
      let mut q = self.shared.queue.lock();
      q.seal_older_than(Instant::now(), Duration::ZERO);
      q.emitted
    };
    // The window a flush answers for starts where the previous flush's did: a record lost before
    // this call but after the last one was emitted before it, and was never delivered, so it counts;
    // losses older than the previous flush were that flush's to report.
    let lost_before = self
      .shared
      .flush_mark
      .swap(self.shared.lost(), std::sync::atomic::Ordering::Relaxed);
    {
      let mut c = self.shared.control.lock();
      let waiter = FlushWaiter {
        target,
        lost_before,
        deadline: Instant::now() + timeout,
        done,
      };
      if c.report.is_some() {
        drop(c);
        let lost = self.shared.lost();
        let outcome = waiter.outcome(Counters::get(&self.shared.counters.sent) + lost, lost);
        return (waiter.done)(outcome);
      }
      c.waiters.push(waiter);
    }
    self.shared.wake.notify_one();
  }

  /// Stops accepting records, drains for at most `timeout`, then stops the writer. `done` gets the
  /// report; calling close again only brings the deadline closer and adds a listener.
  pub fn close(&self, timeout: Duration, done: Option<CloseDone>) {
    let deadline = Instant::now() + timeout;
    self.shared.queue.lock().closed = true;
    let report = {
      let mut c = self.shared.control.lock();
      c.close_deadline = Some(c.close_deadline.map_or(deadline, |d| d.min(deadline)));
      match (c.report, done) {
        (Some(r), Some(done)) => Some((r, done)),
        (None, Some(done)) => {
          c.close_done.push(done);
          None
        }
        _ => None,
      }
    };
    if let Some((r, done)) = report {
      return done(r);
    }
    self.shared.wake.notify_one();
  }

  /// `close`, then block the calling thread until the writer stops (at most `timeout` plus a little).
  /// For process exit, where there is no later turn of the event loop to wait in.
  pub fn close_blocking(&self, timeout: Duration) -> Option<CloseReport> {
    Self::close_all_blocking(&[(self, timeout)]).pop().flatten()
  }

  /// Closes every client at once, each with its own timeout, then waits for all of them together:
  /// the call returns once every writer has stopped or the longest timeout (plus `EXIT_MARGIN`) has
  /// passed, whatever the number of clients. It never joins a writer thread, so a resolver blocked in
  /// `getaddrinfo` cannot hold the caller past the deadline. `None`: that client had not stopped.
  pub fn close_all_blocking(clients: &[(&Client, Duration)]) -> Vec<Option<CloseReport>> {
    let longest = clients.iter().map(|(_, t)| *t).max().unwrap_or_default();
    for (client, timeout) in clients {
      client.close(*timeout, None);
    }
    let until = Instant::now() + longest + EXIT_MARGIN;
    clients
      .iter()
      .map(|(client, _)| client.wait_for_report(until))
      .collect()
  }

  /// Has the writer stopped (and its close report been made)?
  pub fn stopped(&self) -> bool {
    self.shared.control.lock().report.is_some()
  }

  fn wait_for_report(&self, until: Instant) -> Option<CloseReport> {
    let mut c = self.shared.control.lock();
    while c.report.is_none() {
      if self.shared.stopped.wait_until(&mut c, until).timed_out() {
        break;
      }
    }
    c.report
  }

  /// Reports an error through the event sink (for problems the embedding detects).
  pub fn report(&self, error: Error) {
    self.shared.emit(crate::event::Event::Error {
      error,
      records: 0,
      tag: None,
    });
  }

  /// Bytes buffered (queued plus held by the writer), as the cap counts them: what `stats()` calls
  /// `queued_bytes`, without building the rest of the stats.
  pub fn queued_bytes(&self) -> u64 {
    let q = self.shared.queue.lock();
    (q.bytes + q.held_bytes) as u64
  }

  pub fn stats(&self) -> Stats {
    let c = &self.shared.counters;
    let leftovers: u64 = {
      let c = self.shared.control.lock();
      c.leftovers.iter().map(|c| c.records() as u64).sum()
    };
    let (emitted, refused, dropped, bytes, records, pending, handler_overflow) = {
      let q = self.shared.queue.lock();
      let (kept, kept_in_cap, overflow) = q
        .undelivered
        .as_ref()
        .map_or((0, 0, 0), |u| (u.records(), u.in_cap_records, u.overflow));
      (
        q.emitted,
        q.refused,
        self.shared.dropped(&q),
        q.bytes + q.held_bytes,
        q.records + q.held_records,
        (q.records + q.held_records) as u64 + kept - kept_in_cap + leftovers,
        overflow,
      )
    };
    Stats {
      emitted,
      refused,
      pending,
      sent: Counters::get(&c.sent),
      dropped,
      rejected: Counters::get(&c.rejected),
      queued_bytes: bytes as u64,
      queued_records: records as u64,
      in_flight_batches: self.shared.in_flight.load(Relaxed) as u64,
      batches_sent: Counters::get(&c.batches_sent),
      bytes_sent: Counters::get(&c.bytes_sent),
      connects: Counters::get(&c.connects),
      reconnects: Counters::get(&c.reconnects),
      errors: Counters::get(&c.errors),
      retries: Counters::get(&c.retries),
      events_lost: Counters::get(&c.events_lost),
      connected: self.shared.connected.load(Relaxed),
      // The first server's (the fleet always has one).
      breaker: crate::breaker::BreakerState::from_u8(self.shared.servers[0].breaker.load(Relaxed)),
      duplicates: Counters::get(&c.duplicates),
      handed_over: Counters::get(&c.handed_over),
      handler_overflow,
      retagged: Counters::get(&c.retagged),
      servers: self
        .shared
        .servers
        .iter()
        .map(|s| {
          let breaker = crate::breaker::BreakerState::from_u8(s.breaker.load(Relaxed));
          ServerStats {
            address: s.address.clone(),
            healthy: s.healthy.load(Relaxed) && breaker != crate::breaker::BreakerState::Open,
            connected: s.connected.load(Relaxed),
            breaker,
            sent: Counters::get(&s.sent),
            batches: Counters::get(&s.batches),
            errors: Counters::get(&s.errors),
            in_flight: s.in_flight.load(Relaxed) as u64,
          }
        })
        .collect(),
    }
  }

  /// Turns delivery reports (`Event::Delivered` per settled batch) on or off: they copy each
  /// batch, so they cost only while someone listens.
  pub fn set_delivery_reports(&self, on: bool) {
    self.shared.delivery_reports.store(on, Relaxed);
  }

  /// With `keep_undelivered`: the batches waiting for the failure handler (see `undelivered.rs`),
  /// each returned once. Retriable ones leave the cap now: the embedding owns them from here.
  pub fn take_undelivered(&self) -> Vec<crate::undelivered::Kept> {
    let kept = {
      let mut q = self.shared.queue.lock();
      let Some(store) = q.undelivered.as_mut() else {
        return Vec::new();
      };
      let kept = store.take();
      for k in kept.iter().filter(|k| k.in_cap) {
        q.release(&k.chunk);
      }
      kept
    };
    let n: u64 = kept.iter().map(|k| k.chunk.records() as u64).sum();
    Counters::add(&self.shared.counters.handed_over, n);
    // Room was freed: a producer waiting for it (NDJSON, `'drain'`) looks again on its own.
    kept
  }

  /// With `keep_undelivered`, once the writer has stopped: the batches it still held, as
  /// `(tag, entries, records)`, for the failure handler. Each is returned once.
  pub fn take_leftovers(&self) -> Vec<(Arc<str>, Vec<u8>, u64)> {
    let left: Vec<_> = std::mem::take(&mut self.shared.control.lock().leftovers)
      .into_iter()
      .map(|c| {
        let n = c.records() as u64;
        (c.tag, c.entries, n)
      })
      .collect();
    let n: u64 = left.iter().map(|(_, _, n)| n).sum();
    Counters::add(&self.shared.counters.handed_over, n);
    left
  }

  /// Buffers msgpack entries (`[time, record]` each, as on the wire: what a failure handler or a
  /// delivery report carries) under `tag`, keeping their times. Each entry is validated. Returns
  /// how many were accepted; an invalid entry stops the call with an error, and the entries
  /// before it stay buffered.
  pub fn push_entries(&self, tag: u32, entries: &[u8]) -> Result<u64, Error> {
    self.entries(tag, entries, false)
  }

  /// A failure handler gives records back (`false` on a retriable batch): the same records again,
  /// not new ones. They are buffered only where they fit, without the overflow policy (which would
  /// discard or keep other records for the handler) and without counting them as emitted or
  /// refused; returns how many were taken, and the embedding counts the rest as dropped. Never
  /// fails for a full buffer (REVIEW-0.2 A1): that is a count, not an error.
  pub fn requeue_entries(&self, tag: u32, entries: &[u8]) -> Result<u64, Error> {
    self.entries(tag, entries, true)
  }

  fn entries(&self, tag: u32, entries: &[u8], requeue: bool) -> Result<u64, Error> {
    let mut at = 0;
    let mut accepted = 0;
    while at < entries.len() {
      let (time, record, used) = crate::codec::entry::read_entry(&entries[at..])
        .map_err(|e| Error::Encode(format!("entry at byte {at}: {e}")))?;
      let n = record_len(record).map_err(|e| Error::Encode(format!("entry at byte {at}: {e}")))?;
      if n != record.len() {
        return Err(Error::Encode(format!("entry at byte {at}: trailing bytes")));
      }
      let taken = if requeue {
        self.requeue_one(tag, time, record)?
      } else {
        self.push(tag, Some(time), record)?
      };
      if taken {
        accepted += 1;
      }
      at += used;
    }
    Ok(accepted)
  }
}

impl Client {
  fn requeue_one(&self, tag: u32, time: EventTime, record: &[u8]) -> Result<bool, Error> {
    let max = self.shared.config.max_record_bytes;
    if record.len() > max {
      return Err(Error::RecordTooLarge {
        size: record.len(),
        max,
      });
    }
    let wake = {
      let mut q = self.shared.queue.lock();
      if !q.has_tag(tag) {
        return Err(Error::InvalidTag(format!("unknown tag id {tag}")));
      }
      match q.requeue(tag, time, record, &self.shared.limits) {
        Some(wake) => wake,
        None => return Ok(false),
      }
    };
    if wake {
      self.shared.wake.notify_one();
    }
    Ok(true)
  }
}

/// Why a staged frame cannot be queued, if it cannot. The full msgpack walk runs in debug builds
/// only: it costs several times the rest of the handover (see `examples/staged_cost.rs`), so release
/// builds check what is cheap and catches a frame that is misplaced or overwritten, its first byte.
fn staged_fault(f: &Staged<'_>, max: usize, known_tag: bool) -> Option<String> {
  if !known_tag {
    return Some("unknown tag id".into());
  }
  if f.record.len() > max {
    return Some(format!("larger than maxRecordBytes ({max})"));
  }
  if cfg!(debug_assertions) {
    return match record_len(f.record) {
      Ok(n) if n == f.record.len() => None,
      Ok(n) => Some(format!("{} trailing bytes after the record", f.record.len() - n)),
      Err(e) => Some(e.to_string()),
    };
  }
  match f.record.first() {
    Some(0x80..=0x8f | 0xde | 0xdf) => None,
    _ => Some(Invalid::NotAMap.to_string()),
  }
}

impl Drop for Client {
  /// Never blocks: the writer gets a bounded time to drain and then stops on its own.
  fn drop(&mut self) {
    self.close(DROP_DRAIN, None);
  }
}

/// Records transcoded from NDJSON (see `ndjson`): the client as their sink.
pub struct NdjsonSink<'a> {
  pub client: &'a Client,
  /// Wait for room instead of applying the overflow policy (streams never drop).
  pub wait_for_room: bool,
}

impl crate::ndjson::Sink for NdjsonSink<'_> {
  fn tag_epoch(&mut self) -> u64 {
    self.client.shared.queue.lock().tag_epoch()
  }

  /// A tag a line names that cannot be used sends the line under the fallback tag: counted
  /// (`retagged`) and reported (the 1st, 2nd, 4th, 8th... time), never silent (REVIEW-0.2 A4).
  fn tag_id(&mut self, tag: &str) -> Option<u32> {
    match self.client.tag_id_for(tag, false) {
      Ok(id) => Some(id),
      Err(e) => {
        let shared = &self.client.shared;
        let n = shared.counters.retagged.fetch_add(1, Relaxed) + 1;
        if n.is_power_of_two() {
          let shown: String = tag.chars().take(64).collect();
          shared.emit(Event::Error {
            error: Error::InvalidTag(format!(
              "an NDJSON line names tag \"{shown}\"{}: {e}; the line was sent under the fallback tag ({n} line(s) so far, stats().retagged)",
              if shown.len() < tag.len() { "..." } else { "" }
            )),
            records: 0,
            tag: None,
          });
        }
        None
      }
    }
  }

  fn offer(&mut self, tag: u32, time: Option<EventTime>, record: &[u8]) -> crate::ndjson::Offer {
    use crate::ndjson::Offer;
    let shared = &self.client.shared;
    if record.len() > shared.config.max_record_bytes {
      // Counted with the lines too long to transcode, by `report_lost`.
      return Offer::TooLarge;
    }
    let time = time.unwrap_or_else(EventTime::now);
    let (pushed, first_drop) = {
      let mut q = shared.queue.lock();
      if self.wait_for_room && !q.closed {
        let len = crate::codec::entry::entry_prefix_len(time, shared.limits.time_format)
          + record.len()
          + crate::queue::INDEX_BYTES;
        if q.bytes + q.held_bytes + len > shared.limits.max_bytes {
          return Offer::NoRoom;
        }
      }
      let before = q.unreported_drops;
      let pushed = q.push(tag, time, record, &shared.limits);
      (pushed, before == 0 && q.unreported_drops > 0)
    };
    match pushed {
      Pushed::Accepted { wake } => {
        if wake {
          shared.wake.notify_one();
        }
        Offer::Accepted
      }
      Pushed::Dropped | Pushed::Full | Pushed::Closed => {
        if first_drop {
          shared.wake.notify_one();
        }
        Offer::Refused
      }
    }
  }
}

impl Client {
  /// Counts records lost before they reached the queue as refused (in `stats().dropped`) and
  /// reports them through the event sink, with their count.
  pub fn report_lost(&self, error: Error, records: u64) {
    self.shared.queue.lock().refused += records;
    self.shared.emit(Event::Error {
      error,
      records,
      tag: None,
    });
  }
}
