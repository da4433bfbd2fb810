//! The writer's background tasks: connects and heartbeats run as tasks of their own on the writer's
//! runtime, so that a server that does not answer (a blackholed address, a DNS lookup that hangs)
//! never holds up the others; this is where they are started, taken in, and where a server's
//! failures and recoveries move its backoff, health and breaker.

use super::{Joined, Writer};
use crate::breaker::{BreakerState, Failure};
use crate::config::Heartbeat;
use crate::error::Error;
use crate::event::Event;
use crate::stats::Counters;
use crate::transport::{open, Opened, Resolver};
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

impl Writer {
  /// Lets the connect and heartbeat tasks run, and takes in those that finished: while batches keep
  /// the loop busy it would otherwise never yield, and a server that connected later would get
  /// nothing until the queue ran dry.
  pub(super) async fn collect_tasks(&mut self) {
    if self.connects.is_empty() && self.beats.is_empty() {
      return;
    }
    tokio::task::yield_now().await;
    while let Some(r) = self.connects.try_join_next_with_id() {
      self.on_joined_connect(Some(r));
    }
    while let Some(r) = self.beats.try_join_next_with_id() {
      self.on_joined_beat(Some(r));
    }
  }

  pub(super) fn on_joined_connect(&mut self, r: Joined<(usize, Resolver, Result<Opened, Error>)>) {
    match r {
      Some(Ok((_, (i, resolver, r)))) => self.on_connect(i, resolver, r),
      Some(Err(e)) => self.lost_task(e.id(), true),
      None => {}
    }
  }

  pub(super) fn on_joined_beat(&mut self, r: Joined<(usize, Resolver, std::io::Result<()>)>) {
    match r {
      Some(Ok((_, (i, resolver, ok)))) => self.on_beat(i, resolver, ok),
      Some(Err(e)) => self.lost_task(e.id(), false),
      None => {}
    }
  }

  pub(super) fn remaining(deadline: Option<Instant>, now: Instant, limit: Duration) -> Duration {
    deadline.map_or(limit, |d| d.saturating_duration_since(now).min(limit))
  }

  /// Starts a connect to server `i` in the background, unless one is under way or it is connected.
  pub(super) fn start_connect(&mut self, i: usize, now: Instant, closing: Option<Instant>) {
    let link = &mut self.links[i];
    if link.conn.is_some() || link.connecting || link.retry_at.is_some_and(|t| now < t) {
      return;
    }
    let Some(mut resolver) = link.resolver.take() else {
      return;
    };
    link.connecting = true;
    let shared = self.shared.clone();
    let target = link.server.target.clone();
    let opener = link.fleet_index;
    let cfg = &shared.config;
    let timeout = Self::remaining(closing, now, cfg.connect_timeout);
    let hs_timeout = Self::remaining(closing, now, cfg.handshake_timeout);
    link.connect_task = Some(
      self
        .connects
        .spawn(async move {
          let r = open(
            &shared.config,
            &target,
            &shared.openers[opener],
            &mut resolver,
            timeout,
            hs_timeout,
          )
          .await;
          (i, resolver, r)
        })
        .id(),
    );
  }

  /// A connect or heartbeat task panicked (a bug, caught by tokio): its server gets a fresh
  /// resolver and may be tried again; a connect counts as failed.
  pub(super) fn lost_task(&mut self, id: tokio::task::Id, connect: bool) {
    let ttl = self.shared.config.dns_ttl;
    let Some(i) = self.links.iter().position(|l| {
      if connect {
        l.connect_task == Some(id)
      } else {
        l.beat_task == Some(id)
      }
    }) else {
      return;
    };
    if connect {
      let error = Error::Internal("a connect task panicked".into());
      self.on_connect(i, Resolver::new(ttl), Err(error));
    } else {
      self.links[i].beat_resolver = Some(Resolver::new(ttl));
    }
  }

