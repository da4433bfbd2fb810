//! A fleet found through DNS: a `Resolve::All` entry (`{ host, port, resolve: 'all' }`) is one
//! member per address its name resolves to, as a Kubernetes headless service publishes one A/AAAA
//! record per ready pod. This file knows the entries, looks their names up off the writer loop and
//! says how the membership must change (`plan`); `writer/members.rs` applies that to the links.
//!
//! Lookups go through the system resolver (`getaddrinfo`), on tokio's blocking pool, one at a time
//! per entry: a lookup that outlives its timeout is reported as failed at once, but the entry does
//! not start another until that call has returned, so a DNS server that hangs can hold at most one
//! blocking thread per entry, never a growing pile of them. A failed lookup changes nothing: the
//! members keep serving, since a DNS outage is not an aggregator outage.

use crate::config::{Config, Resolve, Server, Target};
use crate::error::Error;
pub use crate::lookup::{Lookup, LookupFn};
use parking_lot::Mutex;
use std::collections::HashSet;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The shortest interval between two lookups of an entry's name (`dnsTtlMs: 0` means "as often as
/// this"): a name resolved in a loop would cost a DNS query per writer wake-up.
pub const MIN_EVERY: Duration = Duration::from_millis(100);
/// While a member is failing, its entry's name is looked up again this soon after the last lookup
/// (rather than a whole `dns_ttl` later): in a rolling restart the pod that went away is replaced
/// by one at a new address, and the fleet should follow within a second, not a TTL. The gap
/// doubles with each early lookup in a row (up to the TTL), so that a member that stays down while
/// still listed (an outage, not a move) does not cost a query a second for as long as it lasts.
pub const EARLY: Duration = Duration::from_secs(1);

/// Where each server of `Config::fleet` goes: entries without `Resolve::All` are one fixed member
/// each, in the first slots (in fleet order); `Resolve::All` entries share the remaining slots, up
/// to `options::MAX_SERVERS` members in all. `Shared` sizes its per-server figures with this and
/// the writer places its links with it, so the two agree on every slot.
pub struct Layout {
  /// Fleet indices of the fixed members; slot `k` is `fixed[k]`.
  pub fixed: Vec<usize>,
  /// Fleet indices of the `Resolve::All` entries.
  pub entries: Vec<usize>,
  /// Slots for DNS members, after the fixed ones.
  pub member_slots: usize,
}

impl Layout {
  pub fn of(fleet: &[Server]) -> Self {
    let (entries, fixed): (Vec<usize>, Vec<usize>) =
      (0..fleet.len()).partition(|&i| fleet[i].resolve == Resolve::All);
    let member_slots = if entries.is_empty() {
      0
    } else {
      crate::options::MAX_SERVERS.saturating_sub(fixed.len()).max(1)
    };
    Self {
      fixed,
      entries,
      member_slots,
    }
  }

  pub fn slots(&self) -> usize {
    self.fixed.len() + self.member_slots
  }
}

/// How an entry's members must change after a lookup found `found`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
  /// New addresses: each becomes a member (in a free slot).
  pub join: Vec<SocketAddr>,
  /// Members whose address is gone from the answer: drained, then their slot is freed.
  pub leave: Vec<SocketAddr>,
  /// Addresses left out because no slot was free (reported).
  pub left_out: usize,
}

/// Compares the members (`current`, including any still draining) with an answer. Addresses are
/// taken once each, in the order the resolver gave them; at most `room` new ones join.
pub fn plan(current: &[SocketAddr], found: &[SocketAddr], room: usize) -> Plan {
  let mut seen = HashSet::new();
  let found: Vec<SocketAddr> = found.iter().copied().filter(|a| seen.insert(*a)).collect();
  let mut p = Plan::default();
  for a in &found {
    if current.contains(a) {
      continue;
    }
    if p.join.len() < room {
      p.join.push(*a);
    } else {
      p.left_out += 1;
    }
  }
  p.leave = current.iter().copied().filter(|a| !seen.contains(a)).collect();
  p
}

/// What a lookup task reports to the writer.
pub enum Answer {
  /// The lookup of entry `entry` ended (or timed out: `Err` of kind `TimedOut`).
  Found(usize, io::Result<Vec<SocketAddr>>),
  /// Entry `entry`'s blocking call has returned: it may look up again.
  Idle(usize),
}

