//! The clients of this JS thread (the main thread or one Worker), by small integer id, so the hot
//! call is a plain function taking a number (a napi class method pays for unwrapping `this` on
//! every call), and so that exit can close them all at once.
//!
//! Two process-wide lists back the exit bound: every live client (so the main thread's exit can
//! close the Workers' clients too, at the same time as its own, instead of Node tearing the Workers
//! down one after another, each waiting its own deadline), and the clients whose JS object was
//! collected while they still held records (their drain is waited for and reported at exit).

use crate::convert::{close_report, JsExitReport};
use crate::stage_marks::StageMarks;
use fluent_forward::client::DROP_DRAIN;
use fluent_forward::Client;
use napi::Env;
use std::cell::{Cell, RefCell};
use std::io::Write;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

struct Entry {
  client: Arc<Client>,
  /// `exitFlushTimeoutMs` of this client.
  exit: Duration,
  /// Where its JS stage is, for the env cleanup hook (see `stage_marks`).
  stage: Option<StageMarks>,
}

thread_local! {
  static CLIENTS: RefCell<Vec<Option<Entry>>> = const { RefCell::new(Vec::new()) };
  static HOOKED: Cell<bool> = const { Cell::new(false) };
}

/// Every client of every thread, weakly (a thread's own list owns them).
static ALL: Mutex<Vec<(Weak<Client>, Duration)>> = Mutex::new(Vec::new());
/// Clients whose JS object was collected before they were closed: draining on their own.
static DRAINING: Mutex<Vec<(Arc<Client>, Duration)>> = Mutex::new(Vec::new());

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
  // A panic while holding one of these cannot leave the list inconsistent: keep using it.
  m.lock().unwrap_or_else(|e| e.into_inner())
}

