//! Hostile clients against the receiver core (the library the Node addon embeds), each beside a
//! well-behaved client on its own connection: a gzip bomb, a zstd bomb, declared lengths on many connections,
//! slowloris, 10,000 idle connections, random garbage, half-open TLS handshakes. In each the
//! accounted memory stays within `Limits::memory_bound`, the receiver keeps serving, and the
//! well-behaved client's requests keep being acknowledged meanwhile.
//!
//! Events go to a deliberately slow consumer behind a queue of `QUEUE` batches, as the addon's
//! JS thread is, so backpressure is part of every case. Timeouts are configured short so the
//! suite stays quick; run one case with `--nocapture` to see its peak memory figures.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::sync_channel;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use flate2::{write::GzEncoder, Compression};
use fluent_sink::embed::{Options, Receiver};
use fluent_sink::limits::Limits;
use fluent_sink::relay::{Batch, Deliver};
use fluent_sink::server::Endpoint;
use fluent_sink::stats::Snapshot;
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::{TlsAcceptor, TlsConnector};

/// Batches the consumer may have waiting, as `BATCH_QUEUE` in the addon.
const QUEUE: usize = 4;
const THREADS: usize = 1;
const LIMIT: Duration = Duration::from_secs(20);

struct Harness {
  receiver: Receiver,
  port: u16,
  limits: Limits,
  consumed: Arc<AtomicU64>,
}

impl Harness {
  /// Started from a plain thread: the receiver builds its own runtime, which it cannot do from
  /// inside the test's.
  fn start(limits: Limits, tls: Option<TlsAcceptor>) -> Harness {
    std::thread::spawn(move || Harness::start_here(limits, tls))
      .join()
      .unwrap()
  }

  fn start_here(limits: Limits, tls: Option<TlsAcceptor>) -> Harness {
    let (tx, rx) = sync_channel::<Batch>(QUEUE);
    let consumed = Arc::new(AtomicU64::new(0));
    let c = consumed.clone();
    std::thread::spawn(move || {
      for batch in rx {
        c.fetch_add(batch.events(), Ordering::SeqCst);
        drop(batch.into_bytes());
        // Slower than the receiver decodes: the queue fills and decoding waits for it.
        std::thread::sleep(Duration::from_micros(300));
      }
    });
    let tx = Mutex::new(tx);
    let deliver: Deliver = Arc::new(move |b| tx.lock().unwrap().send(b).is_ok());
    let receiver = Receiver::start(
      Options {
        endpoint: Endpoint::Tcp {
          host: "127.0.0.1".into(),
          port: 0,
        },
        ack: true,
        threads: THREADS,
        tls,
        security: None,
        limits,
      },
      deliver,
    )
    .unwrap();
    receiver.relay().set_enabled(true);
    let port = receiver.port().unwrap();
    Harness {
      receiver,
      port,
      limits,
      consumed,
    }
  }

  fn stats(&self) -> Snapshot {
    self.receiver.stats()
  }

  /// Waits (bounded) until `done` holds for the stats.
  async fn until(&self, what: &str, done: impl Fn(&Snapshot) -> bool) -> Snapshot {
    let deadline = Instant::now() + LIMIT;
    loop {
      if done(&self.stats()) {
        // A fresh snapshot: counters a connection adds before it closes are all in it by now.
        return self.stats();
      }
      assert!(
        Instant::now() < deadline,
        "timed out waiting for {what}: {:?}",
        self.stats()
      );
      tokio::time::sleep(Duration::from_millis(10)).await;
    }
  }

  /// The accounted peak against the documented bound; prints both and the process's RSS peak.
  fn check_memory(&self, case: &str) {
    let s = self.stats();
    let bound = self.limits.memory_bound(THREADS, QUEUE);
    eprintln!(
      "{case}: accounted peak {} bytes (now {}), bound {bound}, process VmHWM {}",
      s.memory_peak_bytes,
      s.memory_bytes,
      vm_hwm()
    );
    assert!(
      s.memory_peak_bytes <= bound,
      "{case}: peak {} over bound {bound}",
      s.memory_peak_bytes
    );
  }
}

