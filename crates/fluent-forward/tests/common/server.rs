//! The scripted fake Forward server (TCP or Unix socket): each connection behaves as the script
//! says for its index, and everything received is decoded and checked (`wire`).

use super::wire::{ack_bytes, object_end, parse_request, Received, Request};
use fluent_forward::Target;
use std::io::{self, Cursor, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What a connection does, chosen per connection index (0 = first accepted).
#[derive(Clone, Debug)]
pub enum Behavior {
  /// Decodes every request, records its events and acks it when it carries a chunk id.
  Normal,
  /// Reads one request without recording or acking it, then closes the socket.
  ReadOneThenClose,
  /// Answers the first request with an ack for a chunk id that was never sent, then only reads.
  WrongAckFirst,
  /// Answers the first request with these raw bytes, then only reads.
  GarbageFirst(Vec<u8>),
  /// Records and acks the first request, with these raw bytes after the ack in the same write
  /// (one read for the client: an ack and a fault together), then only reads.
  AckThenGarbageFirst(Vec<u8>),
  /// Reads and decodes everything, records and acks nothing.
  NeverAck,
  /// Holds the socket open and never reads from it.
  NeverRead,
  /// Like `Normal`, but after acking the first request stops reading for this long.
  PauseAfterFirst(Duration),
}

#[derive(Default)]
pub struct State {
  pub received: Vec<Received>,
  pub requests: Vec<Request>,
  /// Anything in a request that breaks PROTOCOL.md: a test asserts this stays empty.
  pub violations: Vec<String>,
  pub connections: usize,
}

pub struct Server {
  pub state: Arc<Mutex<State>>,
  stop: Arc<AtomicBool>,
  accept: Option<JoinHandle<()>>,
  conns: Arc<Mutex<Vec<JoinHandle<()>>>>,
  pub port: u16,
  pub path: Option<std::path::PathBuf>,
}

pub type Script = Arc<dyn Fn(usize) -> Behavior + Send + Sync>;

pub fn script(f: impl Fn(usize) -> Behavior + Send + Sync + 'static) -> Script {
  Arc::new(f)
}

/// The first connection behaves as `first`, every later one normally: a fault, then recovery.
pub fn first_then_normal(first: Behavior) -> Script {
  script(move |i| if i == 0 { first.clone() } else { Behavior::Normal })
}

trait Stream: Read + Write + Send + 'static {
  fn set_timeout(&self, d: Duration) -> io::Result<()>;
}

impl Stream for TcpStream {
  fn set_timeout(&self, d: Duration) -> io::Result<()> {
    self.set_nonblocking(false)?;
    self.set_read_timeout(Some(d))?;
    self.set_write_timeout(Some(Duration::from_secs(5)))
  }
}

#[cfg(unix)]
impl Stream for std::os::unix::net::UnixStream {
  fn set_timeout(&self, d: Duration) -> io::Result<()> {
    self.set_nonblocking(false)?;
    self.set_read_timeout(Some(d))?;
    self.set_write_timeout(Some(Duration::from_secs(5)))
  }
}

impl Server {
  /// A TCP server on 127.0.0.1:0 whose connections all behave normally.
  pub fn start() -> Self {
    Self::scripted(script(|_| Behavior::Normal))
  }

  pub fn scripted(script: Script) -> Self {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    Self::spawn(move || listener.accept().map(|(s, _)| s), script, port, None)
  }

  #[cfg(unix)]
  pub fn unix(script: Script) -> Self {
    static SEQ: AtomicUsize = AtomicUsize::new(0);
    let path = std::env::temp_dir().join(format!(
      "fluent-forward-test-{}-{}.sock",
      std::process::id(),
      SEQ.fetch_add(1, SeqCst)
    ));
    let _ = std::fs::remove_file(&path);
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    listener.set_nonblocking(true).unwrap();
    Self::spawn(move || listener.accept().map(|(s, _)| s), script, 0, Some(path))
  }

  /// A Unix socket server at `path` (for a client that was started before its server: an outage).
  #[cfg(unix)]
  pub fn unix_at(path: &std::path::Path, script: Script) -> Self {
    let _ = std::fs::remove_file(path);
    let listener = std::os::unix::net::UnixListener::bind(path).unwrap();
    listener.set_nonblocking(true).unwrap();
    Self::spawn(
      move || listener.accept().map(|(s, _)| s),
      script,
      0,
      Some(path.to_owned()),
    )
  }