pub fn add(client: Arc<Client>, exit: Duration) -> u32 {
  {
    let mut all = lock(&ALL);
    all.retain(|(w, _)| w.strong_count() > 0);
    all.push((Arc::downgrade(&client), exit));
  }
  CLIENTS.with(|c| {
    let mut c = c.borrow_mut();
    let entry = Some(Entry {
      client,
      exit,
      stage: None,
    });
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

/// Client `id`'s stage buffer is now the one `marks` describes.
pub fn track_stage(id: u32, marks: StageMarks) {
  CLIENTS.with(|c| {
    if let Some(Some(e)) = c.borrow_mut().get_mut(id as usize) {
      e.stage = Some(marks);
    }
  })
}

/// Client `id`, about to be handed `block`: if the block is from its stage, the env cleanup hook
/// must not hand it over again.
pub fn handing_over(id: u32, block: &[u8]) -> Option<Arc<Client>> {
  CLIENTS.with(|c| {
    let mut c = c.borrow_mut();
    let e = c.get_mut(id as usize)?.as_mut()?;
    if let Some(stage) = e.stage.as_mut() {
      stage.handing_over(block);
    }
    Some(e.client.clone())
  })
}

/// Hands over, for every client of this thread, what its JS stage still holds: for the env cleanup
/// hook, when no JS can run and `terminate()` may have stopped it before its stage's timer fired.
/// Returns the records that could not be queued (a client already closed, a full buffer), which
/// nobody else will report.
fn hand_over_staged() -> u64 {
  CLIENTS.with(|c| {
    let mut c = c.borrow_mut();
    let mut refused = 0;
    for e in c.iter_mut().flatten() {
      let Some((block, anchor)) = e.stage.as_mut().and_then(StageMarks::take) else {
        continue;
      };
      refused += match e.client.push_staged(block, anchor) {
        Ok(pushed) => pushed.refused,
        Err(_) => fluent_forward::staging::frames(block, anchor).count() as u64,
      };
    }
    refused
  })
}

/// The JS object was collected. Clears the slot only if it still holds this client (after
/// `close_all` emptied the registry, a new client may have been given the same id); a client that
/// was never closed keeps draining for a bounded time, and exit waits for it.
pub fn forget(id: u32, client: &Arc<Client>) {
  // `try_with`: at thread teardown the registry may already be gone.
  let _ = CLIENTS.try_with(|c| {
    if let Some(slot) = c.borrow_mut().get_mut(id as usize) {
      if slot.as_ref().is_some_and(|e| Arc::ptr_eq(&e.client, client)) {
        let entry = slot.take().expect("checked above");
        if !entry.client.stopped() {
          entry.client.close(DROP_DRAIN, None);
          let mut draining = lock(&DRAINING);
          draining.retain(|(c, _)| !c.stopped());
          draining.push((entry.client, entry.exit));
        }
      }
    }
  });
}

/// Closes every client of this thread, and with `all_threads` (the main thread's exit) every
/// other client of the process too, in parallel against one deadline; empties this thread's list.
/// Returns a report per client of this thread, plus one with `collected` for the clients whose JS
/// object was gone.
pub fn close_all(all_threads: bool) -> Vec<JsExitReport> {
  let mine: Vec<(u32, Entry)> = CLIENTS.with(|c| {
    std::mem::take(&mut *c.borrow_mut())
      .into_iter()
      .enumerate()
      .filter_map(|(i, e)| e.map(|e| (i as u32, e)))
      .collect()
  });
  let others: Vec<(Arc<Client>, Duration)> = if all_threads {
    lock(&ALL)
      .iter()
      .filter_map(|(w, exit)| w.upgrade().map(|c| (c, *exit)))
      .filter(|(c, _)| !mine.iter().any(|(_, e)| Arc::ptr_eq(&e.client, c)))
      .collect()
  } else {
    Vec::new()
  };
  let collected: Vec<(Arc<Client>, Duration)> = if all_threads {
    std::mem::take(&mut *lock(&DRAINING))
  } else {
    Vec::new()
  };
  let pairs: Vec<(&Client, Duration)> = mine
    .iter()
    .map(|(_, e)| (&*e.client, e.exit))
    .chain(
      others
        .iter()
        .chain(collected.iter())
        .map(|(c, exit)| (&**c, *exit)),
    )
    .collect();
  let reports = Client::close_all_blocking(&pairs);
  // A writer that did not stop in time still holds its records: those are the undelivered ones.
  let pending = |client: &Client, report: Option<fluent_forward::CloseReport>| {
    report.map_or(client.stats().queued_records as f64, |r| r.pending as f64)
  };
  let mut out: Vec<JsExitReport> = mine
    .iter()
    .zip(&reports)
    .map(|((id, e), report)| JsExitReport {
      id: *id,
      collected: false,
      stopped: report.is_some(),
      report: close_report(report.unwrap_or_default()),
      pending: pending(&e.client, *report),
    })
    .collect();
  let lost: f64 = collected
    .iter()
    .zip(reports.iter().skip(mine.len() + others.len()))
    .map(|((c, _), report)| pending(c, *report))
    .sum();
  if lost > 0.0 {
    out.push(JsExitReport {
      id: u32::MAX,
      collected: true,
      stopped: true,
      report: close_report(Default::default()),
      pending: lost,
    });
  }
  out
}

/// Env teardown (a Worker's `terminate()`, or the end of a thread whose `'exit'` handler did not
/// run): hand over what the JS stages still hold, then drain like `close_all`. JS can no longer run
/// here, so what is left goes to stderr, once.
pub fn install_cleanup_hook(env: &Env) {
  if HOOKED.with(|h| h.replace(true)) {
    return;
  }
  let _ = env.add_env_cleanup_hook((), |_| {
    let refused = hand_over_staged();
    let pending = close_all(false).iter().map(|r| r.pending).sum::<f64>() as u64;
    let mut err = std::io::stderr();
    let _ = if refused > 0 {
      // The main thread's exit closed this Worker's clients before their stage was handed over.
      writeln!(
        err,
        "fluent-native: {} record(s) not delivered (environment teardown): {pending} left at the exit deadline, {refused} staged but refused (client already closed, or buffer full)",
        pending + refused
      )
    } else if pending > 0 {
      writeln!(
        err,
        "fluent-native: {pending} record(s) not delivered before the exit deadline (environment teardown)"
      )
    } else {
      Ok(())
    };
  });
}

/// Leaves `client` out of the other threads' exit drain (`close_all(true)`): for a client whose own
/// thread is told to end at exit and still has input to take in first (pino's transport: pino's
/// `autoEnd` makes the Worker read what is left of its buffer, then end). Closing it from the main
/// thread's drain, which may run first, would refuse those lines. Its own thread's exit, and the env
/// cleanup hook, still drain it within its `exitFlushTimeoutMs`.
pub fn exclude_from_process_exit(client: &Arc<Client>) {
  lock(&ALL).retain(|(w, _)| w.strong_count() > 0 && !std::ptr::eq(w.as_ptr(), Arc::as_ptr(client)));
}
