//! One server of the fleet as the writer sees it: its connection (or the connect under way), the
//! batches written to it and waiting for their ack, its read buffer, reconnect backoff, circuit
//! breaker and health. Everything here concerns one server; choosing between servers and settling
//! batches is the writer's.

use crate::backoff::Backoff;
use crate::breaker::{Breaker, BreakerState};
use crate::codec::ack::{parse_ack, AckParse, ChunkId};
use crate::config::{Config, Server};
use crate::error::Error;
use crate::probation::Probation;
use crate::retry::{Held, RateLimit};
use crate::shared::ServerShared;
use crate::transport::{looks_like_tls, tls, Conn, Resolver};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

const READ_BUF: usize = 64 << 10;
/// Reconnects the server caused are reported at most this often (the rest are counted into the next).
const RECONNECT_REPORT_EVERY: Duration = Duration::from_secs(1);

pub struct InFlight {
  pub held: Held,
  /// Position in write order; `ack_ids` points here, and `in_flight` stays sorted by it.
  pub seq: u64,
  /// Ids still waiting for an ack (one per request: one per batch, or one per event in Message mode).
  pub outstanding: usize,
  pub deadline: Instant,
}

pub struct Link {
  pub server: Server,
  /// `host:port` or the socket path, as events and stats name this server.
  pub address: std::sync::Arc<str>,
  /// Its entry's index in `Config::fleet`: its TLS and handshake settings (`Shared::openers`).
  pub fleet_index: usize,
  /// A DNS member whose address left the answer (`discovery.rs`): it takes no new batch and no
  /// connect; once what it has in flight is settled (or resent elsewhere) its slot is freed.
  pub draining: bool,
  /// A free slot: no server here (a member left, or none has joined yet).
  pub vacant: bool,
  pub conn: Option<Conn>,
  /// A connect task is under way (it has the resolver).
  pub connecting: bool,
  pub connect_task: Option<tokio::task::Id>,
  pub beat_task: Option<tokio::task::Id>,
  /// `None` while lent to a connect task.
  pub resolver: Option<Resolver>,
  /// The heartbeat's own resolver; `None` while a probe is out.
  pub beat_resolver: Option<Resolver>,
  pub next_beat: Instant,
  pub in_flight: VecDeque<InFlight>,
  /// Every outstanding ack id, to the `seq` of its batch: one lookup per ack, where scanning would
  /// cost 26k comparisons per ack for a 512 KiB Message-mode batch.
  pub ack_ids: HashMap<[u8; 24], u64>,
  pub next_seq: u64,
  pub rbuf: Vec<u8>,
  pub rlen: usize,
  /// Bytes the server has sent on this connection (an ack, a TLS alert...).
  pub heard: usize,
  pub backoff: Backoff,
  /// No connect before this (the reconnect backoff, or the breaker's cooldown).
  pub retry_at: Option<Instant>,
  pub breaker: Breaker,
  /// Last known up: a connect or heartbeat succeeded since the last failure.
  pub healthy: bool,
  /// The server's HELO `keepalive`: when false, one request per connection.
  pub keepalive: bool,
  /// Requests written on the current connection.
  pub conn_requests: u64,
  /// Batches settled on the current connection: a drop before the first counts for the breaker.
  pub conn_settled: u64,
  pub ever_connected: bool,
  pub reconnect_reports: RateLimit,
  /// A fresh plaintext connection proving itself (see `probation.rs`): without acks it holds the
  /// batches written meanwhile.
  pub probation: Probation,
}

/// What a read from the server amounted to.
pub struct Heard {
  /// Batches whose last ack arrived, in ack order: settled even when a fault follows them in the
  /// same read (the server did take them; dropping them here would leave them in no count).
  pub settled: Vec<Held>,
  /// The server said something that ends the connection (after the acks above).
  pub fault: Option<Error>,
}

impl Heard {
  fn settled(settled: Vec<Held>) -> Heard {
    Heard { settled, fault: None }
  }

  fn fault(settled: Vec<Held>, e: Error) -> Heard {
    Heard {
      settled,
      fault: Some(e),
    }
  }
}

impl Link {
  /// A drained member may give its slot up: nothing of it is left to settle, and no connect or
  /// heartbeat task still holds its index (an answer for a reused slot would be misattributed).
  pub fn drained(&self) -> bool {
    self.draining && self.all_settled() && !self.connecting && self.beat_resolver.is_some()
  }

