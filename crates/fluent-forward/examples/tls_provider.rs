//! Compares rustls crypto providers (ring vs aws-lc-rs) on what the client does: full TLS 1.3
//! handshakes (ECDSA P-256 server certificate, X25519) and bulk encryption of 16 KiB records, both
//! sides in memory so that only crypto and rustls are measured. This chose ring.
//! Run: `cargo run --release -p fluent-forward --example tls_provider --features bench-aws-lc`
//! (without the feature only ring is measured).
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection};
use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Instant;

fn configs(provider: Arc<CryptoProvider>) -> (Arc<ClientConfig>, Arc<ServerConfig>) {
  let key = rcgen::KeyPair::generate().unwrap();
  let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
    .unwrap()
    .self_signed(&key)
    .unwrap();
  let der: CertificateDer<'static> = cert.der().clone();
  let mut roots = RootCertStore::empty();
  roots.add(der.clone()).unwrap();
  let client = ClientConfig::builder_with_provider(provider.clone())
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
  let server = ServerConfig::builder_with_provider(provider)
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
      vec![der],
      PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    )
    .unwrap();
  (Arc::new(client), Arc::new(server))
}

/// Moves TLS bytes between the two ends until neither has anything to send.
fn pump(c: &mut ClientConnection, s: &mut ServerConnection) {
  let mut buf = Vec::new();
  loop {
    let mut moved = false;
    buf.clear();
    while c.wants_write() {
      c.write_tls(&mut buf).unwrap();
    }
    if !buf.is_empty() {
      moved = true;
      let mut r = &buf[..];
      while !r.is_empty() {
        s.read_tls(&mut r).unwrap();
        s.process_new_packets().unwrap();
      }
    }
    buf.clear();
    while s.wants_write() {
      s.write_tls(&mut buf).unwrap();
    }
    if !buf.is_empty() {
      moved = true;
      let mut r = &buf[..];
      while !r.is_empty() {
        c.read_tls(&mut r).unwrap();
        c.process_new_packets().unwrap();
      }
    }
    if !moved {
      return;
    }
  }
}

fn connect(cc: &Arc<ClientConfig>, sc: &Arc<ServerConfig>) -> (ClientConnection, ServerConnection) {
  let name = ServerName::try_from("localhost").unwrap();
  let mut c = ClientConnection::new(cc.clone(), name).unwrap();
  let mut s = ServerConnection::new(sc.clone()).unwrap();
  pump(&mut c, &mut s);
  assert!(!c.is_handshaking() && !s.is_handshaking());
  (c, s)
}

fn measure(name: &str, provider: CryptoProvider) {
  let (cc, sc) = configs(Arc::new(provider));
  let n = 2000;
  let t = Instant::now();
  for _ in 0..n {
    connect(&cc, &sc);
  }
  let hs = n as f64 / t.elapsed().as_secs_f64();
  let (mut c, mut s) = connect(&cc, &sc);
  let block = vec![0x5au8; 16 << 10];
  let total: usize = 256 << 20;
  let mut out = vec![0u8; 64 << 10];
  let t = Instant::now();
  let mut sent = 0;
  while sent < total {
    c.writer().write_all(&block).unwrap();
    sent += block.len();
    pump(&mut c, &mut s);
    while let Ok(k) = s.reader().read(&mut out) {
      if k == 0 {
        break;
      }
    }
  }
  let mbs = total as f64 / (1 << 20) as f64 / t.elapsed().as_secs_f64();
  let suite = c.negotiated_cipher_suite().unwrap().suite();
  println!("{name:>10}: {hs:8.0} full handshakes/s (client+server), {mbs:7.0} MiB/s bulk ({suite:?}, encrypt+decrypt)");
}

fn main() {
  measure("ring", rustls::crypto::ring::default_provider());
  #[cfg(feature = "bench-aws-lc")]
  measure("aws-lc-rs", rustls::crypto::aws_lc_rs::default_provider());
}
