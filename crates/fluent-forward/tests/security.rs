//! Secure transport: the forward handshake (PROTOCOL.md section 6) against a scripted server, TLS
//! with rcgen certificates against a rustls server, the typed errors, the circuit breaker, and that
//! no secret is ever formatted. Every server runs on 127.0.0.1:0 and every wait is bounded.

mod common;

use common::*;
use fluent_forward::handshake::{self, Helo, Parsed};
use fluent_forward::{
  Breaker, BreakerState, Client, Compression, Config, Event, Heartbeat, Mode, Secret, Security, TlsConfig,
  TlsVersion,
};
use rmpv::Value;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::{Digest, Sha512};
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const TAG: &str = "sec.test";
const KEY: &str = "s3cr3t-key-XYZ";
const PASS: &str = "s3cr3t-pass-XYZ";

// ---------------------------------------------------------------------------------------------
// PROTOCOL.md section 6 test vectors, byte for byte

const SALT: &str = "0123456789abcdef0123456789abcdef";
const PING_DIGEST: &str = "3a680037d3979b4f789647cd22e7e55f2197791eb498799823c424e2213124ed63938d1c422f50e08ec02957ef44df338e46c77e8ea164b0dde6d64e171b30df";
const PONG_DIGEST: &str = "3389a63bef56054281d75fb7b05965b0d1b1ea9eba25b4594ed8e06a02e725af1fbf401cdbe697423c388ac1948566570a6f592284a536370ca36a5ccf88cbbd";
const PASSWORD_DIGEST: &str = "30ba189083890f86a0f1c763335d41db45565f83c1ccc40cb117adc1677e2597a24b01d07b410f4f969fcbdbae7dffa606a9a8e02d34f126658def33403a6248";

fn nonce() -> Vec<u8> {
  (0u8..16).collect()
}

#[test]
fn protocol_test_vectors() {
  let n = nonce();
  assert_eq!(
    handshake::shared_key_digest(SALT.as_bytes(), "client.example", &n, b"secret"),
    PING_DIGEST
  );
  assert_eq!(
    handshake::shared_key_digest(SALT.as_bytes(), "server.example", &n, b"secret"),
    PONG_DIGEST
  );
  let auth: Vec<u8> = (0x10u8..0x20).collect();
  assert_eq!(
    handshake::password_digest(&auth, "user", b"pass"),
    PASSWORD_DIGEST
  );
  // The whole PING, every value a str, byte for byte.
  let helo = Helo {
    nonce: n,
    auth,
    keepalive: true,
  };
  let mut ping = Vec::new();
  handshake::ping_for(
    &mut ping,
    &helo,
    "client.example",
    SALT,
    b"secret",
    "user",
    b"pass",
  );
  let mut expected = vec![0x96, 0xa4];
  expected.extend_from_slice(b"PING");
  for s in ["client.example", SALT, PING_DIGEST, "user", PASSWORD_DIGEST] {
    if s.len() < 32 {
      expected.push(0xa0 | s.len() as u8);
    } else {
      expected.extend_from_slice(&[0xd9, s.len() as u8]);
    }
    expected.extend_from_slice(s.as_bytes());
  }
  assert_eq!(ping, expected);
  let salt = handshake::new_salt();
  assert!(
    salt.len() == 32
      && salt
        .bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
  );
  // A PONG with a bin digest parses the same as with a str one.
  let pong = Value::Array(vec![
    "PONG".into(),
    true.into(),
    "".into(),
    "server.example".into(),
    Value::Binary(PONG_DIGEST.as_bytes().to_vec()),
  ]);
  let mut b = Vec::new();
  rmpv::encode::write_value(&mut b, &pong).unwrap();
  let Parsed::Done(p, used) = handshake::parse_pong(&b) else {
    panic!("pong")
  };
  assert_eq!(used, b.len());
  assert_eq!(p.server_digest, PONG_DIGEST.as_bytes());
}

// ---------------------------------------------------------------------------------------------
// A scripted forward server with optional TLS and handshake

fn hex(b: &[u8]) -> String {
  b.iter().map(|x| format!("{x:02x}")).collect()
}

fn sha512_hex(parts: &[&[u8]]) -> String {
  let mut h = Sha512::new();
  for p in parts {
    h.update(p);
  }
  hex(&h.finalize())
}

#[derive(Clone)]
struct Sec {
  key: String,
  hostname: String,
  /// Send the nonce (and auth salt) as msgpack str, as Fluent Bit does; else bin, as fluentd.
  nonce_as_str: bool,
  /// `Some`: user authentication with this user and password.
  user: Option<(String, String)>,
  /// `None`: no keepalive key (Fluent Bit).
  keepalive: Option<bool>,
  /// Answers PONG with a digest made from another key.
  bad_digest: bool,
  /// Never sends HELO.
  silent: bool,
}

impl Sec {
  fn new(key: &str) -> Self {
    Self {
      key: key.into(),
      hostname: "server.test".into(),
      nonce_as_str: false,
      user: None,
      keepalive: Some(true),
      bad_digest: false,
      silent: false,
    }
  }
}

#[derive(Clone, Default)]
struct Opts {
  sec: Option<Sec>,
  tls: Option<Arc<rustls::ServerConfig>>,
  /// Reads whatever comes and closes (a plaintext server that does not understand TLS).
  read_and_close: bool,
}

#[derive(Default)]
struct Seen {
  ns: Vec<u64>,
  handshakes: usize,
  violations: Vec<String>,
}

struct Srv {
  port: u16,
  seen: Arc<Mutex<Seen>>,
  conns: Arc<AtomicUsize>,
  stop: Arc<AtomicBool>,
  accept: Option<JoinHandle<()>>,
}

impl Drop for Srv {
  fn drop(&mut self) {
    self.stop.store(true, SeqCst);
    if let Some(h) = self.accept.take() {
      let _ = h.join();
    }
  }
}

impl Srv {
  fn start(opts: Opts) -> Self {
    Self::start_on(0, opts)
  }