/// One `Resolve::All` entry.
pub struct Entry {
  /// The entry as configured: the name, port, weight, standby, TLS and handshake of its members.
  pub server: Server,
  /// Its index in `Config::fleet` (its TLS and handshake settings in `Shared::openers`).
  pub fleet_index: usize,
  /// Its members: address and slot, draining ones included.
  pub members: Vec<(SocketAddr, usize)>,
  /// A lookup's blocking call is out.
  pub busy: bool,
  /// When the last lookup started (`None`: never).
  pub last: Option<Instant>,
  /// The last lookup failed: the next failure is not reported again until one succeeds.
  pub failing: bool,
  /// The last answer had more addresses than free slots (reported once per change of that count).
  pub left_out: usize,
  /// Early lookups in a row (see `EARLY`).
  pub early: u32,
}

impl Entry {
  pub fn host_port(&self) -> (&str, u16) {
    match &self.server.target {
      Target::Tcp { host, port } => (host, *port),
      // `Config::validate` refuses `resolve: 'all'` with a path.
      Target::Unix(path) => (path, 0),
    }
  }

  /// When this entry's name is due to be looked up again: every `every`, or `EARLY` after the
  /// last lookup while one of its members is failing (`any_failing`); `now` if never yet.
  pub fn due(&self, every: Duration, any_failing: bool, now: Instant) -> Option<Instant> {
    if self.busy {
      return None;
    }
    let Some(last) = self.last else {
      return Some(now);
    };
    let gap = if any_failing {
      (EARLY * (1 << self.early.min(5))).min(every)
    } else {
      every
    };
    Some(last + gap)
  }
}

/// The `Resolve::All` entries and the answers their lookups send back.
pub struct Discovery {
  pub entries: Vec<Entry>,
  pub every: Duration,
  lookup: Lookup,
  inbox: Arc<Mutex<Vec<Answer>>>,
}

impl Discovery {
  pub fn new(config: &Config, layout: &Layout) -> Self {
    let fleet = config.fleet();
    Self {
      entries: layout
        .entries
        .iter()
        .map(|&i| Entry {
          server: fleet[i].clone(),
          fleet_index: i,
          members: Vec::new(),
          busy: false,
          last: None,
          failing: false,
          left_out: 0,
          early: 0,
        })
        .collect(),
      every: config.dns_ttl.max(MIN_EVERY),
      lookup: config.lookup.clone().unwrap_or_else(Lookup::system),
      inbox: Arc::new(Mutex::new(Vec::new())),
    }
  }

  pub fn is_empty(&self) -> bool {
    self.entries.is_empty()
  }

  /// Starts a lookup of entry `e`'s name on the current runtime; its answer arrives in the inbox
  /// and `wake` is notified (the writer's wake-up), so a writer asleep in `select!` sees it at once.
  /// `timeout` bounds how long the writer waits for the answer, not the blocking call itself.
  /// `early`: it was started early, for a failing member (`EARLY`).
  pub fn start(&mut self, e: usize, early: bool, timeout: Duration, wake: Arc<dyn Fn() + Send + Sync>) {
    let entry = &mut self.entries[e];
    entry.early = if early { entry.early + 1 } else { 0 };
    entry.busy = true;
    entry.last = Some(Instant::now());
    let (host, port) = entry.host_port();
    let host = host.to_string();
    let lookup = self.lookup.clone();
    let inbox = self.inbox.clone();
    tokio::spawn(async move {
      let mut call = tokio::task::spawn_blocking(move || (lookup.0)(&host, port));
      let answer = match tokio::time::timeout(timeout, &mut call).await {
        Ok(Ok(r)) => Some(r),
        Ok(Err(_)) => Some(Err(io::Error::other("the lookup panicked"))),
        Err(_) => None,
      };
      let timed_out = answer.is_none();
      let answer = answer.unwrap_or_else(|| {
        Err(io::Error::new(
          io::ErrorKind::TimedOut,
          format!("no answer from the resolver within {} ms", timeout.as_millis()),
        ))
      });
      inbox.lock().push(Answer::Found(e, answer));
      wake();
      if timed_out {
        // The blocking call cannot be cancelled: the entry waits for it before looking up again.
        let _ = call.await;
      }
      inbox.lock().push(Answer::Idle(e));
      wake();
    });
  }

  /// The answers that arrived since the last call.
  pub fn take_answers(&self) -> Vec<Answer> {
    std::mem::take(&mut *self.inbox.lock())
  }
}

/// The error a failed lookup is reported as: a connect error naming the entry (its code is
/// `CONNECT`, its cause `ENOTFOUND` or a timeout), since that is what it means for the records.
pub fn lookup_error(entry: &Entry, e: io::Error) -> Error {
  Error::Connect(e).at(entry.server.target.address())
}

#[cfg(test)]
mod tests {
  use super::*;
  use tokio::sync::Notify;

