//! The client as the sink of NDJSON transcoding (`crate::ndjson`).

use super::Client;
use crate::codec::event_time::EventTime;
use crate::error::Error;
use crate::event::Event;
use crate::queue::Pushed;
use std::sync::atomic::Ordering::Relaxed;

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
