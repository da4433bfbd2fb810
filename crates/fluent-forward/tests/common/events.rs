//! The event recorder: every event a client reports, waits on them, and counts by error code.

use fluent_forward::{Event, EventSink};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
pub struct EventLog {
  events: Mutex<Vec<Event>>,
  cv: Condvar,
}

impl EventLog {
  pub fn new() -> Arc<Self> {
    Arc::new(Self::default())
  }

  pub fn sink(self: &Arc<Self>) -> EventSink {
    let me = self.clone();
    Arc::new(move |e| {
      me.events.lock().unwrap().push(e);
      me.cv.notify_all();
      true
    })
  }

  pub fn with<R>(&self, f: impl FnOnce(&[Event]) -> R) -> R {
    f(&self.events.lock().unwrap())
  }

  /// Waits until `pred` holds for the events so far, at most `timeout`.
  pub fn wait_for(&self, timeout: Duration, pred: impl Fn(&[Event]) -> bool) -> bool {
    let end = Instant::now() + timeout;
    let mut g = self.events.lock().unwrap();
    loop {
      if pred(&g) {
        return true;
      }
      let now = Instant::now();
      if now >= end {
        return false;
      }
      g = self.cv.wait_timeout(g, end - now).unwrap().0;
    }
  }

  pub fn describe(&self) -> String {
    self.with(|es| format!("{es:?}"))
  }
}

/// The error an event carries (an `Error` event, or the reason of a `Disconnected`).
pub fn event_error(e: &Event) -> Option<&fluent_forward::Error> {
  match e {
    Event::Error { error, .. } => Some(error),
    Event::Disconnected {
      error: Some(error), ..
    } => Some(error),
    _ => None,
  }
}

pub fn count_errors(es: &[Event], code: &str) -> usize {
  es.iter()
    .filter(|e| matches!(e, Event::Error { error, .. } if error.code() == code))
    .count()
}

pub fn count_disconnects(es: &[Event], code: &str) -> usize {
  es.iter()
    .filter(|e| matches!(e, Event::Disconnected { error: Some(error), .. } if error.code() == code))
    .count()
}
