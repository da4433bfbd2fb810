//! The tag table: a small integer id per tag, so that a staged record carries 4 bytes instead of a
//! string. Tags are not a lifetime budget (REVIEW-0.2 A4): a tag with nothing buffered can be
//! forgotten and its id reused, so a process that logs under millions of distinct tags over its
//! life never hits a permanent error. What stays bounded is the number of live tags (`MAX_TAGS`):
//! tags with an open batch, pinned tags, and tags known since the last sweep.
//!
//! Who may forget what, and why: an id is only safe to reuse once nobody holds it any more.
//! - The JS client caches ids (src/tag-ids.ts) on its hot path, unchecked. So a tag JS has been
//!   given (`js`) is only forgotten by a sweep JS itself asks for (`Client::forget_idle_tags`),
//!   which first hands its staged records over and then clears its caches.
//! - NDJSON transcoders cache ids too; they check `epoch` at every call and after every lookup,
//!   and clear their cache when it moved. A transcoder meeting a full table sweeps the tags only
//!   transcoders know (never JS's), on the JS thread, between lines.
//! - Pinned tags (a `logger()`'s tag, a transcoder's fallback tag: held for their owner's life) are
//!   never forgotten.

use std::collections::HashMap;
use std::sync::Arc;

/// Live tags one client tracks at once; more is almost always a tag built from unbounded data.
pub const MAX_TAGS: usize = 65_536;

#[derive(Default)]
pub struct TagTable {
  ids: HashMap<Arc<str>, u32>,
  /// By id; `None`: free (its id is in `free`).
  names: Vec<Option<Arc<str>>>,
  /// By id: JS has been given this id.
  js: Vec<bool>,
  /// By id: how many owners pinned it.
  pins: Vec<u32>,
  free: Vec<u32>,
  /// Moves on every sweep that forgot something: id caches outside JS clear themselves.
  pub epoch: u64,
}

impl TagTable {
  /// The id of `tag`, with `Some(true)` in `.1` when it got a slot never used before (the caller
  /// grows its per-id storage). `None`: `MAX_TAGS` tags are live.
  pub fn get_or_add(&mut self, tag: &str, js: bool) -> Option<(u32, bool)> {
    if let Some(&id) = self.ids.get(tag) {
      self.js[id as usize] |= js;
      return Some((id, false));
    }
    if self.live() >= MAX_TAGS {
      return None;
    }
    let name: Arc<str> = Arc::from(tag);
    let (id, fresh) = match self.free.pop() {
      Some(id) => (id, false),
      None => {
        self.names.push(None);
        self.js.push(false);
        self.pins.push(0);
        ((self.names.len() - 1) as u32, true)
      }
    };
    let i = id as usize;
    self.names[i] = Some(name.clone());
    self.js[i] = js;
    self.pins[i] = 0;
    self.ids.insert(name, id);
    Some((id, fresh))
  }

  pub fn live(&self) -> usize {
    self.ids.len()
  }

  pub fn has(&self, id: u32) -> bool {
    self.names.get(id as usize).is_some_and(Option::is_some)
  }

  /// The name of a live id.
  pub fn name(&self, id: u32) -> &Arc<str> {
    self.names[id as usize].as_ref().expect("a live tag id")
  }

  pub fn pin(&mut self, id: u32) {
    if self.has(id) {
      self.pins[id as usize] += 1;
    }
  }

  pub fn unpin(&mut self, id: u32) {
    if self.has(id) {
      self.pins[id as usize] = self.pins[id as usize].saturating_sub(1);
    }
  }

  /// Forgets every unpinned tag for which `idle(id)` holds; JS's tags too only when `js_too`.
  /// Returns how many were forgotten.
  pub fn sweep(&mut self, js_too: bool, idle: impl Fn(u32) -> bool) -> usize {
    let mut forgotten = 0;
    for i in 0..self.names.len() {
      let id = i as u32;
      if self.names[i].is_none() || self.pins[i] > 0 || (self.js[i] && !js_too) || !idle(id) {
        continue;
      }
      let name = self.names[i].take().expect("checked");
      self.ids.remove(&name);
      self.js[i] = false;
      self.free.push(id);
      forgotten += 1;
    }
    if forgotten > 0 {
      self.epoch += 1;
    }
    forgotten
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn forgotten_ids_are_reused_and_the_bound_is_on_live_tags() {
    let mut t = TagTable::default();
    for i in 0..MAX_TAGS {
      assert!(t.get_or_add(&format!("t{i}"), true).is_some());
    }
    assert_eq!(t.get_or_add("one.more", true), None, "bound on live tags");
    // A transcoder's sweep leaves JS's tags alone.
    assert_eq!(t.sweep(false, |_| true), 0);
    let busy = 7;
    t.pin(3);
    assert_eq!(t.sweep(true, |id| id != busy), MAX_TAGS - 2);
    assert!(t.has(busy) && t.has(3) && !t.has(4));
    let (id, fresh) = t.get_or_add("one.more", false).unwrap();
    assert!(!fresh && id as usize != busy as usize && id != 3);
    assert_eq!(t.name(id).as_ref(), "one.more");
    assert_eq!(t.names.len(), MAX_TAGS, "the freed id was reused, no new slot");
    assert_eq!(t.epoch, 1);
  }
}
