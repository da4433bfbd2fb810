//! The clients of this JS thread (the main thread or one Worker), by small integer id, so the hot
//! call is a plain function taking a number (a napi class method pays for unwrapping `this` on
//! every call), and so that exit can close them all at once.

use crate::convert::{close_report, JsExitReport};
use fluent_forward::Client;
use napi::Env;
use std::cell::{Cell, RefCell};
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

struct Entry {
  client: Arc<Client>,
  /// `exitFlushTimeoutMs` of this client.
  exit: Duration,
}

thread_local! {
  static CLIENTS: RefCell<Vec<Option<Entry>>> = const { RefCell::new(Vec::new()) };
  static HOOKED: Cell<bool> = const { Cell::new(false) };
}

pub fn add(client: Arc<Client>, exit: Duration) -> u32 {
  CLIENTS.with(|c| {
    let mut c = c.borrow_mut();
    let entry = Some(Entry { client, exit });
    match c.iter().position(Option::is_none) {
      Some(free) => {
        c[free] = entry;
        free as u32
      }
      None => {
        c.push(entry);
        (c.len() - 1) as u32
      }
    }
  })
}

pub fn get(id: u32) -> Option<Arc<Client>> {
  CLIENTS.with(|c| {
    c.borrow()
      .get(id as usize)
      .and_then(|e| e.as_ref().map(|e| e.client.clone()))
  })
}

/// Clears the slot only if it still holds this client: after `close_all` emptied the registry, a
/// new client may have been given the same id.
pub fn forget(id: u32, client: &Arc<Client>) {
  // `try_with`: at thread teardown the registry may already be gone.
  let _ = CLIENTS.try_with(|c| {
    if let Some(slot) = c.borrow_mut().get_mut(id as usize) {
      if slot.as_ref().is_some_and(|e| Arc::ptr_eq(&e.client, client)) {
        *slot = None;
      }
    }
  });
}

/// Closes every client of this thread in parallel (each with its own exit timeout; one shared
/// deadline) and empties the registry.
pub fn close_all() -> Vec<JsExitReport> {
  let entries: Vec<(u32, Entry)> = CLIENTS.with(|c| {
    std::mem::take(&mut *c.borrow_mut())
      .into_iter()
      .enumerate()
      .filter_map(|(i, e)| e.map(|e| (i as u32, e)))
      .collect()
  });
  let pairs: Vec<(&Client, Duration)> = entries.iter().map(|(_, e)| (&*e.client, e.exit)).collect();
  let reports = Client::close_all_blocking(&pairs);
  entries
    .iter()
    .zip(reports)
    .map(|((id, e), report)| {
      // A writer that did not stop in time still holds its records: those are the undelivered ones.
      let queued = e.client.stats().queued_records as f64;
      JsExitReport {
        id: *id,
        stopped: report.is_some(),
        report: close_report(report.unwrap_or_default()),
        pending: report.map_or(queued, |r| r.pending as f64),
      }
    })
    .collect()
}

/// Env teardown (a Worker's `terminate()`, or the end of a thread whose `'exit'` handler did not
/// run): drain like `close_all`. JS can no longer run here, so what is left goes to stderr, once.
pub fn install_cleanup_hook(env: &Env) {
  if HOOKED.with(|h| h.replace(true)) {
    return;
  }
  let _ = env.add_env_cleanup_hook((), |_| {
    let lost: f64 = close_all().iter().map(|r| r.pending).sum();
    if lost > 0.0 {
      let _ = writeln!(
        std::io::stderr(),
        "fluent-native: {lost} record(s) not delivered before the exit deadline (environment teardown)"
      );
    }
  });
}