fn vm_hwm() -> String {
  std::fs::read_to_string("/proc/self/status")
    .ok()
    .and_then(|s| {
      s.lines()
        .find(|l| l.starts_with("VmHWM"))
        .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
    })
    .unwrap_or_default()
}

/// Message mode `["g", 1, {"a": 1}, {"chunk": "g"}]` and its ack.
const GOOD: [u8; 19] = [
  0x94, 0xa1, b'g', 0x01, 0x81, 0xa1, b'a', 0x01, 0x81, 0xa5, b'c', b'h', b'u', b'n', b'k', 0xa1, b'g', 0, 0,
];
const GOOD_LEN: usize = 17;
const GOOD_ACK: [u8; 7] = [0x81, 0xa3, b'a', b'c', b'k', 0xa1, b'g'];

/// The well-behaved client: one acknowledged request every 20 ms until stopped.
struct Good {
  acks: Arc<AtomicU64>,
  failed: Arc<AtomicBool>,
  stop: Arc<AtomicBool>,
  task: tokio::task::JoinHandle<()>,
}

impl Good {
  fn spawn<T: AsyncRead + AsyncWrite + Unpin + Send + 'static>(mut io: T) -> Good {
    let acks = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let (a, f, s) = (acks.clone(), failed.clone(), stop.clone());
    let task = tokio::spawn(async move {
      while !s.load(Ordering::SeqCst) {
        let round = async {
          io.write_all(&GOOD[..GOOD_LEN]).await?;
          let mut ack = [0u8; 7];
          io.read_exact(&mut ack).await?;
          assert_eq!(ack, GOOD_ACK);
          Ok::<_, std::io::Error>(())
        };
        match tokio::time::timeout(Duration::from_secs(10), round).await {
          Ok(Ok(())) => a.fetch_add(1, Ordering::SeqCst),
          _ => {
            f.store(true, Ordering::SeqCst);
            return;
          }
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
      }
    });
    Good {
      acks,
      failed,
      stop,
      task,
    }
  }

  async fn tcp(port: u16) -> Good {
    let sock = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let g = Good::spawn(sock);
    g.served(1).await;
    g
  }

  /// Waits until `more` further requests are acknowledged (bounded).
  async fn served(&self, more: u64) {
    let want = self.acks.load(Ordering::SeqCst) + more;
    let deadline = Instant::now() + LIMIT;
    while self.acks.load(Ordering::SeqCst) < want {
      assert!(
        !self.failed.load(Ordering::SeqCst),
        "the well-behaved client lost its connection"
      );
      assert!(
        Instant::now() < deadline,
        "the well-behaved client was not served"
      );
      tokio::time::sleep(Duration::from_millis(10)).await;
    }
  }

  async fn finish(self) -> u64 {
    self.stop.store(true, Ordering::SeqCst);
    let _ = tokio::time::timeout(LIMIT, self.task).await;
    assert!(
      !self.failed.load(Ordering::SeqCst),
      "the well-behaved client lost its connection"
    );
    self.acks.load(Ordering::SeqCst)
  }
}

fn limits() -> Limits {
  Limits {
    max_request_bytes: 1 << 20,
    max_inflated_bytes: 4 << 20,
    max_connections: 300,
    ..Limits::default()
  }
}

fn gzip(data: &[u8]) -> Vec<u8> {
  let mut enc = GzEncoder::new(Vec::new(), Compression::best());
  enc.write_all(data).unwrap();
  enc.finish().unwrap()
}

/// CompressedPackedForward `["b", bin(gzip(entries)), {"compressed": "gzip"}]` of `n` 3-byte
/// entries `[1, {}]`: the smallest events there are, the most per inflated byte.
fn bomb(n: usize) -> Vec<u8> {
  let gz = gzip(&[0x92, 0x01, 0x80].repeat(n));
  let mut v = vec![0x93, 0xa1, b'b', 0xc6];
  v.extend((gz.len() as u32).to_be_bytes());
  v.extend(gz);
  v.extend([0x81, 0xaa]);
  v.extend(b"compressed");
  v.push(0xa4);
  v.extend(b"gzip");
  v
}

