//! TLS against a rustls server: trust, names, mTLS, versions, and plaintext on either side.

use crate::client::*;
use crate::common::*;
use crate::pki::*;
use crate::server::*;
use fluent_forward::{
  Breaker, BreakerState, Client, Compression, Config, Event, Mode, Secret, TlsConfig, TlsVersion,
};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use std::io::Read;
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

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
