//! TCP and Unix-socket connects: with a timeout, and TCP keepalive so that a half-open connection is
//! noticed.

use super::Conn;
use crate::config::Target;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpStream;
#[cfg(unix)]
use tokio::net::UnixStream;

/// Idle time before the first keepalive probe, and the gap between probes. Without acks nothing
/// else would ever notice a server that vanished (power loss, a NAT that forgot us): writes keep
/// landing in the send buffer as "sent" until it fills.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(30);
#[cfg(any(target_os = "linux", target_os = "macos", target_os = "windows"))]
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
/// Unsent bytes the kernel may hold (Linux `TCP_NOTSENT_LOWAT`). Without it Linux reports the socket
/// writable again only once a third of the send buffer has drained, and that buffer autotunes to
/// megabytes on start: on a 20 KB/s link our write then sees no progress for half a minute while
/// the link is busy, and the write timeout cuts a healthy connection. With it the writer is woken
/// whenever half of this has drained, so progress is seen on any link faster than
/// `NOTSENT_LOWAT / 2 / write_timeout` (3.2 KB/s with the defaults). It also keeps less data in
/// the kernel as "sent" without acks.
#[cfg(target_os = "linux")]
const NOTSENT_LOWAT: u32 = 64 << 10;

/// Written data may stay unacknowledged by the peer's TCP for `user_timeout(write_timeout)` at most
/// (`TCP_USER_TIMEOUT`, Linux): a dead peer then fails the connection instead of after ~15 minutes of
/// retransmissions. TCP targets connect to `addrs` (resolved by the caller), first that answers;
/// the caller bounds the whole attempt with the connect timeout.
pub async fn connect(target: &Target, addrs: &[SocketAddr], write_timeout: Duration) -> io::Result<Conn> {
  match target {
    Target::Tcp { .. } => {
      let mut last = io::Error::new(io::ErrorKind::NotFound, "the host name resolved to no address");
      for addr in addrs {
        match TcpStream::connect(addr).await {
          Ok(stream) => {
            // Batches are written whole; Nagle would only delay the last segment of each.
            stream.set_nodelay(true)?;
            tune(&stream, write_timeout)?;
            return Ok(Conn::Tcp(stream));
          }
          Err(e) => last = e,
        }
      }
      Err(last)
    }
    #[cfg(unix)]
    Target::Unix(path) => Ok(Conn::Unix(UnixStream::connect(path).await?)),
    #[cfg(not(unix))]
    Target::Unix(_) => Err(io::Error::new(
      io::ErrorKind::Unsupported,
      "unix sockets need a unix platform",
    )),
  }
}

/// Three write timeouts, and at least 30 s: the kernel's rule is stricter than ours (it also counts
/// a receive window that stays shut), so it only backs up the no-progress timeout, for a peer that
/// vanished with data in flight, and never cuts a slow but live link first (a slow reader starved
/// of CPU for a few seconds once lost its connection to a 10 s user timeout).
pub fn user_timeout(write_timeout: Duration) -> Duration {
  (3 * write_timeout).max(Duration::from_secs(30))
}

/// Keepalive, user timeout and unsent low-water mark through socket2: tokio has no setter for them.
pub(super) fn tune(stream: &TcpStream, write_timeout: Duration) -> io::Result<()> {
  let sock = socket2::SockRef::from(stream);
  let ka = socket2::TcpKeepalive::new().with_time(KEEPALIVE_IDLE);
  #[cfg(any(target_os = "linux", target_os = "macos", target_os = "windows"))]
  let ka = ka.with_interval(KEEPALIVE_INTERVAL);
  sock.set_tcp_keepalive(&ka)?;
  #[cfg(target_os = "linux")]
  {
    sock.set_tcp_user_timeout(Some(user_timeout(write_timeout)))?;
    sock.set_tcp_notsent_lowat(NOTSENT_LOWAT)?;
  }
  #[cfg(not(target_os = "linux"))]
  let _ = write_timeout;
  Ok(())
}

#[cfg(test)]
mod tests {
  use super::*;
  use crate::config::Target;

  #[tokio::test]
  async fn keepalive_and_user_timeout_are_set() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let target = Target::Tcp {
      host: "127.0.0.1".into(),
      port,
    };
    let addrs = [([127, 0, 0, 1], port).into()];
    let conn = connect(&target, &addrs, Duration::from_millis(7500))
      .await
      .unwrap();
    let Conn::Tcp(s) = &conn else { panic!("tcp") };
    let sock = socket2::SockRef::from(s);
    assert!(sock.keepalive().unwrap());
    #[cfg(target_os = "linux")]
    {
      assert_eq!(sock.tcp_keepalive_time().unwrap(), KEEPALIVE_IDLE);
      assert_eq!(
        sock.tcp_user_timeout().unwrap(),
        Some(user_timeout(Duration::from_millis(7500)))
      );
    }
  }
}