  fn start_on(port: u16, opts: Opts) -> Self {
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let conns = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (s2, c2, st2) = (seen.clone(), conns.clone(), stop.clone());
    let accept = std::thread::spawn(move || {
      let mut handles = Vec::new();
      while !st2.load(SeqCst) {
        match listener.accept() {
          Ok((tcp, _)) => {
            c2.fetch_add(1, SeqCst);
            let (seen, stop, opts) = (s2.clone(), st2.clone(), opts.clone());
            handles.push(std::thread::spawn(move || serve(tcp, opts, seen, stop)));
          }
          Err(_) => std::thread::sleep(Duration::from_millis(2)),
        }
      }
      for h in handles {
        let _ = h.join();
      }
    });
    Self {
      port,
      seen,
      conns,
      stop,
      accept: Some(accept),
    }
  }

  fn ns(&self) -> Vec<u64> {
    let mut v = self.seen.lock().unwrap().ns.clone();
    v.sort_unstable();
    v
  }

  fn count(&self) -> usize {
    self.seen.lock().unwrap().ns.len()
  }
}

/// Blocking reads that retry on the read timeout until the server stops or 10 s pass.
struct Patient<'a> {
  s: &'a mut dyn ReadWrite,
  stop: &'a AtomicBool,
  until: Instant,
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

impl Read for Patient<'_> {
  fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
    loop {
      match self.s.read(buf) {
        Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
          if self.stop.load(SeqCst) || Instant::now() >= self.until {
            return Err(e);
          }
        }
        other => return other,
      }
    }
  }
}

fn serve(tcp: TcpStream, opts: Opts, seen: Arc<Mutex<Seen>>, stop: Arc<AtomicBool>) {
  tcp.set_nonblocking(false).unwrap();
  tcp.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
  let _ = match &opts.tls {
    Some(cfg) => {
      let mut conn = rustls::ServerConnection::new(cfg.clone()).unwrap();
      let mut tcp = tcp;
      // The TLS handshake first, retrying across read timeouts, as a real TLS server waits for it.
      let until = Instant::now() + Duration::from_secs(10);
      while conn.is_handshaking() {
        match conn.complete_io(&mut tcp) {
          Ok((0, 0)) => return,
          Ok(_) => {}
          Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
            if stop.load(SeqCst) || Instant::now() >= until {
              return;
            }
          }
          Err(_) => return,
        }
      }
      let mut s = rustls::StreamOwned::new(conn, tcp);
      serve_on(&mut s, &opts, &seen, &stop)
    }
    None => {
      let mut s = tcp;
      serve_on(&mut s, &opts, &seen, &stop)
    }
  };
}

fn write_value(s: &mut dyn ReadWrite, v: &Value) -> io::Result<()> {
  let mut b = Vec::new();
  rmpv::encode::write_value(&mut b, v).unwrap();
  s.write_all(&b)?;
  s.flush()
}

fn serve_on(s: &mut dyn ReadWrite, opts: &Opts, seen: &Mutex<Seen>, stop: &AtomicBool) -> io::Result<()> {
  let until = Instant::now() + Duration::from_secs(10);
  if opts.read_and_close {
    let mut b = [0u8; 1024];
    let _ = Patient { s, stop, until }.read(&mut b);
    return Ok(());
  }
  let mut keepalive = true;
  if let Some(sec) = &opts.sec {
    if sec.silent {
      let mut b = [0u8; 1024];
      while !stop.load(SeqCst) && Instant::now() < until {
        if let Ok(0) = s.read(&mut b) {
          return Ok(());
        }
      }
      return Ok(());
    }
    keepalive = sec.keepalive.unwrap_or(true);
    let nonce: Vec<u8> = (0..16).map(|i| 0xf0 ^ i).collect();
    let auth: Vec<u8> = if sec.user.is_some() {
      (0..16).map(|i| 0x80 | i).collect()
    } else {
      Vec::new()
    };
    // Hand-encoded: rmpv cannot make a str of non-UTF-8 bytes, which Fluent Bit sends.
    let raw = |out: &mut Vec<u8>, b: &[u8]| {
      out.push(if sec.nonce_as_str { 0xd9 } else { 0xc4 });
      out.push(b.len() as u8);
      out.extend_from_slice(b);
    };
    let mut helo = vec![0x92, 0xa4];
    helo.extend_from_slice(b"HELO");
    helo.push(0x80 | if sec.keepalive.is_some() { 3 } else { 2 });
    helo.push(0xa5);
    helo.extend_from_slice(b"nonce");
    raw(&mut helo, &nonce);
    helo.push(0xa4);
    helo.extend_from_slice(b"auth");
    raw(&mut helo, &auth);
    if let Some(k) = sec.keepalive {
      helo.push(0xa9);
      helo.extend_from_slice(b"keepalive");
      helo.push(if k { 0xc3 } else { 0xc2 });
    }
    s.write_all(&helo)?;
    s.flush()?;
    let ping = rmpv::decode::read_value(&mut Patient { s, stop, until })
      .map_err(|e| io::Error::other(e.to_string()))?;
    let items = ping.as_array().cloned().unwrap_or_default();
    let strs: Vec<Vec<u8>> = items
      .iter()
      .filter_map(|v| match v {
        Value::String(s) => Some(s.as_bytes().to_vec()),
        _ => None,
      })
      .collect();
    if items.len() != 6 || strs.len() != 6 || strs[0] != b"PING" {
      seen
        .lock()
        .unwrap()
        .violations
        .push(format!("PING is not 6 str: {ping:?}"));
      return Ok(());
    }
    let (host, salt, digest, user, pwd) = (&strs[1], &strs[2], &strs[3], &strs[4], &strs[5]);
    if salt.len() != 32
      || !salt
        .iter()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
    {
      seen
        .lock()
        .unwrap()
        .violations
        .push(format!("salt is not 32 lowercase hex: {salt:?}"));
    }
    let want = sha512_hex(&[salt, host, &nonce, sec.key.as_bytes()]);
    let fail = |reason: &str| {
      Value::Array(vec![
        "PONG".into(),
        false.into(),
        reason.into(),
        "".into(),
        "".into(),
      ])
    };
    if want.as_bytes() != digest.as_slice() {
      return write_value(s, &fail("shared_key mismatch"));
    }
    if let Some((u, p)) = &sec.user {
      let want = sha512_hex(&[&auth, u.as_bytes(), p.as_bytes()]);
      if user != u.as_bytes() || want.as_bytes() != pwd.as_slice() {
        return write_value(s, &fail("username/password mismatch"));
      }
    }
    let key = if sec.bad_digest { "another key" } else { &sec.key };
    let server_digest = sha512_hex(&[salt, sec.hostname.as_bytes(), &nonce, key.as_bytes()]);
    write_value(
      s,
      &Value::Array(vec![
        "PONG".into(),
        true.into(),
        "".into(),
        sec.hostname.as_str().into(),
        server_digest.into(),
      ]),
    )?;
    seen.lock().unwrap().handshakes += 1;
  }
  let mut buf = Vec::new();
  let mut chunk = vec![0u8; 64 << 10];
  while !stop.load(SeqCst) && Instant::now() < until {
    let n = match s.read(&mut chunk) {
      Ok(0) => return Ok(()),
      Ok(n) => n,
      Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => continue,
      Err(e) => return Err(e),
    };
    buf.extend_from_slice(&chunk[..n]);
    let reqs = split_requests(&mut buf).map_err(io::Error::other)?;
    for (_, id, events) in reqs {
      {
        let mut g = seen.lock().unwrap();
        g.ns.extend(events.iter().filter_map(|e| record_n(&e.record)));
      }
      if let Some(id) = id {
        s.write_all(&ack_for(&id))?;
        s.flush()?;
      }
      if !keepalive {
        return Ok(());
      }
    }
  }
  Ok(())
}