async fn connect(port: u16) -> TcpStream {
  TcpStream::connect(("127.0.0.1", port)).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_bomb() {
  let h = Harness::start(limits(), None);
  let good = Good::tcp(h.port).await;
  // REVIEW-0.2 B1: about 64 KiB that inflate to 63 MiB. Refused once 4 MiB are out.
  let mut sock = connect(h.port).await;
  let big = bomb(22 << 20);
  eprintln!(
    "bomb of {} bytes inflating to {} bytes",
    big.len(),
    3 * (22 << 20)
  );
  sock.write_all(&big).await.unwrap();
  let mut rest = Vec::new();
  let _ = sock.read_to_end(&mut rest).await;
  h.until("the bomb refused", |s| s.too_large == 1).await;
  // Three requests just under the inflate limit in one write: 4.2 M events, delivered in bounded
  // batches to the slow consumer while the well-behaved client is served.
  let n = (4 << 20) / 3 - 1;
  let three = bomb(n).repeat(3);
  let mut sock = connect(h.port).await;
  sock.write_all(&three).await.unwrap();
  good.served(5).await;
  let before = good.acks.load(Ordering::SeqCst);
  let s = h
    .until("4.2 M events", |s| s.events >= 3 * n as u64 + before)
    .await;
  assert_eq!(s.too_large, 1);
  drop(sock);
  good.served(3).await;
  let acks = good.finish().await;
  let s = h
    .until("every event consumed", |s| {
      s.events == h.consumed.load(Ordering::SeqCst)
    })
    .await;
  assert_eq!(s.events, 3 * n as u64 + acks);
  h.check_memory("gzip bomb");
}

/// CompressedPackedForward `["b", bin(zstd(entries)), {"compressed": "zstd"}]` of `n` 3-byte entries,
/// as one streamed frame with a 1 MiB window and no declared size: what a bomb that passes the
/// window check looks like, only the output bound can stop it.
fn zstd_bomb(n: usize) -> Vec<u8> {
  let mut enc = zstd::stream::write::Encoder::new(Vec::new(), 19).unwrap();
  enc.window_log(20).unwrap();
  let entries = [0x92, 0x01, 0x80].repeat(1 << 16);
  for _ in 0..n >> 16 {
    enc.write_all(&entries).unwrap();
  }
  let z = enc.finish().unwrap();
  let mut v = vec![0x93, 0xa1, b'b', 0xc6];
  v.extend((z.len() as u32).to_be_bytes());
  v.extend(z);
  v.extend([0x81, 0xaa]);
  v.extend(b"compressed");
  v.push(0xa4);
  v.extend(b"zstd");
  v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zstd_bomb_is_refused_at_the_inflate_limit() {
  let h = Harness::start(limits(), None);
  let good = Good::tcp(h.port).await;
  // About 8 KiB that inflate to 63 MiB, its frame asking for a window the limit allows.
  let big = zstd_bomb(22 << 20);
  eprintln!(
    "zstd bomb of {} bytes inflating to {} bytes",
    big.len(),
    3 * (22 << 20)
  );
  let mut sock = connect(h.port).await;
  sock.write_all(&big).await.unwrap();
  let mut rest = Vec::new();
  let _ = sock.read_to_end(&mut rest).await;
  h.until("the bomb refused", |s| s.too_large == 1).await;
  good.served(3).await;
  let acks = good.finish().await;
  let s = h
    .until("every event consumed", |s| {
      s.events == h.consumed.load(Ordering::SeqCst)
    })
    .await;
  assert_eq!(s.events, acks, "only the well-behaved client's events");
  h.check_memory("zstd bomb");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declared_lengths_on_many_connections() {
  let limits = Limits {
    request_timeout: Duration::from_millis(1500),
    ..limits()
  };
  let h = Harness::start(limits, None);
  let good = Good::tcp(h.port).await;
  // REVIEW-0.2 B2: 8 bytes each, a bin32 header declaring just under the request limit.
  let len = (limits.max_request_bytes - 100) as u32;
  let mut header = vec![0x92, 0xa1, b't', 0xc6];
  header.extend(len.to_be_bytes());
  let mut socks = Vec::new();
  for _ in 0..256 {
    let mut s = connect(h.port).await;
    s.write_all(&header).await.unwrap();
    socks.push(s);
  }
  let s = h
    .until("256 connections holding a header", |s| {
      s.open_connections == 257 && s.bytes >= 256 * 8
    })
    .await;
  // A declared length reserves nothing: each holds its 4 KiB first buffer, not 1 MiB.
  assert!(
    s.memory_bytes <= 257 * 4096 + (1 << 20),
    "holding {} bytes",
    s.memory_bytes
  );
  good.served(5).await;
  // The request timeout closes every one of them, counted.
  let s = h
    .until("the request timeout", |s| {
      s.timeouts >= 256 && s.open_connections == 1
    })
    .await;
  assert_eq!(s.open_connections, 1);
  assert!(s.errors >= 256);
  good.finish().await;
  h.check_memory("declared lengths");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_a_byte_a_second() {
  let limits = Limits {
    request_timeout: Duration::from_millis(2500),
    ..limits()
  };
  let h = Harness::start(limits, None);
  let good = Good::tcp(h.port).await;
  let started = Instant::now();
  let mut socks = Vec::new();
  for _ in 0..20 {
    socks.push(connect(h.port).await);
  }
  // A valid request, one byte a second: it never completes in time.
  let slow = tokio::spawn(async move {
    for &b in &GOOD[..GOOD_LEN] {
      for s in &mut socks {
        let _ = s.write_all(&[b]).await;
      }
      tokio::time::sleep(Duration::from_secs(1)).await;
    }
  });
  good.served(20).await;
  let s = h
    .until("the slow requests timed out", |s| {
      s.timeouts >= 20 && s.open_connections == 1
    })
    .await;
  assert!(started.elapsed() >= Duration::from_millis(2500));
  assert_eq!(s.open_connections, 1);
  slow.abort();
  good.served(3).await;
  good.finish().await;
  h.check_memory("slowloris");
}

/// The soft limit on open files (`ulimit -n`), from /proc (Linux); `None` elsewhere.
fn open_files_limit() -> Option<usize> {
  let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
  let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
  line.split_whitespace().nth(3)?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_idle_connections() {
  // 10,000 client sockets plus up to 1,024 served ones in this one process need about 11,100
  // descriptors (this machine's `ulimit -n` is 20,000). Under a lower limit the test uses what
  // it allows and says so: raise it with `ulimit -n 20000` to run the full case.
  let total = match open_files_limit() {
    Some(n) if n < 11_300 => {
      let fit = n.saturating_sub(1_300).max(1_100) / 250 * 250;
      eprintln!("ulimit -n is {n}: {fit} idle connections instead of 10,000");
      fit
    }
    _ => 10_000,
  };
  let limits = Limits {
    max_connections: 1024,
    ..limits()
  };
  let h = Harness::start(limits, None);
  let good = Good::tcp(h.port).await;
  let mut idle = Vec::with_capacity(total);
  while idle.len() < total {
    let wave: Vec<_> = (0..250).map(|_| tokio::spawn(connect(h.port))).collect();
    for c in wave {
      idle.push(c.await.unwrap());
    }
    // Paced by the accept loop: a flood faster than the listen backlog only measures the kernel.
    let want = idle.len() as u64 + 1;
    h.until("the wave accepted or refused", |s| s.connections >= want)
      .await;
  }
  let s = h.stats();
  assert_eq!(s.open_connections, 1024);
  assert_eq!(s.refused, total as u64 + 1 - 1024);
  // Each served idle connection holds its first 4 KiB buffer.
  assert!(
    s.memory_bytes <= 1024 * 4096 + (1 << 20),
    "holding {} bytes",
    s.memory_bytes
  );
  good.served(5).await;
  drop(idle);
  h.until("the idle peers gone", |s| s.open_connections == 1).await;
  good.served(3).await;
  good.finish().await;
  h.check_memory("10,000 idle connections");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_time_out() {
  let limits = Limits {
    max_connections: 101,
    idle_timeout: Duration::from_millis(1000),
    ..limits()
  };
  let h = Harness::start(limits, None);
  let good = Good::tcp(h.port).await;
  let mut idle = Vec::new();
  for _ in 0..100 {
    idle.push(connect(h.port).await);
  }
  h.until("the slots full", |s| s.open_connections == 101).await;
  // A newcomer is refused while they hold every slot...
  let mut refused = connect(h.port).await;
  let mut buf = [0u8; 1];
  assert_eq!(
    tokio::time::timeout(LIMIT, refused.read(&mut buf))
      .await
      .unwrap()
      .unwrap_or(0),
    0
  );
  // ...and served once the idle timeout gave the slots back; the busy client keeps its own.
  let s = h.until("the idle timeout", |s| s.open_connections == 1).await;
  assert_eq!((s.timeouts, s.refused), (100, 1));
  assert_eq!(
    s.errors, 0,
    "an idle connection closed by its timeout is not an error"
  );
  let late = Good::tcp(h.port).await;
  late.finish().await;
  good.served(3).await;
  good.finish().await;
  h.check_memory("idle connections");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_garbage() {
  let limits = Limits {
    request_timeout: Duration::from_millis(1500),
    ..limits()
  };
  let h = Harness::start(limits, None);
  let good = Good::tcp(h.port).await;
  // A fixed xorshift stream: the same garbage every run.
  let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
  let mut socks = Vec::new();
  for i in 0..100 {
    let mut junk = vec![0u8; 4096];
    for b in &mut junk {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
      *b = x as u8;
    }
    // Half of them start like a request, so the garbage reaches the decoder, not just the framer.
    if i % 2 == 0 {
      junk[..3].copy_from_slice(&[0x93, 0xa1, b't']);
    }
    let mut s = connect(h.port).await;
    let _ = s.write_all(&junk).await;
    socks.push(s);
  }
  let s = h
    .until("every garbage connection closed", |s| {
      s.open_connections == 1 && s.connections == 101
    })
    .await;
  assert!(s.errors >= 100, "{s:?}");
  good.served(5).await;
  good.finish().await;
  h.check_memory("random garbage");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_open_tls_handshakes() {
  let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../__test__/fixtures/tls");
  let acceptor =
    fluent_sink::tls::acceptor_from_files(&dir.join("server.pem"), &dir.join("server.key")).unwrap();
  let limits = Limits {
    handshake_timeout: Duration::from_millis(1000),
    ..limits()
  };
  let h = Harness::start(limits, Some(acceptor));
  let mut roots = RootCertStore::empty();
  for c in CertificateDer::pem_file_iter(dir.join("ca.pem")).unwrap() {
    roots.add(c.unwrap()).unwrap();
  }
  let config = ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
  let tls = TlsConnector::from(Arc::new(config))
    .connect(ServerName::try_from("localhost").unwrap(), connect(h.port).await)
    .await
    .unwrap();
  let good = Good::spawn(tls);
  good.served(1).await;
  let mut socks = Vec::new();
  for i in 0..200 {
    let mut s = connect(h.port).await;
    // Half send the start of a ClientHello record (declaring 512 bytes) and stop; half send nothing.
    if i % 2 == 0 {
      s.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]).await.unwrap();
    }
    socks.push(s);
  }
  good.served(5).await;
  let s = h
    .until("the handshake timeout", |s| {
      s.timeouts >= 200 && s.open_connections == 1
    })
    .await;
  assert_eq!(s.open_connections, 1);
  assert_eq!(s.errors, 200);
  good.served(3).await;
  good.finish().await;
  h.check_memory("half-open TLS handshakes");
}
