//! Config checks, and that no secret is ever formatted.

use crate::client::*;
use crate::common::*;
use crate::pki::*;
use crate::server::*;
use fluent_forward::{Breaker, Client, Config, Secret, Security, TlsConfig};
use std::time::Duration;

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
