//! The forward handshake against the scripted server: delivery, the typed auth errors, timeouts.

use crate::client::*;
use crate::common::*;
use crate::server::*;
use fluent_forward::{BreakerState, Client, Config, Event, Heartbeat};
use std::sync::atomic::Ordering::SeqCst;
use std::time::{Duration, Instant};

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
