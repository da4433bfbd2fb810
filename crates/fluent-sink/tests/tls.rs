//! The TLS listener over loopback: a TLS 1.3 client sends a few records, the sink counts them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use fluent_sink::limits::Limits;
use fluent_sink::server::{serve_with, Endpoint, Listener};
use fluent_sink::stats::Stats;
use fluent_sink::tls::acceptor_from_files;
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::TlsConnector;

const LIMIT: Duration = Duration::from_secs(10);

fn fixture(name: &str) -> std::path::PathBuf {
  std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
    .join("../../__test__/fixtures/tls")
    .join(name)
}

/// PackedForward with `n` entries `[EventTime, {"a":1}]`, options size n and chunk `c1`.
fn packed(n: u8) -> Vec<u8> {
  let entry = [
    0x92, 0xd7, 0x00, 0x65, 0x53, 0xf1, 0x00, 0x00, 0x00, 0x00, 0x00, 0x81, 0xa1, 0x61, 0x01,
  ];
  let mut v = vec![0x93, 0xa7];
  v.extend(b"app.log");
  v.extend([0xc4, entry.len() as u8 * n]);
  for _ in 0..n {
    v.extend(entry);
  }
  v.extend([0x82, 0xa4]);
  v.extend(b"size");
  v.push(n);
  v.extend([0xa5]);
  v.extend(b"chunk");
  v.extend([0xa2, b'c', b'1']);
  v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls13_connection_is_decoded_and_acked() {
  let acceptor = acceptor_from_files(&fixture("server.pem"), &fixture("server.key")).unwrap();
  let listener = Listener::bind(&Endpoint::Tcp {
    host: "127.0.0.1".into(),
    port: 0,
  })
  .await
  .unwrap();
  let port: u16 = listener
    .banner()
    .unwrap()
    .strip_prefix("LISTENING ")
    .unwrap()
    .parse()
    .unwrap();
  let stats = Arc::new(Stats::default());
  let server = tokio::spawn(serve_with(
    listener,
    stats.clone(),
    false,
    Some(acceptor),
    Limits::default(),
  ));

  let mut roots = RootCertStore::empty();
  for c in CertificateDer::pem_file_iter(fixture("ca.pem")).unwrap() {
    roots.add(c.unwrap()).unwrap();
  }
  let provider = Arc::new(rustls::crypto::ring::default_provider());
  let config = ClientConfig::builder_with_provider(provider)
    .with_protocol_versions(&[&rustls::version::TLS13])
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
  let connector = TlsConnector::from(Arc::new(config));

  let run = async {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let mut sock = connector.connect(name, tcp).await.unwrap();
    assert_eq!(
      sock.get_ref().1.protocol_version(),
      Some(rustls::ProtocolVersion::TLSv1_3)
    );
    // Three records in one request, two in another, split across writes.
    let mut req = packed(3);
    req.extend(packed(2));
    sock.write_all(&req[..20]).await.unwrap();
    sock.flush().await.unwrap();
    sock.write_all(&req[20..]).await.unwrap();
    sock.flush().await.unwrap();
    // Two acks for chunk c1.
    let ack = [0x81, 0xa3, b'a', b'c', b'k', 0xa2, b'c', b'1'];
    let mut got = vec![0; 2 * ack.len()];
    sock.read_exact(&mut got).await.unwrap();
    assert_eq!(got, ack.repeat(2));
    sock.shutdown().await.unwrap();
  };
  tokio::time::timeout(LIMIT, run).await.expect("timed out");
  let deadline = Instant::now() + LIMIT;
  while stats.snapshot().events < 5 && Instant::now() < deadline {
    tokio::time::sleep(Duration::from_millis(5)).await;
  }
  let s = stats.snapshot();
  assert_eq!((s.events, s.requests, s.acks, s.invalid), (5, 2, 2, 0));

  // Plain bytes to the TLS listener: the handshake fails, nothing is counted.
  let mut plain = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
  plain.write_all(&packed(1)).await.unwrap();
  let mut rest = Vec::new();
  let _ = tokio::time::timeout(LIMIT, plain.read_to_end(&mut rest))
    .await
    .expect("not closed");
  let deadline = Instant::now() + LIMIT;
  while stats.snapshot().errors == 0 && Instant::now() < deadline {
    tokio::time::sleep(Duration::from_millis(5)).await;
  }
  let s = stats.snapshot();
  assert_eq!((s.events, s.errors), (5, 1));
  server.abort();
}