// ---------------------------------------------------------------------------------------------
// Certificates

struct Pki {
  ca_pem: String,
  ca_der: CertificateDer<'static>,
  server_chain: Vec<CertificateDer<'static>>,
  server_key: PrivateKeyDer<'static>,
  client_cert_pem: String,
  client_key_pem: String,
}

fn pki() -> Pki {
  use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
  let ca_key = KeyPair::generate().unwrap();
  let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
  ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
  let ca = ca_params.self_signed(&ca_key).unwrap();
  let key = KeyPair::generate().unwrap();
  let params = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
  let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
  let ckey = KeyPair::generate().unwrap();
  let cparams = CertificateParams::new(vec!["client.test".to_string()]).unwrap();
  let ccert = cparams.signed_by(&ckey, &ca, &ca_key).unwrap();
  Pki {
    ca_pem: ca.pem(),
    ca_der: ca.der().clone(),
    server_chain: vec![cert.der().clone()],
    server_key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    client_cert_pem: ccert.pem(),
    client_key_pem: ckey.serialize_pem(),
  }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
  Arc::new(rustls::crypto::ring::default_provider())
}

fn server_tls(
  p: &Pki,
  versions: &[&'static rustls::SupportedProtocolVersion],
  mtls: bool,
) -> Arc<rustls::ServerConfig> {
  let b = rustls::ServerConfig::builder_with_provider(provider())
    .with_protocol_versions(versions)
    .unwrap();
  let b = if mtls {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(p.ca_der.clone()).unwrap();
    let v = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
      .build()
      .unwrap();
    b.with_client_cert_verifier(v)
  } else {
    b.with_no_client_auth()
  };
  Arc::new(
    b.with_single_cert(p.server_chain.clone(), p.server_key.clone_key())
      .unwrap(),
  )
}

fn all_versions() -> Vec<&'static rustls::SupportedProtocolVersion> {
  vec![&rustls::version::TLS13, &rustls::version::TLS12]
}

fn tls_trusting(p: &Pki) -> TlsConfig {
  TlsConfig {
    ca: Some(p.ca_pem.clone().into_bytes()),
    ..TlsConfig::default()
  }
}

// ---------------------------------------------------------------------------------------------
// Client side

fn security(user: Option<(&str, &str)>) -> Security {
  Security {
    client_hostname: "client.test".into(),
    shared_key: Secret::new(KEY),
    username: user.map(|u| u.0.to_string()).unwrap_or_default(),
    password: Secret::new(user.map(|u| u.1).unwrap_or("")),
  }
}

fn config(port: u16) -> Config {
  Config {
    require_ack: true,
    handshake_timeout: Duration::from_secs(3),
    ..fast_config(tcp(port))
  }
}

fn push_n(client: &Client, from: u64, n: u64) {
  let tag = client.tag_id(TAG).unwrap();
  for i in from..from + n {
    assert!(client.push(tag, None, &record(i, 20)).unwrap());
  }
}

/// Pushes `n` records, waits (bounded) until the server has them all, closes.
fn deliver(cfg: Config, srv: &Srv, n: u64) -> Arc<EventLog> {
  let log = EventLog::new();
  let client = Client::start(cfg, log.sink()).unwrap();
  push_n(&client, 0, n);
  let ok = wait_until(LONG, || srv.count() >= n as usize);
  let _ = close_and_wait(&client, Duration::from_secs(2));
  assert!(ok, "delivered {} of {n}: {}", srv.count(), log.describe());
  assert_eq!(srv.ns(), (0..n).collect::<Vec<_>>(), "exactly once, in full");
  assert!(
    srv.seen.lock().unwrap().violations.is_empty(),
    "{:?}",
    srv.seen.lock().unwrap().violations
  );
  log
}

/// Pushes records and waits (bounded) for an error event with `code`; nothing may be delivered.
fn expect_error(cfg: Config, _srv: &Srv, code: &str) -> Arc<EventLog> {
  let log = EventLog::new();
  let client = Client::start(cfg, log.sink()).unwrap();
  push_n(&client, 0, 10);
  let ok = log.wait_for(LONG, |es| count_errors(es, code) > 0);
  let _ = close_and_wait(&client, Duration::from_millis(200));
  assert!(ok, "no {code}: {}", log.describe());
  log
}

fn error_text(log: &EventLog, code: &str) -> String {
  log.with(|es| {
    es.iter()
      .filter_map(event_error)
      .find(|e| e.code() == code)
      .map(|e| e.to_string())
      .unwrap_or_default()
  })
}

