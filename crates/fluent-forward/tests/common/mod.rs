//! Test helpers: a scripted fake Forward server (TCP or Unix socket), an event recorder and
//! bounded waits. Every wait here has a deadline, so a broken client fails a test instead of hanging it.
#![allow(dead_code)]

use fluent_forward::{Client, CloseReport, Config, Event, EventSink, Mode, Target};
use rmpv::Value;
use std::io::{self, Cursor, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Generous upper bound for anything that should happen "soon" on a loaded CI machine.
pub const LONG: Duration = Duration::from_secs(20);

/// Polls `f` every few milliseconds until it is true or `timeout` passes.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
  let end = Instant::now() + timeout;
  loop {
    if f() {
      return true;
    }
    if Instant::now() >= end {
      return false;
    }
    std::thread::sleep(Duration::from_millis(5));
  }
}

/// A small msgpack map `{"n": n, "pad": "..."}` encoded with rmpv.
pub fn record(n: u64, pad: usize) -> Vec<u8> {
  let mut pairs = vec![(Value::from("n"), Value::from(n))];
  if pad > 0 {
    pairs.push((Value::from("pad"), Value::from("p".repeat(pad))));
  }
  let mut out = Vec::new();
  rmpv::encode::write_value(&mut out, &Value::Map(pairs)).unwrap();
  out
}

pub fn record_n(rec: &Value) -> Option<u64> {
  map_get(rec, "n")?.as_u64()
}

pub fn map_get<'a>(map: &'a Value, key: &str) -> Option<&'a Value> {
  map
    .as_map()?
    .iter()
    .find(|(k, _)| k.as_str() == Some(key))
    .map(|(_, v)| v)
}

/// Config with short timeouts, pointing at `target`.
pub fn fast_config(target: Target) -> Config {
  Config {
    target,
    flush_interval: Duration::from_millis(10),
    reconnect_initial: Duration::from_millis(20),
    reconnect_max: Duration::from_millis(200),
    ack_timeout: Duration::from_millis(300),
    write_timeout: Duration::from_millis(500),
    connect_timeout: Duration::from_millis(500),
    ..Config::default()
  }
}

pub fn tcp(port: u16) -> Target {
  Target::Tcp {
    host: "127.0.0.1".into(),
    port,
  }
}

/// A port nothing listens on: bound, read and released again.
pub fn refused_port() -> u16 {
  let l = TcpListener::bind("127.0.0.1:0").unwrap();
  l.local_addr().unwrap().port()
}

/// Calls `close` and waits (bounded) for its report.
pub fn close_and_wait(client: &Client, timeout: Duration) -> CloseReport {
  let (tx, rx) = mpsc::channel();
  client.close(
    timeout,
    Some(Box::new(move |r| {
      let _ = tx.send(r);
    })),
  );
  rx.recv_timeout(timeout + Duration::from_secs(10))
    .expect("close callback never ran")
}

/// Calls `flush` and waits (bounded) for its outcome; `on_done` runs inside the callback.
pub fn flush_and_wait<F: FnOnce() -> T + Send + 'static, T: Send + 'static>(
  client: &Client,
  timeout: Duration,
  on_done: F,
) -> (bool, T) {
  let (tx, rx) = mpsc::channel();
  client.flush(
    timeout,
    Box::new(move |outcome| {
      let _ = tx.send((outcome == fluent_forward::FlushOutcome::Delivered, on_done()));
    }),
  );
  rx.recv_timeout(timeout + Duration::from_secs(10))
    .expect("flush callback never ran")
}

// ---------------------------------------------------------------------------------------------
// Events

#[derive(Default)]
pub struct EventLog {
  events: Mutex<Vec<Event>>,
  cv: Condvar,
}

impl EventLog {
  pub fn new() -> Arc<Self> {
    Arc::new(Self::default())
  }

  pub fn sink(self: &Arc<Self>) -> EventSink {
    let me = self.clone();
    Arc::new(move |e| {
      me.events.lock().unwrap().push(e);
      me.cv.notify_all();
      true
    })
  }

  pub fn with<R>(&self, f: impl FnOnce(&[Event]) -> R) -> R {
    f(&self.events.lock().unwrap())
  }

