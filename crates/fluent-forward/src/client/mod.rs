//! The public handle: producers push records, the writer thread does everything else.

use crate::codec::event_time::EventTime;
use crate::codec::validate::record_len;
use crate::config::Config;
use crate::error::Error;
use crate::event::EventSink;
use crate::queue::{Pushed, MAX_TAGS};
use crate::shared::{CloseDone, CloseReport, FlushDone, FlushWaiter, Shared};
use crate::stats::{Counters, ServerStats, Stats};
use crate::writer::run_thread;

mod handover;
mod ndjson_sink;
mod staged;

pub use ndjson_sink::NdjsonSink;
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
  /// Frames of the block that were not queued: refused (overflow policy, closed client) or failed
  /// their checks. For a handover no JS can hear about any more (a Worker's env teardown), which
  /// must report these itself.
  pub refused: u64,
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
    // Opened here, not on the writer thread: a slot another process holds is the constructor's error.
    let spool = config.spool.as_ref().map(crate::writer::open_spool).transpose()?;
    let shared = Arc::new(Shared::with_openers(config, sink, openers));
    if let Some(start) = &spool {
      start.publish(&shared);
    }
    let for_thread = shared.clone();
    let thread = std::thread::Builder::new()
      .name("fluent-forward-writer".into())
      .spawn(move || run_thread(for_thread, spool))
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
        let outcome = waiter.outcome(self.shared.settled(), lost);
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
      // Batches let go of in memory because they are on disk are still pending (read under this
      // lock, which their moves hold too).
      let on_disk = (self.shared.spool.as_ref()).map_or(0, |s| s.on_disk_records.load(Relaxed));
      (
        q.emitted,
        q.refused,
        self.shared.dropped(&q),
        q.bytes + q.held_bytes + q.read_bytes,
        q.records + q.held_records + q.read_records,
        (q.records + q.held_records + q.read_records) as u64 + kept - kept_in_cap + leftovers + on_disk,
        overflow,
      )
    };
    let replayed = Counters::get(&c.replayed);
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
      // The first server's (a fleet found through DNS: the first member's, closed while none).
      breaker: crate::breaker::BreakerState::from_u8(
        self
          .shared
          .servers
          .iter()
          .find(|s| s.active.load(Relaxed))
          .map_or(0, |s| s.breaker.load(Relaxed)),
      ),
      duplicates: Counters::get(&c.duplicates),
      handed_over: Counters::get(&c.handed_over),
      handler_overflow,
      retagged: Counters::get(&c.retagged),
      replayed,
      spooled: Counters::get(&c.spooled),
      spool: self.shared.spool.as_ref().map(|s| s.view(replayed)),
      servers: self
        .shared
        .servers
        .iter()
        .filter(|s| s.active.load(Relaxed))
        .map(|s| {
          let breaker = crate::breaker::BreakerState::from_u8(s.breaker.load(Relaxed));
          ServerStats {
            address: s.address.lock().clone(),
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
}

impl Drop for Client {
  /// Never blocks: the writer gets a bounded time to drain and then stops on its own.
  fn drop(&mut self) {
    self.close(DROP_DRAIN, None);
  }
}
