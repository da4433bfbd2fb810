//! A fleet found through DNS, as the writer applies it (`discovery.rs` looks names up and plans the
//! change): a new address becomes a member in a free slot, with its own link (connection, breaker,
//! backoff, heartbeats) and its entry's weight; an address gone from the answer is drained: it
//! takes no new batch, what it has in flight settles by its ack (or, if its connection ends or the
//! ack times out, goes back to the front of the pending batches for another member, as any failed
//! link's batches do), and then its slot is freed. Nothing it held is dropped, so the accounting
//! identity holds across membership changes.

use super::Writer;
use crate::config::{Resolve, Server, Target};
use crate::discovery::{lookup_error, plan, Answer};
use crate::error::Error;
use crate::event::Event;
use crate::link::Link;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

impl Writer {
  /// Takes in the lookups' answers, frees drained members' slots, and starts the lookups that are
  /// due (none while closing: the membership no longer matters then).
  pub(super) fn discover(&mut self, now: Instant, closing: bool) {
    if self.discovery.is_empty() {
      return;
    }
    for answer in self.discovery.take_answers() {
      match answer {
        Answer::Idle(e) => self.discovery.entries[e].busy = false,
        Answer::Found(e, Ok(found)) if !found.is_empty() => self.apply(e, &found),
        Answer::Found(e, Ok(_)) => {
          let why = io::Error::new(io::ErrorKind::NotFound, "the name resolved to no address");
          self.lookup_failed(e, why);
        }
        Answer::Found(e, Err(why)) => self.lookup_failed(e, why),
      }
    }
    self.free_drained();
    if closing {
      return;
    }
    for e in 0..self.discovery.entries.len() {
      if self.lookup_due(e, now).is_some_and(|t| t <= now) {
        let shared = self.shared.clone();
        let timeout = self.shared.config.connect_timeout;
        let early = self.any_failing(e);
        self
          .discovery
          .start(e, early, timeout, Arc::new(move || shared.wake.notify_one()));
      }
    }
  }

  /// When the next lookup is due (for the writer's sleep).
  pub(super) fn next_lookup(&self, now: Instant) -> Option<Instant> {
    (0..self.discovery.entries.len())
      .filter_map(|e| self.lookup_due(e, now))
      .min()
  }

  fn lookup_due(&self, e: usize, now: Instant) -> Option<Instant> {
    self.discovery.entries[e].due(self.discovery.every, self.any_failing(e), now)
  }

  /// One of entry `e`'s members (not draining) is failing: its address may have moved.
  fn any_failing(&self, e: usize) -> bool {
    let members = &self.discovery.entries[e].members;
    members
      .iter()
      .any(|&(_, slot)| !self.links[slot].healthy && !self.links[slot].draining)
  }

  /// A lookup failed: the members stay as they are (a DNS outage is not an aggregator outage);
  /// reported once until a lookup succeeds again.
  fn lookup_failed(&mut self, e: usize, why: io::Error) {
    let entry = &mut self.discovery.entries[e];
    if std::mem::replace(&mut entry.failing, true) {
      return;
    }
    let error = lookup_error(entry, why);
    self.shared.emit(Event::Error {
      error,
      records: 0,
      tag: None,
    });
  }

  /// Entry `e`'s name resolved to `found`: new addresses join, missing ones drain, and a draining
  /// member whose address is back is a member again (it kept its connection and its batches).
  fn apply(&mut self, e: usize, found: &[SocketAddr]) {
    self.discovery.entries[e].failing = false;
    let current: Vec<SocketAddr> = self.discovery.entries[e].members.iter().map(|m| m.0).collect();
    let change = plan(&current, found, self.free_slots());
    for (addr, slot) in self.discovery.entries[e].members.clone() {
      // Leaving, or back while still draining (it kept its connection and batches).
      self.links[slot].draining = change.leave.contains(&addr);
    }
    for addr in change.join {
      self.join(e, addr);
    }
    let entry = &mut self.discovery.entries[e];
    if std::mem::replace(&mut entry.left_out, change.left_out) != change.left_out && change.left_out > 0 {
      let error = Error::Config(format!(
        "{} resolved to more addresses than the fleet has room for: {} left out (at most {} servers)",
        entry.server.target.address(),
        change.left_out,
        crate::options::MAX_SERVERS
      ));
      self.shared.emit(Event::Error {
        error,
        records: 0,
        tag: None,
      });
    }
  }

  /// Slots a new member could take: freed ones, and those never used yet.
  fn free_slots(&self) -> usize {
    let vacant = self.links.iter().filter(|l| l.vacant).count();
    vacant + self.slots.saturating_sub(self.links.len())
  }

  /// `addr` becomes a member of entry `e`: the entry's settings (weight, standby, TLS with the
  /// entry's name for SNI and verification, handshake) at this one address.
  fn join(&mut self, e: usize, addr: SocketAddr) {
    let entry = &self.discovery.entries[e];
    let server = Server {
      target: Target::Tcp {
        host: addr.ip().to_string(),
        port: addr.port(),
      },
      resolve: Resolve::First,
      ..entry.server.clone()
    };
    let mut link = Link::new(server, &self.shared.config);
    link.fleet_index = entry.fleet_index;
    let slot = match self.links.iter().position(|l| l.vacant) {
      Some(slot) => {
        self.links[slot] = link;
        slot
      }
      None => {
        self.links.push(link);
        self.links.len() - 1
      }
    };
    self.picker.seat(slot);
    self.shared.servers[slot].occupy(self.links[slot].address.to_string());
    self.discovery.entries[e].members.push((addr, slot));
  }

  /// Frees the slots of the drained members: nothing of theirs is left in flight or being written,
  /// and no task holds their index. A connection still open (idle) is closed.
  fn free_drained(&mut self) {
    for slot in 0..self.links.len() {
      let writing = self.writing.as_ref().is_some_and(|(w, _)| *w == slot);
      if writing || !self.links[slot].drained() {
        continue;
      }
      let link = &mut self.links[slot];
      let was_connected = link.conn.take().is_some();
      link.vacant = true;
      link.draining = false;
      // The read buffer is the one large allocation a link has; a free slot needs none.
      link.rbuf = Vec::new();
      link.rlen = 0;
      let address = link.address.clone();
      self.shared.servers[slot].vacate();
      for entry in &mut self.discovery.entries {
        entry.members.retain(|&(_, s)| s != slot);
      }
      if was_connected {
        self.update_connected();
        self.shared.emit(Event::Disconnected {
          server: slot,
          address,
          error: None,
        });
      }
    }
  }
}