// ---------------------------------------------------------------------------------------------
// Handshake

#[test]
fn handshake_with_bin_nonce_delivers() {
  let srv = Srv::start(Opts {
    sec: Some(Sec::new(KEY)),
    ..Opts::default()
  });
  let cfg = Config {
    security: Some(security(None)),
    ..config(srv.port)
  };
  deliver(cfg, &srv, 200);
  assert!(srv.seen.lock().unwrap().handshakes >= 1);
}

#[test]
fn handshake_with_str_nonce_user_auth_and_no_keepalive_key_delivers() {
  let srv = Srv::start(Opts {
    sec: Some(Sec {
      nonce_as_str: true,
      user: Some(("alice".into(), PASS.into())),
      keepalive: None,
      ..Sec::new(KEY)
    }),
    ..Opts::default()
  });
  let cfg = Config {
    security: Some(security(Some(("alice", PASS)))),
    ..config(srv.port)
  };
  deliver(cfg, &srv, 200);
  // keepalive missing means true: one connection carried everything.
  assert_eq!(srv.conns.load(SeqCst), 1);
}

#[test]
fn wrong_key_is_auth_key_nothing_sent_and_the_breaker_opens() {
  let srv = Srv::start(Opts {
    sec: Some(Sec::new("the server's key")),
    ..Opts::default()
  });
  let cfg = Config {
    security: Some(security(None)),
    ..config(srv.port)
  };
  let log = EventLog::new();
  let client = Client::start(cfg, log.sink()).unwrap();
  push_n(&client, 0, 10);
  assert!(
    log.wait_for(LONG, |es| count_errors(es, "AUTH_KEY") > 0),
    "{}",
    log.describe()
  );
  std::thread::sleep(Duration::from_secs(2));
  let stats = client.stats();
  let _ = close_and_wait(&client, Duration::from_millis(200));
  assert!(srv.conns.load(SeqCst) <= 2, "{} attempts", srv.conns.load(SeqCst));
  assert_eq!(srv.count(), 0);
  assert_eq!(stats.breaker, BreakerState::Open);
  assert_eq!(stats.sent, 0);
  log.with(|es| {
    assert_eq!(
      count_errors(es, "AUTH_KEY"),
      1,
      "reported once per opening: {es:?}"
    );
    assert!(es.iter().any(|e| matches!(
      e,
      Event::Breaker {
        state: BreakerState::Open,
        ..
      }
    )));
  });
  let msg = error_text(&log, "AUTH_KEY");
  assert!(
    msg.contains("shared_key mismatch") && msg.contains("security.sharedKey"),
    "{msg}"
  );
}

#[test]
fn wrong_password_is_auth_user() {
  let srv = Srv::start(Opts {
    sec: Some(Sec {
      user: Some(("alice".into(), "the real password".into())),
      ..Sec::new(KEY)
    }),
    ..Opts::default()
  });
  let cfg = Config {
    security: Some(security(Some(("alice", PASS)))),
    ..config(srv.port)
  };
  expect_error(cfg, &srv, "AUTH_USER");
  assert_eq!(srv.count(), 0);
}

#[test]
fn bad_server_digest_is_auth_server() {
  let srv = Srv::start(Opts {
    sec: Some(Sec {
      bad_digest: true,
      ..Sec::new(KEY)
    }),
    ..Opts::default()
  });
  let cfg = Config {
    security: Some(security(None)),
    ..config(srv.port)
  };
  let log = expect_error(cfg, &srv, "AUTH_SERVER");
  assert_eq!(
    srv.count(),
    0,
    "nothing sent to a server that failed to prove the key"
  );
  assert!(error_text(&log, "AUTH_SERVER").contains("digest"));
}

#[test]
fn same_hostname_is_auth_server() {
  let srv = Srv::start(Opts {
    sec: Some(Sec {
      hostname: "client.test".into(),
      ..Sec::new(KEY)
    }),
    ..Opts::default()
  });
  let cfg = Config {
    security: Some(security(None)),
    ..config(srv.port)
  };
  let log = expect_error(cfg, &srv, "AUTH_SERVER");
  assert_eq!(srv.count(), 0);
  assert!(error_text(&log, "AUTH_SERVER").contains("same hostname"));
}

#[test]
fn no_helo_is_handshake_timeout() {
  let srv = Srv::start(Opts {
    sec: Some(Sec {
      silent: true,
      ..Sec::new(KEY)
    }),
    ..Opts::default()
  });
  let cfg = Config {
    security: Some(security(None)),
    handshake_timeout: Duration::from_millis(300),
    ..config(srv.port)
  };
  let start = Instant::now();
  expect_error(cfg, &srv, "HANDSHAKE_TIMEOUT");
  assert!(start.elapsed() < Duration::from_secs(5));
  assert_eq!(srv.count(), 0);
}

#[test]
fn keepalive_false_reconnects_and_handshakes_per_request() {
  let srv = Srv::start(Opts {
    sec: Some(Sec {
      keepalive: Some(false),
      ..Sec::new(KEY)
    }),
    ..Opts::default()
  });
  let cfg = Config {
    security: Some(security(None)),
    // Small batches: several requests, so several connections.
    batch_bytes: 256,
    // Every connection here must be a handshaken one; a heartbeat is a connection without one.
    heartbeat: Some(Heartbeat::None),
    ..config(srv.port)
  };
  let log = deliver(cfg, &srv, 60);
  let conns = srv.conns.load(SeqCst);
  let handshakes = srv.seen.lock().unwrap().handshakes;
  assert!(conns >= 5, "{conns} connections");
  assert_eq!(handshakes, conns, "every connection was handshaken");
  log.with(|es| {
    assert!(
      !es.iter().any(|e| matches!(e, Event::Breaker { .. })),
      "a keepalive:false server is not a failure: {es:?}"
    )
  });
}

// ---------------------------------------------------------------------------------------------
// TLS