  pub(super) fn on_connect(&mut self, i: usize, resolver: Resolver, result: Result<Opened, Error>) {
    let now = Instant::now();
    let link = &mut self.links[i];
    link.connecting = false;
    link.connect_task = None;
    link.resolver = Some(resolver);
    match result {
      Ok(opened) => {
        let change = link.connected(opened.conn, opened.keepalive, &self.shared.servers[i]);
        if let Some(state) = change {
          self.breaker_changed(i, state);
        }
        self.shared.connected.store(true, Relaxed);
        Counters::add(&self.shared.counters.connects, 1);
        let link = &mut self.links[i];
        if link.ever_connected {
          Counters::add(&self.shared.counters.reconnects, 1);
        }
        link.ever_connected = true;
        let address = self.links[i].address.clone();
        self.shared.emit(Event::Connected { server: i, address });
      }
      Err(error) => {
        self.link_down(i, now, Failure::of(&error), true);
        // Reported on every attempt while closed (backoff-paced), once per opening otherwise:
        // an open breaker makes no attempts.
        self.shared.emit(Event::Error {
          error,
          records: 0,
          tag: None,
        });
      }
    }
  }

  /// Server `i` failed (a connect, a connection, a heartbeat): it waits out its backoff (or the
  /// breaker's cooldown) and, with heartbeats, a successful beat. Returns whether the breaker opened.
  pub(super) fn link_down(&mut self, i: usize, now: Instant, failure: Failure, counts: bool) -> bool {
    let figures = &self.shared.servers[i];
    Counters::add(&figures.errors, 1);
    figures.healthy.store(false, Relaxed);
    let link = &mut self.links[i];
    link.healthy = false;
    link.retry_at = Some(now + link.backoff.next_delay());
    if !counts {
      return false;
    }
    let Some(state) = link.breaker.on_failure(now, failure) else {
      return false;
    };
    link.retry_at = link.breaker.open_until();
    self.breaker_changed(i, state);
    state == BreakerState::Open
  }

  pub(super) fn breaker_changed(&mut self, i: usize, state: BreakerState) {
    self.shared.servers[i].breaker.store(state.as_u8(), Relaxed);
    if state != BreakerState::Open {
      self.told_unavailable = false;
    }
    let address = self.links[i].address.clone();
    self.shared.emit(Event::Breaker {
      state,
      server: i,
      address,
    });
  }

  /// Heartbeats for the servers not connected (a connection is its own proof), every interval.
  pub(super) fn start_beats(&mut self, now: Instant) {
    if self.heartbeat == Heartbeat::None {
      return;
    }
    let every = self.shared.config.heartbeat_interval;
    for (i, link) in self.links.iter_mut().enumerate() {
      if !link.wants_beats() || now < link.next_beat {
        continue;
      }
      let Some(mut resolver) = link.beat_resolver.take() else {
        continue;
      };
      link.next_beat = now + every;
      let (kind, target) = (self.heartbeat, link.server.target.clone());
      let timeout = every.min(self.shared.config.connect_timeout);
      let task = self.beats.spawn(async move {
        let beat = crate::heartbeat::probe(kind, &target, &mut resolver, timeout).await;
        (i, resolver, beat)
      });
      link.beat_task = Some(task.id());
    }
  }

  pub(super) fn on_beat(&mut self, i: usize, resolver: Resolver, beat: std::io::Result<()>) {
    let now = Instant::now();
    self.links[i].beat_resolver = Some(resolver);
    self.links[i].beat_task = None;
    if self.links[i].conn.is_some() {
      return;
    }
    if beat.is_ok() {
      let link = &mut self.links[i];
      link.healthy = true;
      link.retry_at = None;
      link.backoff.reset();
      self.shared.servers[i].healthy.store(true, Relaxed);
      if let Some(state) = self.links[i].breaker.on_heartbeat() {
        self.breaker_changed(i, state);
      }
    } else if self.links[i].healthy || self.links[i].breaker.state() != BreakerState::Open {
      // A miss counts like a failed connect, and is reported as one (the beats pace a down
      // server's reconnects); while open nothing changes until one answers.
      self.link_down(i, now, Failure::Unreachable, true);
      if let Err(e) = beat {
        let address = self.links[i].server.target.address();
        self.shared.emit(Event::Error {
          error: Error::Connect(e).at(address),
          records: 0,
          tag: None,
        });
      }
    }
  }
}
