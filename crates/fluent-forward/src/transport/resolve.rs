//! Host name resolution with a time to live: a fleet probed every second would otherwise call
//! `getaddrinfo` for every heartbeat, while a name cached forever would never follow a Kubernetes
//! service whose pods changed. A failed connect forgets the cached addresses (see
//! `connect_resolved`), so a server that moved is looked up again on the next attempt.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

pub struct Resolver {
  ttl: Duration,
  cached: Option<(Vec<SocketAddr>, Instant)>,
}

impl Resolver {
  pub fn new(ttl: Duration) -> Self {
    Self { ttl, cached: None }
  }

  /// The addresses of `host`: cached while younger than the TTL (a TTL of 0 resolves every time).
  /// An IP address is never looked up. Resolution runs on tokio's blocking pool; the caller bounds
  /// it (the connect timeout) and abandons it, rather than joining it, at a deadline.
  pub async fn addrs(&mut self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    if let Some((addrs, at)) = &self.cached {
      if at.elapsed() < self.ttl {
        return Ok(addrs.clone());
      }
    }
    // getaddrinfo's failure names neither the host nor a kind (it is `Uncategorized`): said here,
    // as Node's ENOTFOUND does, and without Rust's `(os error N)`.
    let found = tokio::net::lookup_host((host, port)).await.map_err(|e| {
      let why = e.to_string();
      let why = why
        .strip_prefix("failed to lookup address information: ")
        .unwrap_or(&why);
      io::Error::new(io::ErrorKind::NotFound, format!("{host} not found ({why})"))
    })?;
    let addrs: Vec<SocketAddr> = found.collect();
    if addrs.is_empty() {
      return Err(io::Error::new(
        io::ErrorKind::NotFound,
        format!("{host} resolved to no address"),
      ));
    }
    self.cached = Some((addrs.clone(), Instant::now()));
    Ok(addrs)
  }

  pub fn forget(&mut self) {
    self.cached = None;
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[tokio::test]
  async fn caches_within_the_ttl_and_forgets_on_request() {
    let mut r = Resolver::new(Duration::from_secs(3600));
    let a = r.addrs("localhost", 7).await.unwrap();
    assert!(a.iter().all(|s| s.port() == 7 && s.ip().is_loopback()));
    assert!(r.cached.is_some());
    r.forget();
    assert!(r.cached.is_none());
    let mut zero = Resolver::new(Duration::ZERO);
    zero.addrs("127.0.0.1", 9).await.unwrap();
    // A zero TTL never answers from the cache.
    zero.cached.as_mut().unwrap().0.clear();
    assert_eq!(zero.addrs("127.0.0.1", 9).await.unwrap().len(), 1);
  }
}