  fn a(last: u8) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, last], 24224))
  }

  #[test]
  fn members_join_and_leave_as_the_answer_changes() {
    assert_eq!(
      plan(&[], &[a(1), a(2)], 10),
      Plan {
        join: vec![a(1), a(2)],
        ..Plan::default()
      }
    );
    // a(2) went away, a(3) came: one leaves, one joins, a(1) is untouched.
    assert_eq!(
      plan(&[a(1), a(2)], &[a(3), a(1)], 10),
      Plan {
        join: vec![a(3)],
        leave: vec![a(2)],
        left_out: 0
      }
    );
    // The same answer changes nothing; duplicates count once.
    assert_eq!(plan(&[a(1)], &[a(1), a(1)], 10), Plan::default());
  }

  #[test]
  fn addresses_beyond_the_free_slots_are_left_out_and_counted() {
    let p = plan(&[a(1)], &[a(1), a(2), a(3), a(4)], 2);
    assert_eq!(p.join, vec![a(2), a(3)]);
    assert_eq!(p.left_out, 1);
    assert!(p.leave.is_empty());
  }

  #[test]
  fn fixed_servers_take_the_first_slots_and_entries_share_the_rest() {
    let server = |host: &str, resolve| Server {
      target: Target::Tcp {
        host: host.into(),
        port: 24224,
      },
      weight: 1,
      standby: false,
      tls: None,
      security: None,
      resolve,
    };
    let l = Layout::of(&[
      server("fleet.local", Resolve::All),
      server("10.0.0.1", Resolve::First),
    ]);
    assert_eq!((l.fixed.clone(), l.entries.clone()), (vec![1], vec![0]));
    assert_eq!(l.slots(), crate::options::MAX_SERVERS);
    let plain = Layout::of(&[server("a", Resolve::First)]);
    assert_eq!(plain.slots(), 1);
  }

  #[test]
  fn an_entry_is_due_every_interval_or_early_while_a_member_fails() {
    let mut e = Entry {
      server: Config::default().fleet().remove(0),
      fleet_index: 0,
      members: Vec::new(),
      busy: false,
      last: None,
      failing: false,
      left_out: 0,
      early: 0,
    };
    assert!(
      e.due(Duration::from_secs(30), false, Instant::now()).is_some(),
      "never looked up: due now"
    );
    let t = Instant::now();
    e.last = Some(t);
    assert_eq!(
      e.due(Duration::from_secs(30), false, t),
      Some(t + Duration::from_secs(30))
    );
    assert_eq!(e.due(Duration::from_secs(30), true, t), Some(t + EARLY));
    assert_eq!(
      e.due(Duration::from_millis(200), true, t),
      Some(t + Duration::from_millis(200))
    );
    // Early lookups in a row space out (a member down while still listed).
    e.early = 3;
    assert_eq!(e.due(Duration::from_secs(30), true, t), Some(t + 8 * EARLY));
    e.early = 40;
    assert_eq!(
      e.due(Duration::from_secs(30), true, t),
      Some(t + Duration::from_secs(30))
    );
    e.busy = true;
    assert_eq!(
      e.due(Duration::from_secs(30), true, t),
      None,
      "one lookup at a time"
    );
  }

  /// A resolver that hangs: the answer is a timeout, and the entry stays busy until the blocking
  /// call returns (so hung calls cannot pile up).
  #[tokio::test]
  async fn a_hung_lookup_times_out_but_holds_its_entry_until_it_returns() {
    let release = Arc::new(std::sync::Barrier::new(2));
    let r2 = release.clone();
    let config = Config {
      resolve: Resolve::All,
      target: Target::Tcp {
        host: "fleet.test".into(),
        port: 1,
      },
      lookup: Some(Lookup(Arc::new(move |_: &str, port| {
        r2.wait();
        Ok(vec![SocketAddr::from(([127, 0, 0, 1], port))])
      }))),
      ..Config::default()
    };
    let layout = Layout::of(&config.fleet());
    let mut d = Discovery::new(&config, &layout);
    let notify = Arc::new(Notify::new());
    let n2 = notify.clone();
    d.start(
      0,
      false,
      Duration::from_millis(50),
      Arc::new(move || n2.notify_one()),
    );
    notify.notified().await;
    let answers = d.take_answers();
    assert!(matches!(&answers[..], [Answer::Found(0, Err(e))] if e.kind() == io::ErrorKind::TimedOut));
    // Not idle yet: the call still runs.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(d.take_answers().is_empty());
    let r3 = release.clone();
    tokio::task::spawn_blocking(move || r3.wait());
    notify.notified().await;
    assert!(matches!(&d.take_answers()[..], [Answer::Idle(0)]));
  }
}