  /// Waits until `pred` holds for the events so far, at most `timeout`.
  pub fn wait_for(&self, timeout: Duration, pred: impl Fn(&[Event]) -> bool) -> bool {
    let end = Instant::now() + timeout;
    let mut g = self.events.lock().unwrap();
    loop {
      if pred(&g) {
        return true;
      }
      let now = Instant::now();
      if now >= end {
        return false;
      }
      g = self.cv.wait_timeout(g, end - now).unwrap().0;
    }
  }

  pub fn describe(&self) -> String {
    self.with(|es| format!("{es:?}"))
  }
}

/// The error an event carries (an `Error` event, or the reason of a `Disconnected`).
pub fn event_error(e: &Event) -> Option<&fluent_forward::Error> {
  match e {
    Event::Error { error, .. } => Some(error),
    Event::Disconnected {
      error: Some(error), ..
    } => Some(error),
    _ => None,
  }
}

pub fn count_errors(es: &[Event], code: &str) -> usize {
  es.iter()
    .filter(|e| matches!(e, Event::Error { error, .. } if error.code() == code))
    .count()
}

pub fn count_disconnects(es: &[Event], code: &str) -> usize {
  es.iter()
    .filter(|e| matches!(e, Event::Disconnected { error: Some(error), .. } if error.code() == code))
    .count()
}

// ---------------------------------------------------------------------------------------------
// Fake server

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
  /// Reads and decodes everything, records and acks nothing.
  NeverAck,
  /// Holds the socket open and never reads from it.
  NeverRead,
  /// Like `Normal`, but after acking the first request stops reading for this long.
  PauseAfterFirst(Duration),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
  Message,
  Forward,
  PackedForward,
  CompressedPackedForward,
}

