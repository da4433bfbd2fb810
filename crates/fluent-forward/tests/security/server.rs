//! A scripted forward server with optional TLS and handshake.

use crate::common::*;
use rmpv::Value;
use sha2::{Digest, Sha512};
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub(crate) fn hex(b: &[u8]) -> String {
  b.iter().map(|x| format!("{x:02x}")).collect()
}

pub(crate) fn sha512_hex(parts: &[&[u8]]) -> String {
  let mut h = Sha512::new();
  for p in parts {
    h.update(p);
  }
  hex(&h.finalize())
}

#[derive(Clone)]
pub(crate) struct Sec {
  pub(crate) key: String,
  pub(crate) hostname: String,
  /// Send the nonce (and auth salt) as msgpack str, as Fluent Bit does; else bin, as fluentd.
  pub(crate) nonce_as_str: bool,
  /// `Some`: user authentication with this user and password.
  pub(crate) user: Option<(String, String)>,
  /// `None`: no keepalive key (Fluent Bit).
  pub(crate) keepalive: Option<bool>,
  /// Answers PONG with a digest made from another key.
  pub(crate) bad_digest: bool,
  /// Never sends HELO.
  pub(crate) silent: bool,
}

impl Sec {
  pub(crate) fn new(key: &str) -> Self {
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
pub(crate) struct Opts {
  pub(crate) sec: Option<Sec>,
  pub(crate) tls: Option<Arc<rustls::ServerConfig>>,
  /// Reads whatever comes and closes (a plaintext server that does not understand TLS).
  pub(crate) read_and_close: bool,
}

#[derive(Default)]
pub(crate) struct Seen {
  pub(crate) ns: Vec<u64>,
  pub(crate) handshakes: usize,
  pub(crate) violations: Vec<String>,
}

pub(crate) struct Srv {
  pub(crate) port: u16,
  pub(crate) seen: Arc<Mutex<Seen>>,
  pub(crate) conns: Arc<AtomicUsize>,
  pub(crate) stop: Arc<AtomicBool>,
  pub(crate) accept: Option<JoinHandle<()>>,
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
  pub(crate) fn start(opts: Opts) -> Self {
    Self::start_on(0, opts)
  }

  pub(crate) fn start_on(port: u16, opts: Opts) -> Self {
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

  pub(crate) fn ns(&self) -> Vec<u64> {
    let mut v = self.seen.lock().unwrap().ns.clone();
    v.sort_unstable();
    v
  }

  pub(crate) fn count(&self) -> usize {
    self.seen.lock().unwrap().ns.len()
  }
}

/// Blocking reads that retry on the read timeout until the server stops or 10 s pass.
pub(crate) struct Patient<'a> {
  pub(crate) s: &'a mut dyn ReadWrite,
  pub(crate) stop: &'a AtomicBool,
  pub(crate) until: Instant,
}

pub(crate) trait ReadWrite: Read + Write {}
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

pub(crate) fn serve(tcp: TcpStream, opts: Opts, seen: Arc<Mutex<Seen>>, stop: Arc<AtomicBool>) {
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

pub(crate) fn write_value(s: &mut dyn ReadWrite, v: &Value) -> io::Result<()> {
  let mut b = Vec::new();
  rmpv::encode::write_value(&mut b, v).unwrap();
  s.write_all(&b)?;
  s.flush()
}

pub(crate) fn serve_on(
  s: &mut dyn ReadWrite,
  opts: &Opts,
  seen: &Mutex<Seen>,
  stop: &AtomicBool,
) -> io::Result<()> {
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
