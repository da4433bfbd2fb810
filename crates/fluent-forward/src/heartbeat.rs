//! Heartbeats (PROTOCOL.md section 8): how the writer learns that a server it is not connected to
//! is up, so that a server that comes back gets traffic again within a beat or two, and so that a
//! standby is known healthy before it is needed. Probes run as their own tasks on the writer's
//! runtime, so a server that does not answer never holds up the others.

use crate::config::{Heartbeat, Target};
use crate::transport::{connect_resolved, Resolver};
use std::io;
use std::time::Duration;
use tokio::net::UdpSocket;

/// The payload fluentd's in_forward answers on its UDP port.
const UDP_PAYLOAD: [u8; 1] = [0];

/// One probe: `Ok` if the server answered within `timeout`, else why not (a missed beat is a failed
/// connect attempt, and reported as one). TCP: a connect (closed at once, no data; fluentd's own
/// `transport` heartbeat also counts a connect). UDP: `0x00` to the server's port, answered by any
/// datagram. A Unix socket is probed by connecting whatever the kind.
pub async fn probe(
  kind: Heartbeat,
  target: &Target,
  resolver: &mut Resolver,
  timeout: Duration,
) -> io::Result<()> {
  match (kind, target) {
    (Heartbeat::Udp, Target::Tcp { host, port }) => {
      let attempt = async {
        let addr = *resolver
          .addrs(host, *port)
          .await?
          .first()
          .expect("addrs is never empty");
        let local: std::net::SocketAddr = if addr.is_ipv4() {
          ([0, 0, 0, 0], 0).into()
        } else {
          (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let sock = UdpSocket::bind(local).await?;
        sock.connect(addr).await?;
        sock.send(&UDP_PAYLOAD).await?;
        let mut buf = [0u8; 128];
        sock.recv(&mut buf).await.map(|_| ())
      };
      match tokio::time::timeout(timeout, attempt).await {
        Ok(r) => r,
        Err(_) => Err(io::Error::new(
          io::ErrorKind::TimedOut,
          "no answer to the UDP heartbeat",
        )),
      }
    }
    _ => {
      // Write timeout only matters for socket tuning; nothing is written.
      connect_resolved(target, resolver, timeout, timeout)
        .await
        .map(|_| ())
    }
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[tokio::test]
  async fn udp_and_tcp_probes_see_up_and_down() {
    let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let port = udp.local_addr().unwrap().port();
    let target = Target::Tcp {
      host: "127.0.0.1".into(),
      port,
    };
    let echo = tokio::spawn(async move {
      let mut buf = [0u8; 16];
      let (n, from) = udp.recv_from(&mut buf).await.unwrap();
      assert_eq!(&buf[..n], &UDP_PAYLOAD);
      udp.send_to(&UDP_PAYLOAD, from).await.unwrap();
    });
    let mut r = Resolver::new(Duration::from_secs(30));
    let t = Duration::from_millis(500);
    assert!(probe(Heartbeat::Udp, &target, &mut r, t).await.is_ok());
    echo.await.unwrap();
    // Nobody answers now (the socket is closed): a miss, after the timeout.
    // (Refused, by the ICMP port unreachable; or a timeout where that is filtered.)
    let miss = probe(Heartbeat::Udp, &target, &mut r, Duration::from_millis(100)).await;
    assert!(matches!(
      miss.unwrap_err().kind(),
      io::ErrorKind::ConnectionRefused | io::ErrorKind::TimedOut
    ));
    // TCP: nothing listens on that port.
    let refused = probe(Heartbeat::Tcp, &target, &mut r, t).await;
    assert_eq!(refused.unwrap_err().kind(), io::ErrorKind::ConnectionRefused);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let up = Target::Tcp {
      host: "127.0.0.1".into(),
      port: l.local_addr().unwrap().port(),
    };
    assert!(probe(Heartbeat::Tcp, &up, &mut r, t).await.is_ok());
  }
}