#[derive(Clone, Debug)]
pub struct Request {
  pub conn: usize,
  pub tag: String,
  pub kind: Kind,
  pub events: usize,
  pub chunk: Option<String>,
  /// Keys of the option map, in order.
  pub option_keys: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct Received {
  pub tag: String,
  /// `(seconds, nanos)`; nanos is `None` for an integer time.
  pub time: (u64, Option<u32>),
  pub record: Value,
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

fn ack_bytes(id: &str) -> Vec<u8> {
  let mut out = Vec::new();
  rmpv::encode::write_value(&mut out, &Value::Map(vec![(Value::from("ack"), Value::from(id))])).unwrap();
  out
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

/// End offset of the msgpack object at `at`; `Ok(None)` when the buffer ends inside it.
fn object_end(buf: &[u8], at: usize, depth: usize) -> Result<Option<usize>, String> {
  if depth > 1000 {
    return Err("nested too deep".into());
  }
  let Some(&b) = buf.get(at) else { return Ok(None) };
  let be = |n: usize| {
    buf
      .get(at + 1..at + 1 + n)
      .map(|s| s.iter().fold(0usize, |a, x| (a << 8) | *x as usize))
  };
  macro_rules! len {
    ($n:expr) => {
      match be($n) {
        Some(v) => v,
        None => return Ok(None),
      }
    };
  }
  // (header bytes, payload bytes, child objects)
  let (head, payload, children) = match b {
    0x00..=0x7f | 0xe0..=0xff | 0xc0 | 0xc2 | 0xc3 => (1, 0, 0),
    0x80..=0x8f => (1, 0, 2 * (b & 0x0f) as usize),
    0x90..=0x9f => (1, 0, (b & 0x0f) as usize),
    0xa0..=0xbf => (1, (b & 0x1f) as usize, 0),
    0xc4 | 0xd9 => (2, len!(1), 0),
    0xc5 | 0xda => (3, len!(2), 0),
    0xc6 | 0xdb => (5, len!(4), 0),
    0xc7 => (3, len!(1), 0),
    0xc8 => (4, len!(2), 0),
    0xc9 => (6, len!(4), 0),
    0xcc | 0xd0 => (1, 1, 0),
    0xcd | 0xd1 => (1, 2, 0),
    0xca | 0xce | 0xd2 => (1, 4, 0),
    0xcb | 0xcf | 0xd3 => (1, 8, 0),
    0xd4 => (2, 1, 0),
    0xd5 => (2, 2, 0),
    0xd6 => (2, 4, 0),
    0xd7 => (2, 8, 0),
    0xd8 => (2, 16, 0),
    0xdc => (3, 0, len!(2)),
    0xdd => (5, 0, len!(4)),
    0xde => (3, 0, 2 * len!(2)),
    0xdf => (5, 0, 2 * len!(4)),
    0xc1 => return Err("reserved byte 0xc1".into()),
  };
  let mut end = at + head + payload;
  for _ in 0..children {
    match object_end(buf, end, depth + 1)? {
      Some(e) => end = e,
      None => return Ok(None),
    }
  }
  Ok((end <= buf.len()).then_some(end))
}

fn str_of(v: &Value, what: &str) -> Result<String, String> {
  v.as_str()
    .map(str::to_string)
    .ok_or_else(|| format!("{what} is not a str"))
}

fn parse_time(v: &Value) -> Result<(u64, Option<u32>), String> {
  if let Some((ty, data)) = v.as_ext() {
    if ty != 0 || data.len() != 8 {
      return Err(format!("bad EventTime ext type {ty} len {}", data.len()));
    }
    let sec = u32::from_be_bytes(data[..4].try_into().unwrap());
    let nsec = u32::from_be_bytes(data[4..].try_into().unwrap());
    if nsec >= 1_000_000_000 {
      return Err(format!("nanoseconds out of range: {nsec}"));
    }
    return Ok((sec as u64, Some(nsec)));
  }
  if let Some(sec) = v.as_u64() {
    return Ok((sec, None));
  }
  Err(format!("time is neither EventTime nor uint: {v}"))
}

fn parse_entry(v: &Value, tag: &str) -> Result<Received, String> {
  let e = v.as_array().ok_or("entry is not an array")?;
  if e.len() != 2 {
    return Err(format!("entry has {} elements", e.len()));
  }
  if !e[1].is_map() {
    return Err("record is not a map".into());
  }
  Ok(Received {
    tag: tag.to_string(),
    time: parse_time(&e[0])?,
    record: e[1].clone(),
  })
}

#[derive(Default)]
struct Options {
  chunk: Option<String>,
  size: Option<u64>,
  compressed: Option<String>,
  keys: Vec<String>,
}

fn parse_option(v: Option<&Value>) -> Result<Options, String> {
  let mut o = Options::default();
  let Some(v) = v else { return Ok(o) };
  let m = v.as_map().ok_or("option is not a map")?;
  if m.is_empty() {
    return Err("empty option map".into());
  }
  for (k, val) in m {
    let k = str_of(k, "option key")?;
    match k.as_str() {
      "chunk" => o.chunk = Some(str_of(val, "chunk")?),
      "size" => o.size = Some(val.as_u64().ok_or("size is not a uint")?),
      "compressed" => o.compressed = Some(str_of(val, "compressed")?),
      other => return Err(format!("unexpected option key {other}")),
    }
    o.keys.push(k);
  }
  Ok(o)
}

/// Decodes one request in any of the four forms and checks it against PROTOCOL.md §2-4.
fn parse_request(v: &Value, conn: usize) -> Result<(Request, Vec<Received>), String> {
  let a = v.as_array().ok_or("request is not an array")?;
  if a.len() < 2 {
    return Err("request too short".into());
  }
  let tag = str_of(&a[0], "tag")?;
  let second = &a[1];
  let (kind, events, opt) = if second.is_array() {
    if a.len() > 3 {
      return Err("forward request too long".into());
    }
    let es = second
      .as_array()
      .unwrap()
      .iter()
      .map(|e| parse_entry(e, &tag))
      .collect::<Result<Vec<_>, _>>()?;
    (Kind::Forward, es, a.get(2))
  } else if matches!(second, Value::Binary(_) | Value::String(_)) {
    // (rmpv's `is_bin` is also true for a str, hence the explicit match.)
    if !matches!(second, Value::Binary(_)) {
      return Err("packed entries should be bin".into());
    }
    if a.len() > 3 {
      return Err("packed request too long".into());
    }
    let compressed = parse_option(a.get(2))?.compressed;
    let raw = second.as_slice().unwrap();
    let (kind, plain) = match compressed.as_deref() {
      None => (Kind::PackedForward, raw.to_vec()),
      Some("gzip") => {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(raw)
          .read_to_end(&mut out)
          .map_err(|e| format!("gunzip: {e}"))?;
        (Kind::CompressedPackedForward, out)
      }
      Some("zstd") => {
        let out = zstd::stream::decode_all(raw).map_err(|e| format!("zstd: {e}"))?;
        (Kind::CompressedPackedForward, out)
      }
      Some(other) => return Err(format!("unknown compression {other}")),
    };
    let mut cur = Cursor::new(&plain[..]);
    let mut es = Vec::new();
    while (cur.position() as usize) < plain.len() {
      let e = rmpv::decode::read_value(&mut cur).map_err(|e| format!("packed entry: {e}"))?;
      es.push(parse_entry(&e, &tag)?);
    }
    (kind, es, a.get(2))
  } else {
    if a.len() != 3 && a.len() != 4 {
      return Err(format!("message request has {} elements", a.len()));
    }
    if !a[2].is_map() {
      return Err("message record is not a map".into());
    }
    let r = Received {
      tag: tag.clone(),
      time: parse_time(second)?,
      record: a[2].clone(),
    };
    (Kind::Message, vec![r], a.get(3))
  };
  let Options {
    chunk,
    size,
    compressed,
    keys: option_keys,
  } = parse_option(opt)?;
  if let Some(size) = size {
    if size as usize != events.len() {
      return Err(format!("size {size} but {} events", events.len()));
    }
  } else if kind != Kind::Message {
    return Err("batch request without size".into());
  }
  if compressed.is_some() && kind != Kind::CompressedPackedForward {
    return Err("compressed option outside packed forward".into());
  }
  if let Some(c) = &chunk {
    if c.len() != 24 || !c.ends_with("==") {
      return Err(format!("chunk id {c:?} is not 24-char base64"));
    }
  }
  let req = Request {
    conn,
    tag,
    kind,
    events: events.len(),
    chunk,
    option_keys,
  };
  Ok((req, events))
}

pub fn mode_kind(mode: Mode, gzip: bool) -> Kind {
  match (mode, gzip) {
    (Mode::Message, _) => Kind::Message,
    (Mode::Forward, _) => Kind::Forward,
    (Mode::PackedForward, false) => Kind::PackedForward,
    (Mode::PackedForward, true) => Kind::CompressedPackedForward,
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers for servers written in the test itself (tests/slow_reader.rs, tests/retry.rs)

/// Decodes and removes every complete request at the front of `buf` (any wire form), returning
/// their events; an incomplete last request stays in `buf`.
pub fn drain_requests(buf: &mut Vec<u8>) -> Result<Vec<Received>, String> {
  let mut out = Vec::new();
  let mut at = 0;
  while let Some(end) = object_end(buf, at, 0)? {
    let mut cur = Cursor::new(&buf[at..end]);
    let value = rmpv::decode::read_value(&mut cur).map_err(|e| format!("undecodable: {e}"))?;
    let (_, events) = parse_request(&value, 0)?;
    out.extend(events);
    at = end;
  }
  buf.drain(..at);
  Ok(out)
}

/// One request as the server got it: its bytes, its ack id and its events.
pub type RawRequest = (Vec<u8>, Option<String>, Vec<Received>);

/// Like `drain_requests`, but also returns each complete request's raw bytes and its ack id.
pub fn split_requests(buf: &mut Vec<u8>) -> Result<Vec<RawRequest>, String> {
  let mut out = Vec::new();
  let mut at = 0;
  while let Some(end) = object_end(buf, at, 0)? {
    let raw = buf[at..end].to_vec();
    let value =
      rmpv::decode::read_value(&mut Cursor::new(&raw[..])).map_err(|e| format!("undecodable: {e}"))?;
    let (req, events) = parse_request(&value, 0)?;
    out.push((raw, req.chunk, events));
    at = end;
  }
  buf.drain(..at);
  Ok(out)
}

/// The msgpack bytes of `{"ack": id}`.
pub fn ack_for(id: &str) -> Vec<u8> {
  ack_bytes(id)
}