  pub fn new(server: Server, config: &Config) -> Self {
    Self {
      address: server.target.address().into(),
      server,
      fleet_index: 0,
      draining: false,
      vacant: false,
      conn: None,
      connecting: false,
      connect_task: None,
      beat_task: None,
      resolver: Some(Resolver::new(config.dns_ttl)),
      beat_resolver: Some(Resolver::new(config.dns_ttl)),
      next_beat: Instant::now(),
      in_flight: VecDeque::new(),
      ack_ids: HashMap::new(),
      next_seq: 0,
      rbuf: vec![0; READ_BUF],
      rlen: 0,
      heard: 0,
      backoff: Backoff::new(config.reconnect_initial, config.reconnect_max),
      retry_at: None,
      breaker: Breaker::new(config.breaker.clone()),
      healthy: true,
      keepalive: true,
      conn_requests: 0,
      conn_settled: 0,
      ever_connected: false,
      reconnect_reports: RateLimit::new(RECONNECT_REPORT_EVERY),
      probation: Probation::default(),
    }
  }

  pub fn is_tls(&self) -> bool {
    self.conn.as_ref().is_some_and(Conn::is_tls)
  }

  /// May this server take a batch at all now (connected, connecting, or free to connect)? With
  /// heartbeats, a server that failed waits for one to succeed; without, for its backoff.
  /// Moves an open breaker whose cooldown is over to half-open (returned, to be reported).
  pub fn available(&mut self, now: Instant, beats: bool) -> (bool, Option<BreakerState>) {
    if self.draining || self.vacant {
      return (false, None);
    }
    let (allowed, change) = self.breaker.allow(now);
    if !allowed {
      return (false, change);
    }
    if self.conn.is_some() || self.connecting {
      return (true, change);
    }
    let due = self.retry_at.is_none_or(|t| now >= t);
    (due && (self.healthy || !beats), change)
  }

  /// Does this server want heartbeats now? Only while there is no connection (a connection is its
  /// own proof), and only when a beat tells something: the server failed and waits to be seen up
  /// again, or it is a standby whose health must be known before it is needed. A healthy regular
  /// server that is merely idle is connected to when a batch comes; probing it would only open and
  /// close a connection twice a second for as long as the app logs nothing.
  pub fn wants_beats(&self) -> bool {
    let member = !self.draining && !self.vacant;
    member && self.conn.is_none() && !self.connecting && (!self.healthy || self.server.standby)
  }

  /// Can a batch be written on the connection now? With acks: at most `max_in_flight` batches,
  /// and a suspect only ever alone on the connection, so that a disconnect or an ack timeout is
  /// attributed to the right batch.
  pub fn window_open(&self, config: &Config, next_suspect: bool) -> bool {
    if self.conn.is_none() {
      return false;
    }
    if !self.keepalive && self.conn_requests > 0 {
      // The server closes after one request: the next one waits for a fresh connection.
      return false;
    }
    if !config.require_ack || self.in_flight.is_empty() {
      return true;
    }
    let suspect_in_flight = self.in_flight.iter().any(|f| f.held.is_suspect());
    self.in_flight.len() < config.max_in_flight && !suspect_in_flight && !next_suspect
  }

  /// A fresh connection is in place.
  pub fn connected(&mut self, conn: Conn, keepalive: bool, figures: &ServerShared) -> Option<BreakerState> {
    // TLS proves itself in its handshake, a server that sent HELO speaks plaintext Forward, and a
    // Unix socket is not where a TLS input listens (fluentd's in_unix has no TLS).
    let tcp = matches!(self.server.target, crate::config::Target::Tcp { .. });
    self
      .probation
      .start(tcp && !conn.is_tls() && self.server.security.is_none());
    self.conn = Some(conn);
    self.keepalive = keepalive;
    self.conn_requests = 0;
    self.conn_settled = 0;
    self.retry_at = None;
    self.rlen = 0;
    self.heard = 0;
    self.healthy = true;
    figures.connected.store(true, Relaxed);
    figures.healthy.store(true, Relaxed);
    self.breaker.on_connected()
  }

  pub fn drop_connection(&mut self, figures: &ServerShared) {
    self.conn = None;
    self.rlen = 0;
    figures.connected.store(false, Relaxed);
  }

  /// Records that batch `seq` was written with these ack ids.
  pub fn wrote(&mut self, held: Held, ids: &[ChunkId], ack_timeout: Duration) {
    let seq = self.next_seq;
    self.next_seq += 1;
    for id in ids {
      let mut k = [0u8; 24];
      k.copy_from_slice(id.as_bytes());
      self.ack_ids.insert(k, seq);
    }
    let now = Instant::now();
    self.probation.wrote(now);
    self.in_flight.push_back(InFlight {
      held,
      seq,
      outstanding: ids.len(),
      deadline: now + ack_timeout,
    });
  }

  /// Nothing written to this server waits to settle: no batch waits for its ack (`in_flight`) or
  /// for a fresh connection's probation to pass (`probation`).
  pub fn all_settled(&self) -> bool {
    self.in_flight.is_empty() && self.probation.is_empty()
  }