  fn spawn<S: Stream>(
    mut accept: impl FnMut() -> io::Result<S> + Send + 'static,
    script: Script,
    port: u16,
    path: Option<std::path::PathBuf>,
  ) -> Self {
    let state = Arc::new(Mutex::new(State::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let conns: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
    let (st, sp, cs) = (state.clone(), stop.clone(), conns.clone());
    let accept_thread = std::thread::spawn(move || {
      while !sp.load(SeqCst) {
        match accept() {
          Ok(stream) => {
            let idx = {
              let mut s = st.lock().unwrap();
              s.connections += 1;
              s.connections - 1
            };
            let behavior = script(idx);
            let (st, sp) = (st.clone(), sp.clone());
            let h = std::thread::spawn(move || serve(stream, idx, behavior, st, sp));
            cs.lock().unwrap().push(h);
          }
          Err(e) if e.kind() == io::ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(2)),
          Err(_) => std::thread::sleep(Duration::from_millis(2)),
        }
      }
    });
    Self {
      state,
      stop,
      accept: Some(accept_thread),
      conns,
      port,
      path,
    }
  }

  pub fn target(&self) -> Target {
    match &self.path {
      Some(p) => Target::Unix(p.to_string_lossy().into_owned()),
      None => tcp(self.port),
    }
  }

  pub fn count(&self) -> usize {
    self.state.lock().unwrap().received.len()
  }

  pub fn connections(&self) -> usize {
    self.state.lock().unwrap().connections
  }

  pub fn with<R>(&self, f: impl FnOnce(&State) -> R) -> R {
    f(&self.state.lock().unwrap())
  }

  /// A cheap, clonable handle to the received count (for use inside callbacks).
  pub fn counter(&self) -> impl Fn() -> usize + Send + 'static {
    let st = self.state.clone();
    move || st.lock().unwrap().received.len()
  }

  pub fn violations(&self) -> Vec<String> {
    self.state.lock().unwrap().violations.clone()
  }
}

impl Drop for Server {
  fn drop(&mut self) {
    self.stop.store(true, SeqCst);
    if let Some(h) = self.accept.take() {
      let _ = h.join();
    }
    for h in std::mem::take(&mut *self.conns.lock().unwrap()) {
      let _ = h.join();
    }
    if let Some(p) = &self.path {
      let _ = std::fs::remove_file(p);
    }
  }
}

pub fn tcp(port: u16) -> Target {
  Target::Tcp {
    host: "127.0.0.1".into(),
    port,
  }
}

fn serve<S: Stream>(mut s: S, idx: usize, behavior: Behavior, st: Arc<Mutex<State>>, stop: Arc<AtomicBool>) {
  let _ = s.set_timeout(Duration::from_millis(20));
  if matches!(behavior, Behavior::NeverRead) {
    while !stop.load(SeqCst) {
      std::thread::sleep(Duration::from_millis(10));
    }
    return;
  }
  let mut buf: Vec<u8> = Vec::new();
  let mut tmp = vec![0u8; 256 << 10];
  let mut nth = 0usize;
  'conn: while !stop.load(SeqCst) {
    match s.read(&mut tmp) {
      Ok(0) => break,
      Ok(n) => buf.extend_from_slice(&tmp[..n]),
      Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => continue,
      Err(_) => break,
    }
    // Decode every complete request in the buffer. Framing first, so that a large request arriving
    // in many reads is decoded once, not once per read.
    loop {
      let end = match object_end(&buf, 0, 0) {
        Ok(Some(end)) => end,
        Ok(None) => break,
        Err(e) => {
          st.lock()
            .unwrap()
            .violations
            .push(format!("conn {idx}: not msgpack: {e}"));
          break 'conn;
        }
      };
      let mut cur = Cursor::new(&buf[..end]);
      let value = match rmpv::decode::read_value(&mut cur) {
        Ok(v) if cur.position() as usize == end => v,
        other => {
          st.lock()
            .unwrap()
            .violations
            .push(format!("conn {idx}: undecodable request: {other:?}"));
          break 'conn;
        }
      };
      buf.drain(..end);
      let this = nth;
      nth += 1;
      let parsed = parse_request(&value, idx);
      let (req, events) = match parsed {
        Ok(x) => x,
        Err(why) => {
          st.lock()
            .unwrap()
            .violations
            .push(format!("conn {idx}: {why}: {value}"));
          continue;
        }
      };
      let reply = match &behavior {
        Behavior::Normal | Behavior::PauseAfterFirst(_) => {
          let mut g = st.lock().unwrap();
          g.received.extend(events);
          g.requests.push(req.clone());
          drop(g);
          req.chunk.as_deref().map(ack_bytes)
        }
        Behavior::ReadOneThenClose => break 'conn,
        Behavior::WrongAckFirst if this == 0 => Some(ack_bytes("BBBBBBBBBBBBBBBBBBBBBB==")),
        Behavior::GarbageFirst(bytes) if this == 0 => Some(bytes.clone()),
        Behavior::AckThenGarbageFirst(bytes) if this == 0 => {
          let mut g = st.lock().unwrap();
          g.received.extend(events);
          g.requests.push(req.clone());
          drop(g);
          let mut r = req.chunk.as_deref().map(ack_bytes).unwrap_or_default();
          r.extend_from_slice(bytes);
          Some(r)
        }
        _ => None,
      };
      if let Some(r) = reply {
        if s.write_all(&r).and_then(|_| s.flush()).is_err() {
          break 'conn;
        }
      }
      if let (Behavior::PauseAfterFirst(d), 0) = (&behavior, this) {
        let end = Instant::now() + *d;
        while Instant::now() < end && !stop.load(SeqCst) {
          std::thread::sleep(Duration::from_millis(5));
        }
      }
    }
  }
}
