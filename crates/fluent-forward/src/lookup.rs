//! How a server's host name becomes addresses: the system resolver, or one a test scripts. A leaf
//! module, so that the configuration can hold a resolver without depending on discovery (which
//! depends on the configuration).

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;

/// Looks a host name up: its addresses with `port`, or why not. Blocking (it runs on tokio's
/// blocking pool).
#[derive(Clone)]
pub struct Lookup(pub Arc<LookupFn>);

pub type LookupFn = dyn Fn(&str, u16) -> io::Result<Vec<SocketAddr>> + Send + Sync;

impl std::fmt::Debug for Lookup {
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    f.write_str("Lookup(..)")
  }
}

impl Lookup {
  /// The system resolver: `/etc/hosts`, `/etc/resolv.conf` and the search domains, as every other
  /// program on the machine (or in the pod) resolves names.
  pub fn system() -> Self {
    Lookup(Arc::new(|host: &str, port: u16| {
      let found = (host, port).to_socket_addrs().map_err(|e| {
        let why = e.to_string();
        let why = why
          .strip_prefix("failed to lookup address information: ")
          .unwrap_or(&why)
          .to_string();
        io::Error::new(io::ErrorKind::NotFound, format!("{host} not found ({why})"))
      })?;
      Ok(found.collect())
    }))
  }
}