  /// The close deadline came before the probation ended: with the connection still up and nothing
  /// heard against it (what had arrived was read just before), its batches count as sent on the
  /// evidence there is, as without probation. A deadline shorter than the window must not turn
  /// records a server took into undelivered ones; a close with time to spare waits for the verdict.
  pub fn cut_probation_short(&mut self, now: Instant) -> Vec<Held> {
    if self.conn.is_none() {
      return Vec::new();
    }
    self.probation.cut_short(now)
  }

  /// What a failure of the current connection most likely means (`Probation::judge`).
  pub fn judge(&self, why: Error, now: Instant) -> Error {
    self.probation.judge(why, self.heard, now)
  }

  /// Takes every unacked batch back, in write order, for a resend elsewhere (their ack ids die
  /// with this connection). They were written, so the server may have them: `unacked`.
  pub fn take_unsettled(&mut self) -> Vec<Held> {
    self.ack_ids.clear();
    // Without acks, the batches held on probation (with acks there are none): written too.
    let held = self.probation.take();
    self
      .in_flight
      .drain(..)
      .map(|f| f.held)
      .chain(held)
      .map(|mut h| {
        h.retry = true;
        h.unacked = true;
        h
      })
      .collect()
  }

  /// `n` new bytes are in `rbuf[rlen..]`: acks are matched to their batches.
  pub fn on_read(&mut self, n: usize, require_ack: bool) -> Heard {
    self.heard += n;
    // A TLS server answering our plaintext with an alert (or a handshake record): where an ack (or
    // nothing, without acks) was expected, these bytes are never msgpack we could accept.
    if self.rlen == 0 && !self.is_tls() && looks_like_tls(&self.rbuf[self.rlen..self.rlen + n]) {
      return Heard::fault(Vec::new(), Error::TlsProtocol(tls::SPEAKS_TLS.into()));
    }
    if !require_ack {
      // Nothing is expected without acks; whatever a server says is ignored.
      return Heard::settled(Vec::new());
    }
    self.rlen += n;
    let mut done = Vec::new();
    loop {
      match parse_ack(&self.rbuf[..self.rlen]) {
        AckParse::Ack(id, used) => {
          let seq = <&[u8; 24]>::try_from(id)
            .ok()
            .and_then(|id| self.ack_ids.remove(id));
          let Some(seq) = seq else {
            let what = format!(
              "ack for unknown chunk {}",
              String::from_utf8_lossy(&self.rbuf[..used.min(64)])
            );
            return Heard::fault(done, Error::AckMismatch(what));
          };
          self.rbuf.copy_within(used..self.rlen, 0);
          self.rlen -= used;
          if let Some(h) = self.acked(seq) {
            done.push(h);
          }
        }
        AckParse::Incomplete if self.rlen < self.rbuf.len() => return Heard::settled(done),
        AckParse::Incomplete => return Heard::fault(done, Error::AckMismatch("oversized response".into())),
        AckParse::Garbage(what) => return Heard::fault(done, Error::AckMismatch(what.into())),
      }
    }
  }

  /// One ack id of batch `seq` came back; the batch settles with its last one.
  fn acked(&mut self, seq: u64) -> Option<Held> {
    let Ok(i) = self.in_flight.binary_search_by_key(&seq, |f| f.seq) else {
      debug_assert!(false, "ack_ids points at a batch not in flight");
      return None;
    };
    let f = &mut self.in_flight[i];
    f.outstanding -= 1;
    if f.outstanding > 0 {
      return None;
    }
    self.in_flight.remove(i).map(|f| f.held)
  }

  /// A `keepalive: false` server closes after one request: once it is settled, the connection is
  /// let go (quietly, it did its job) and the next request opens and handshakes a new one.
  pub fn should_retire(&self) -> bool {
    self.conn.is_some() && !self.keepalive && self.conn_requests > 0 && self.in_flight.is_empty()
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  /// A DNS member that left takes no new batch, no connect and no heartbeat while it drains; a free
  /// slot neither.
  #[test]
  fn a_draining_member_or_a_free_slot_is_never_available_nor_probed() {
    let config = Config::default();
    let mut link = Link::new(config.fleet().remove(0), &config);
    link.healthy = false;
    let now = Instant::now();
    assert!(link.available(now, false).0 && link.wants_beats());
    link.draining = true;
    assert!(!link.available(now, false).0 && !link.wants_beats());
    assert!(link.drained(), "nothing in flight: drained at once");
    link.connecting = true;
    assert!(!link.drained(), "a connect task still holds its index");
    link.connecting = false;
    link.draining = false;
    link.vacant = true;
    assert!(!link.available(now, false).0 && !link.wants_beats());
  }
}