fn tls_srv(
  p: &Pki,
  versions: &[&'static rustls::SupportedProtocolVersion],
  mtls: bool,
  sec: Option<Sec>,
) -> Srv {
  Srv::start(Opts {
    sec,
    tls: Some(server_tls(p, versions, mtls)),
    ..Opts::default()
  })
}

/// A self-signed server certificate with `CA:TRUE`, as `openssl req -x509` makes by default:
/// `sans` empty gives none (openssl adds none), so the name is only in the CN. The certificate is
/// also the `ca` (`ca_pem`), as a user passes it.
fn self_signed_ca_true(cn: &str, sans: &[&str], not_after: (i32, u8, u8)) -> Pki {
  use rcgen::{BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, KeyPair};
  let key = KeyPair::generate().unwrap();
  let mut params = CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
  params.distinguished_name = DistinguishedName::new();
  params.distinguished_name.push(DnType::CommonName, cn);
  params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
  params.not_before = rcgen::date_time_ymd(2020, 1, 1);
  params.not_after = rcgen::date_time_ymd(not_after.0, not_after.1, not_after.2);
  let cert = params.self_signed(&key).unwrap();
  Pki {
    ca_pem: cert.pem(),
    ca_der: cert.der().clone(),
    server_chain: vec![cert.der().clone()],
    server_key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    client_cert_pem: String::new(),
    client_key_pem: String::new(),
  }
}

fn pinned_config(p: &Pki, port: u16, servername: &str) -> Config {
  Config {
    tls: Some(TlsConfig {
      servername: Some(servername.into()),
      ..tls_trusting(p)
    }),
    ..config(port)
  }
}

/// REVIEW-0.2 A5: webpki refuses a `CA:TRUE` certificate as the end entity (`CaUsedAsEndEntity`),
/// so this failed with `TLS_CERT` "Other(OtherError(CaUsedAsEndEntity))" before.
#[test]
fn tls_self_signed_ca_true_server_certificate_given_as_ca_is_trusted() {
  // With the name in a subjectAltName, and only in the CN (what openssl makes).
  for sans in [&["localhost"][..], &[]] {
    let p = self_signed_ca_true("localhost", sans, (4000, 1, 1));
    let srv = tls_srv(&p, &all_versions(), false, None);
    deliver(pinned_config(&p, srv.port, "localhost"), &srv, 50);
  }
}

#[test]
fn tls_self_signed_ca_true_is_still_checked_for_name_validity_and_identity() {
  // The wrong name: in the CN only, and in a subjectAltName.
  for sans in [&[][..], &["localhost"]] {
    let p = self_signed_ca_true("localhost", sans, (4000, 1, 1));
    let srv = tls_srv(&p, &all_versions(), false, None);
    let log = expect_error(pinned_config(&p, srv.port, "other.test"), &srv, "TLS_HOSTNAME");
    assert!(error_text(&log, "TLS_HOSTNAME").contains("other.test"));
    assert_eq!(srv.count(), 0);
  }
  // Expired.
  let p = self_signed_ca_true("localhost", &[], (2021, 1, 1));
  let srv = tls_srv(&p, &all_versions(), false, None);
  let log = expect_error(pinned_config(&p, srv.port, "localhost"), &srv, "TLS_CERT");
  let text = error_text(&log, "TLS_CERT");
  assert!(text.contains("expired"), "{text}");
  assert_eq!(srv.count(), 0);
  // Another self-signed certificate as the ca: not the one the server presents.
  let presented = self_signed_ca_true("localhost", &[], (4000, 1, 1));
  let given = self_signed_ca_true("localhost", &[], (4000, 1, 1));
  let srv = tls_srv(&presented, &all_versions(), false, None);
  expect_error(pinned_config(&given, srv.port, "localhost"), &srv, "TLS_CERT");
  assert_eq!(srv.count(), 0);
}

#[test]
fn tls_trusted_ca_delivers_with_dns_name() {
  let p = pki();
  let srv = tls_srv(&p, &all_versions(), false, None);
  let cfg = Config {
    tls: Some(TlsConfig {
      servername: Some("localhost".into()),
      ..tls_trusting(&p)
    }),
    ..config(srv.port)
  };
  deliver(cfg, &srv, 100);
}

#[test]
fn tls_ip_san_verifies_against_the_host_address() {
  let p = pki();
  let srv = tls_srv(&p, &all_versions(), false, None);
  let cfg = Config {
    tls: Some(TlsConfig {
      servername: Some("127.0.0.1".into()),
      ..tls_trusting(&p)
    }),
    require_ack: false,
    ..config(srv.port)
  };
  deliver(cfg, &srv, 100);
}

#[test]
fn tls_untrusted_is_tls_cert_and_opens_the_breaker() {
  let p = pki();
  let srv = tls_srv(&p, &all_versions(), false, None);
  // Default roots (webpki-roots) do not include our test CA.
  let cfg = Config {
    tls: Some(TlsConfig::default()),
    ..config(srv.port)
  };
  let log = expect_error(cfg, &srv, "TLS_CERT");
  assert_eq!(srv.count(), 0);
  assert!(error_text(&log, "TLS_CERT").contains("tls.ca"));
  log.with(|es| {
    assert!(es.iter().any(|e| matches!(
      e,
      Event::Breaker {
        state: BreakerState::Open,
        ..
      }
    )))
  });
}

#[test]
fn tls_wrong_name_is_tls_hostname() {
  let p = pki();
  let srv = tls_srv(&p, &all_versions(), false, None);
  let cfg = Config {
    tls: Some(TlsConfig {
      servername: Some("other.example".into()),
      ..tls_trusting(&p)
    }),
    ..config(srv.port)
  };
  let log = expect_error(cfg, &srv, "TLS_HOSTNAME");
  assert!(error_text(&log, "TLS_HOSTNAME").contains("other.example"));
  assert_eq!(srv.count(), 0);
}

#[test]
fn tls_reject_unauthorized_false_delivers() {
  let p = pki();
  let srv = tls_srv(&p, &all_versions(), false, None);
  let cfg = Config {
    tls: Some(TlsConfig {
      reject_unauthorized: false,
      servername: Some("whatever.example".into()),
      ..TlsConfig::default()
    }),
    ..config(srv.port)
  };
  deliver(cfg, &srv, 50);
}

#[test]
fn mtls_with_client_cert_delivers_and_without_is_tls_cert() {
  let p = pki();
  let srv = tls_srv(&p, &all_versions(), true, None);
  let with = Config {
    tls: Some(TlsConfig {
      cert: Some(p.client_cert_pem.clone().into_bytes()),
      key: Some(Secret::new(p.client_key_pem.clone())),
      ..tls_trusting(&p)
    }),
    ..config(srv.port)
  };
  deliver(with, &srv, 50);
  // Without: TLS 1.3 finishes the client's side of the handshake before the server checks, so the
  // server's `certificate_required` alert arrives on the first read and maps to TLS_CERT there.
  let srv = tls_srv(&p, &all_versions(), true, None);
  let without = Config {
    tls: Some(tls_trusting(&p)),
    ..config(srv.port)
  };
  let log = expect_error(without, &srv, "TLS_CERT");
  assert!(error_text(&log, "TLS_CERT").contains("client certificate"));
  assert_eq!(srv.count(), 0);
}

#[test]
fn tls_client_to_plaintext_server_is_tls_protocol() {
  let srv = Srv::start(Opts {
    read_and_close: true,
    ..Opts::default()
  });
  let cfg = Config {
    tls: Some(TlsConfig {
      reject_unauthorized: false,
      ..TlsConfig::default()
    }),
    ..config(srv.port)
  };
  let log = expect_error(cfg, &srv, "TLS_PROTOCOL");
  assert!(error_text(&log, "TLS_PROTOCOL").contains("configured for TLS"));
}

/// A plaintext server that resets the connection on a ClientHello (fluentd does: REVIEW-0.2 A6 saw
/// `ERR_FLUENT_IO` there).
#[test]
fn tls_client_to_a_plaintext_server_that_resets_is_tls_protocol() {
  let listener = TcpListener::bind("127.0.0.1:0").unwrap();
  let port = listener.local_addr().unwrap().port();
  let server = std::thread::spawn(move || {
    listener.set_nonblocking(false).unwrap();
    let (mut s, _) = listener.accept().unwrap();
    let mut buf = [0u8; 5];
    // The record header only: the rest stays unread, so the close is a reset (as with SO_LINGER 0).
    let _ = s.read_exact(&mut buf);
    socket2::SockRef::from(&s)
      .set_linger(Some(Duration::ZERO))
      .unwrap();
    drop(s);
    buf
  });
  let cfg = Config {
    tls: Some(TlsConfig {
      reject_unauthorized: false,
      ..TlsConfig::default()
    }),
    breaker: Breaker {
      failure_threshold: 1,
      ..Breaker::default()
    },
    ..config(port)
  };
  let log = EventLog::new();
  let client = Client::start(cfg, log.sink()).unwrap();
  push_n(&client, 0, 10);
  let got = log.wait_for(LONG, |es| {
    count_errors(es, "TLS_PROTOCOL") > 0 || count_errors(es, "IO") > 0
  });
  let report = close_and_wait(&client, Duration::from_millis(200));
  assert_eq!(server.join().unwrap()[0], 0x16, "it got a ClientHello");
  assert!(got, "{}", log.describe());
  assert!(
    error_text(&log, "TLS_PROTOCOL").contains("configured for TLS"),
    "{}",
    log.describe()
  );
  assert_eq!(report.sent, 0);
}

#[test]
fn plaintext_client_to_tls_server_is_tls_protocol() {
  let p = pki();
  for require_ack in [false, true] {
    let srv = tls_srv(&p, &all_versions(), false, None);
    let cfg = Config {
      require_ack,
      ..config(srv.port)
    };
    let log = expect_error(cfg, &srv, "TLS_PROTOCOL");
    assert!(
      error_text(&log, "TLS_PROTOCOL").contains("set tls"),
      "{}",
      log.describe()
    );
  }
  // With a handshake configured both sides wait: the TLS server for a ClientHello, we for HELO.
  // Nothing on the wire tells them apart from a slow server, so this is a handshake timeout (whose
  // message asks whether the input is configured for tls).
  let srv = tls_srv(&p, &all_versions(), false, Some(Sec::new(KEY)));
  let cfg = Config {
    security: Some(security(None)),
    handshake_timeout: Duration::from_millis(300),
    ..config(srv.port)
  };
  let log = expect_error(cfg, &srv, "HANDSHAKE_TIMEOUT");
  assert!(error_text(&log, "HANDSHAKE_TIMEOUT").contains("tls"));
}

/// A server that takes every connection, reads what comes, and drops it, as a TLS input does with
/// plaintext: with a close (Node's `tls`) or a reset (fluentd, OpenSSL).
fn drops_first_bytes(reset: bool) -> (u16, Arc<AtomicBool>, std::thread::JoinHandle<usize>) {
  let listener = TcpListener::bind("127.0.0.1:0").unwrap();
  listener.set_nonblocking(true).unwrap();
  let port = listener.local_addr().unwrap().port();
  let stop = Arc::new(AtomicBool::new(false));
  let done = stop.clone();
  let h = std::thread::spawn(move || {
    let mut conns = 0;
    while !done.load(SeqCst) {
      match listener.accept() {
        Ok((mut s, _)) => {
          conns += 1;
          s.set_nonblocking(false).unwrap();
          s.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
          let mut buf = [0u8; 5];
          let _ = s.read_exact(&mut buf);
          if reset {
            socket2::SockRef::from(&s)
              .set_linger(Some(Duration::ZERO))
              .unwrap();
          }
        }
        Err(_) => std::thread::sleep(Duration::from_millis(2)),
      }
    }
    conns
  });
  (port, stop, h)
}

/// REVIEW-0.2 A6: without acks, records written to a TLS input counted as sent (`sent: 10`, nothing
/// stored). A rustls server answers with an alert; others close or reset after the first bytes.
#[test]
fn plaintext_records_to_a_tls_input_are_never_counted_as_sent() {
  let p = pki();
  for how in ["alert", "close", "reset"] {
    let tls = (how == "alert").then(|| tls_srv(&p, &all_versions(), false, None));
    let dropper = (how != "alert").then(|| drops_first_bytes(how == "reset"));
    let port = tls
      .as_ref()
      .map(|s| s.port)
      .or(dropper.as_ref().map(|d| d.0))
      .unwrap();
    let log = EventLog::new();
    let client = Client::start(
      Config {
        require_ack: false,
        ..config(port)
      },
      log.sink(),
    )
    .unwrap();
    push_n(&client, 0, 10);
    assert!(
      log.wait_for(LONG, |es| count_errors(es, "TLS_PROTOCOL") > 0),
      "{how}: {}",
      log.describe()
    );
    let report = close_and_wait(&client, Duration::from_millis(500));
    assert_eq!(
      (report.sent, report.pending),
      (0, 10),
      "{how}: {}",
      log.describe()
    );
    assert!(error_text(&log, "TLS_PROTOCOL").contains("set tls"), "{how}");
    if let Some((_, stop, h)) = dropper {
      stop.store(true, SeqCst);
      assert!(h.join().unwrap() >= 1);
    }
  }
}

/// The other side of the probation: a plaintext Forward server without acks gets every record
/// counted as sent, the first connection's once its window has passed.
#[test]
fn plaintext_records_to_a_forward_server_count_as_sent_after_the_window() {
  let srv = Srv::start(Opts::default());
  let cfg = Config {
    require_ack: false,
    ..config(srv.port)
  };
  let log = EventLog::new();
  let client = Client::start(cfg, log.sink()).unwrap();
  push_n(&client, 0, 10);
  assert!(
    wait_until(LONG, || client.stats().sent == 10),
    "{}",
    log.describe()
  );
  push_n(&client, 10, 10);
  let report = close_and_wait(&client, LONG);
  assert_eq!((report.sent, report.pending), (20, 0));
  assert!(wait_until(LONG, || srv.count() == 20));
}

#[test]
fn min_tls13_against_a_tls12_only_server_is_tls_protocol() {
  let p = pki();
  let srv = tls_srv(&p, &[&rustls::version::TLS12], false, None);
  let cfg = Config {
    tls: Some(TlsConfig {
      min_version: TlsVersion::V1_3,
      ..tls_trusting(&p)
    }),
    ..config(srv.port)
  };
  let log = expect_error(cfg, &srv, "TLS_PROTOCOL");
  assert!(error_text(&log, "TLS_PROTOCOL").contains("minVersion"));
}

#[test]
fn tls_handshake_acks_and_gzip_together_deliver_exactly() {
  let p = pki();
  let srv = tls_srv(
    &p,
    &all_versions(),
    false,
    Some(Sec {
      user: Some(("alice".into(), PASS.into())),
      ..Sec::new(KEY)
    }),
  );
  let cfg = Config {
    tls: Some(TlsConfig {
      servername: Some("localhost".into()),
      ..tls_trusting(&p)
    }),
    security: Some(security(Some(("alice", PASS)))),
    mode: Mode::PackedForward,
    compression: Some(Compression::Gzip(1)),
    batch_bytes: 4096,
    ..config(srv.port)
  };
  deliver(cfg, &srv, 2000);
  assert_eq!(srv.seen.lock().unwrap().handshakes, srv.conns.load(SeqCst));
}

// ---------------------------------------------------------------------------------------------
// Breaker

#[test]
fn breaker_opens_at_threshold_holds_flush_deadlines_probes_and_closes() {
  let port = refused_port();
  let cfg = Config {
    breaker: Breaker {
      failure_threshold: 3,
      cooldown: Duration::from_millis(400),
      max_cooldown: Duration::from_millis(800),
    },
    // The breaker driven by connects alone: with heartbeats, a missed beat counts as a failure and
    // is the half-open probe (breaker.rs's tests and __test__/recovery.spec.ts cover that path).
    heartbeat: Some(Heartbeat::None),
    ..config(port)
  };
  let log = EventLog::new();
  let client = Client::start(cfg, log.sink()).unwrap();
  push_n(&client, 0, 20);
  let open = |es: &[Event]| {
    es.iter()
      .filter(|e| {
        matches!(
          e,
          Event::Breaker {
            state: BreakerState::Open,
            ..
          }
        )
      })
      .count()
  };
  assert!(log.wait_for(LONG, |es| open(es) >= 1), "{}", log.describe());
  assert!(
    log.wait_for(LONG, |es| count_errors(es, "CONNECT") >= 3),
    "{}",
    log.describe()
  );
  // Counted up to the first probe: on a loaded machine the 400 ms cooldown may already have run
  // out and a probe failed by the time this looks. (The error that opened it follows the event.)
  log.with(|es| {
    let first_probe = es
      .iter()
      .position(|e| {
        matches!(
          e,
          Event::Breaker {
            state: BreakerState::HalfOpen,
            ..
          }
        )
      })
      .unwrap_or(es.len());
    assert_eq!(count_errors(&es[..first_probe], "CONNECT"), 3, "{es:?}")
  });
  // Open, or already probing again on a loaded machine; never closed while the server is down.
  assert_ne!(client.stats().breaker, BreakerState::Closed);
  // While open: records stay buffered and a flush still ends at its deadline.
  let start = Instant::now();
  let (delivered, ()) = flush_and_wait(&client, Duration::from_millis(150), || ());
  assert!(!delivered && start.elapsed() < Duration::from_secs(2));
  assert_eq!(client.stats().queued_records, 20);
  // The probe fails (still refused): open again.
  assert!(log.wait_for(LONG, |es| open(es) >= 2), "{}", log.describe());
  // The server comes up: the next probe closes the breaker and everything is delivered.
  let srv = Srv::start_on(port, Opts::default());
  assert!(wait_until(LONG, || srv.count() >= 20), "{}", log.describe());
  assert!(log.wait_for(LONG, |es| es.iter().any(|e| matches!(
    e,
    Event::Breaker {
      state: BreakerState::Closed,
      ..
    }
  ))));
  assert_eq!(client.stats().breaker, BreakerState::Closed);
  let _ = close_and_wait(&client, Duration::from_secs(2));
  log.with(|es| {
    let states: Vec<BreakerState> = es
      .iter()
      .filter_map(|e| match e {
        Event::Breaker { state, .. } => Some(*state),
        _ => None,
      })
      .collect();
    // Open, then probe and reopen at least once while the server is down (more often if the machine
    // is slow to start it), then a probe that succeeds.
    let n = states.len();
    assert!(n >= 5 && n % 2 == 1, "{states:?}");
    for (i, s) in states[..n - 1].iter().enumerate() {
      let want = if i % 2 == 0 {
        BreakerState::Open
      } else {
        BreakerState::HalfOpen
      };
      assert_eq!(*s, want, "{states:?}");
    }
    assert_eq!(states[n - 1], BreakerState::Closed, "{states:?}");
  });
  assert_eq!(srv.ns(), (0..20).collect::<Vec<_>>());
}

// ---------------------------------------------------------------------------------------------
// Config checks and secrets

#[test]
fn config_checks() {
  let p = pki();
  let bad = |c: Config| c.validate().unwrap_err().to_string();
  let base = config(1);
  let msg = bad(Config {
    tls: Some(TlsConfig {
      cert: Some(p.client_cert_pem.clone().into_bytes()),
      ..TlsConfig::default()
    }),
    ..base.clone()
  });
  assert!(msg.contains("tls.key"), "{msg}");
  let msg = bad(Config {
    tls: Some(TlsConfig {
      key: Some(Secret::new(p.client_key_pem.clone())),
      ..TlsConfig::default()
    }),
    ..base.clone()
  });
  assert!(msg.contains("tls.cert"), "{msg}");
  let msg = bad(Config {
    target: fluent_forward::Target::Unix("/tmp/x.sock".into()),
    tls: Some(TlsConfig::default()),
    ..base.clone()
  });
  assert!(msg.contains("unix"), "{msg}");
  let msg = bad(Config {
    security: Some(Security {
      client_hostname: String::new(),
      ..security(None)
    }),
    ..base.clone()
  });
  assert!(msg.contains("clientHostname"), "{msg}");
  let msg = bad(Config {
    breaker: Breaker {
      cooldown: Duration::from_secs(10),
      max_cooldown: Duration::from_secs(1),
      ..Breaker::default()
    },
    ..base.clone()
  });
  assert!(msg.contains("maxCooldownMs"), "{msg}");
  // A key that is not PEM fails at start, without echoing the key.
  let log = EventLog::new();
  let err = Client::start(
    Config {
      tls: Some(TlsConfig {
        cert: Some(p.client_cert_pem.clone().into_bytes()),
        key: Some(Secret::new(KEY)),
        ..TlsConfig::default()
      }),
      ..base.clone()
    },
    log.sink(),
  )
  .err()
  .expect("bad key refused");
  assert_eq!(err.code(), "CONFIG");
  assert!(!format!("{err} {err:?}").contains(KEY));
  let d = Config::default();
  assert!(d.tls.is_none() && d.security.is_none());
  assert_eq!(d.handshake_timeout, Duration::from_secs(10));
  assert_eq!(d.breaker, Breaker::default());
}

#[test]
fn no_secret_in_any_error_event_stats_or_config_debug() {
  let p = pki();
  // A distinctive line from inside the client's private key PEM.
  let key_line = p.client_key_pem.lines().nth(1).expect("pem body").to_string();
  let secrets = [KEY, PASS, key_line.as_str()];
  let mut texts = Vec::new();
  let tls = TlsConfig {
    cert: Some(p.client_cert_pem.clone().into_bytes()),
    key: Some(Secret::new(p.client_key_pem.clone())),
    ..tls_trusting(&p)
  };
  let scenarios: Vec<(Opts, Option<TlsConfig>, &str)> = vec![
    (
      Opts {
        sec: Some(Sec::new("other")),
        ..Opts::default()
      },
      None,
      "AUTH_KEY",
    ),
    (
      Opts {
        sec: Some(Sec {
          user: Some(("alice".into(), "other".into())),
          ..Sec::new(KEY)
        }),
        ..Opts::default()
      },
      None,
      "AUTH_USER",
    ),
    (
      Opts {
        sec: Some(Sec {
          bad_digest: true,
          ..Sec::new(KEY)
        }),
        ..Opts::default()
      },
      None,
      "AUTH_SERVER",
    ),
    (
      Opts {
        sec: Some(Sec::new(KEY)),
        tls: Some(server_tls(&p, &all_versions(), true)),
        ..Opts::default()
      },
      Some(TlsConfig {
        servername: Some("wrong.example".into()),
        ..tls.clone()
      }),
      "TLS_HOSTNAME",
    ),
  ];
  for (opts, tls, code) in scenarios {
    let srv = Srv::start(opts);
    let cfg = Config {
      security: Some(security(Some(("alice", PASS)))),
      tls,
      ..config(srv.port)
    };
    texts.push(format!("{cfg:?}"));
    let log = EventLog::new();
    let client = Client::start(cfg, log.sink()).unwrap();
    push_n(&client, 0, 5);
    assert!(
      log.wait_for(LONG, |es| count_errors(es, code) > 0),
      "{}",
      log.describe()
    );
    texts.push(format!("{:?}", client.stats()));
    let _ = close_and_wait(&client, Duration::from_millis(200));
    log.with(|es| {
      for e in es {
        texts.push(format!("{e:?}"));
        if let Some(err) = event_error(e) {
          texts.push(format!("{err} {err:?}"));
        }
      }
    });
  }
  for err in [
    fluent_forward::Error::HandshakeTimeout,
    fluent_forward::Error::TlsProtocol("x".into()),
  ] {
    texts.push(format!("{err} {err:?}"));
  }
  texts.push(format!("{:?}", Secret::new(KEY)));
  assert!(texts.iter().any(|t| t.contains("Secret(<redacted>)")));
  for t in &texts {
    for s in secrets {
      assert!(!t.contains(s), "secret {s:?} in {t}");
    }
  }
}
