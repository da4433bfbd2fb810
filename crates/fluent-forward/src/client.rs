//! The public handle: producers push records, the writer thread does everything else.

use crate::codec::event_time::EventTime;
use crate::codec::validate::record_len;
use crate::config::Config;
use crate::error::Error;
use crate::event::EventSink;
use crate::queue::{Pushed, MAX_TAGS};
use crate::shared::{CloseDone, CloseReport, FlushDone, FlushWaiter, Shared};
use crate::staging::{self, Anchor};
use crate::stats::{Counters, Stats};
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
const DROP_DRAIN: Duration = Duration::from_secs(5);

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

/// Outcome of `push_many`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PushedMany {
  pub accepted: u32,
  pub dropped: u32,
}

impl Client {
  /// Validates the config and starts the writer thread. Nothing connects until there is data to send.
  pub fn start(config: Config, sink: EventSink) -> Result<Self, Error> {
    config.validate()?;
    let shared = Arc::new(Shared::new(config, sink));
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

  /// A small integer standing for `tag`, to pass to `push` instead of the string.
  pub fn tag_id(&self, tag: &str) -> Result<u32, Error> {
    if tag.is_empty() {
      return Err(Error::InvalidTag("tag must not be empty".into()));
    }
    if tag.len() > MAX_TAG_BYTES {
      return Err(Error::InvalidTag(format!(
        "tag longer than {MAX_TAG_BYTES} bytes"
      )));
    }
    self
      .shared
      .queue
      .lock()
      .tag_id(tag)
      .ok_or_else(|| Error::InvalidTag(format!("more than {MAX_TAGS} distinct tags")))
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
    let held = self.shared.held_bytes();
    let (pushed, first_drop) = {
      let mut q = self.shared.queue.lock();
      if !q.has_tag(tag) {
        return Err(Error::InvalidTag(format!("unknown tag id {tag}")));
      }
      let before = q.unreported_drops;
      let pushed = q.push(tag, time, record, held, &self.shared.limits);
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
  pub fn push_staged(&self, block: &[u8], anchor: Anchor) -> Result<StagedPush, Error> {
    let max = self.shared.config.max_record_bytes;
    let held = self.shared.held_bytes();
    let mut wake = false;
    let mut bad = None;
    let mut last = None;
    let queued = {
      let mut q = self.shared.queue.lock();
      let before = q.unreported_drops;
      for frame in staging::frames(block, anchor) {
        let f = match frame {
          Ok(f) if f.record.len() <= max && q.has_tag(f.tag) => f,
          Ok(_) => {
            bad = Some("staged record has an unknown tag or is too large");
            continue;
          }
          Err(e) => {
            bad = Some(e);
            break;
          }
        };
        let pushed = q.push(f.tag, f.time, f.record, held, &self.shared.limits);
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
      wake |= before == 0 && q.unreported_drops > 0;
      q.bytes + held
    };
    if wake {
      self.shared.wake.notify_one();
    }
    match bad {
      Some(what) => Err(Error::Internal(what.into())),
      None => Ok(StagedPush {
        queued_bytes: queued as u64,
        last,
      }),
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
      Err(e) => Err(Error::Encode(e.describe().into())),
    }
  }

  /// Buffers records given as concatenated msgpack maps. All are validated before any is buffered,
  /// so a malformed one rejects the call and nothing is half-sent.
  pub fn push_many(&self, tag: u32, time: Option<EventTime>, records: &[u8]) -> Result<PushedMany, Error> {
    let mut at = 0;
    let mut n = 0usize;
    while at < records.len() {
      let len =
        record_len(&records[at..]).map_err(|e| Error::Encode(format!("record {n}: {}", e.describe())))?;
      let max = self.shared.config.max_record_bytes;
      if len > max {
        return Err(Error::RecordTooLarge { size: len, max });
      }
      at += len;
      n += 1;
    }
    let time = time.unwrap_or_else(EventTime::now);
    let mut out = PushedMany::default();
    let mut at = 0;
    while at < records.len() {
      let len = record_len(&records[at..]).expect("validated above");
      match self.push(tag, Some(time), &records[at..at + len]) {
        Ok(true) => out.accepted += 1,
        Ok(false) => out.dropped += 1,
        // The `error` overflow policy: the rest cannot fit either.
        Err(Error::QueueFull { .. }) => {
          let rest = n as u32 - out.accepted;
          return Err(Error::QueueFull { dropped: rest as u64 });
        }
        Err(e) => return Err(e),
      }
      at += len;
    }
    Ok(out)
  }

  /// Calls `done(true)` once every record accepted before this call is written (acknowledged, with
  /// acks) or given up on, or `done(false)` at the deadline. Runs on the writer thread.
  pub fn flush(&self, timeout: Duration, done: FlushDone) {
    let target = {
      let mut q = self.shared.queue.lock();
      q.seal_older_than(Instant::now(), Duration::ZERO);
      q.emitted
    };
    let lost_before = self.shared.lost();
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

  pub fn stats(&self) -> Stats {
    let c = &self.shared.counters;
    let (emitted, refused, discarded, bytes, records) = {
      let q = self.shared.queue.lock();
      (q.emitted, q.refused, q.discarded, q.bytes, q.records)
    };
    Stats {
      emitted,
      sent: Counters::get(&c.sent),
      dropped: refused + discarded + Counters::get(&c.dropped),
      rejected: Counters::get(&c.rejected),
      queued_bytes: (bytes + self.shared.held_bytes.load(Relaxed)) as u64,
      queued_records: (records + self.shared.held_records.load(Relaxed)) as u64,
      in_flight_batches: self.shared.in_flight.load(Relaxed) as u64,
      batches_sent: Counters::get(&c.batches_sent),
      bytes_sent: Counters::get(&c.bytes_sent),
      connects: Counters::get(&c.connects),
      reconnects: Counters::get(&c.reconnects),
      errors: Counters::get(&c.errors),
      retries: Counters::get(&c.retries),
      events_lost: Counters::get(&c.events_lost),
      connected: self.shared.connected.load(Relaxed),
    }
  }

  pub fn is_closed(&self) -> bool {
    self.shared.queue.lock().closed
  }
}

impl Drop for Client {
  /// Never blocks: the writer gets a bounded time to drain and then stops on its own.
  fn drop(&mut self) {
    self.close(DROP_DRAIN, None);
  }
}
