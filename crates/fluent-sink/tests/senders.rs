//! Scripted replays of what real senders put on the wire (neither fluentd nor Fluent Bit can run
//! in CI here), in the byte forms /work/shared/PROTOCOL.md documents from their sources: each must
//! still decode exactly (tag, time and record bytes), be acknowledged with the sender's own id,
//! and pass the handshake with the PROTOCOL.md test vectors.

use std::io::Write;
use std::sync::Arc;

use flate2::{write::GzEncoder, Compression};
use fluent_sink::auth::{answer, pong, Security};
use fluent_sink::conn::Session;
use fluent_sink::decode::Time;
use fluent_sink::event::EventSink;
use fluent_sink::server::{serve_sinks, Endpoint, Listener, Serving};
use fluent_sink::stats::Stats;
use sha2::{Digest, Sha512};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Default)]
struct Collect(Vec<(Vec<u8>, Time, Vec<u8>)>);

impl EventSink for Collect {
  fn event(&mut self, tag: &[u8], time: Time, record: &[u8]) {
    self.0.push((tag.to_vec(), time, record.to_vec()));
  }
}

fn fixstr(s: &[u8]) -> Vec<u8> {
  assert!(s.len() < 32);
  let mut v = vec![0xa0 | s.len() as u8];
  v.extend(s);
  v
}

fn gzip(data: &[u8]) -> Vec<u8> {
  let mut enc = GzEncoder::new(Vec::new(), Compression::default());
  enc.write_all(data).unwrap();
  enc.finish().unwrap()
}

const SEC: [u8; 4] = [0x65, 0x53, 0xf1, 0x00];
const NSEC: [u8; 4] = [0x07, 0x5b, 0xcd, 0x15];

/// `{"msg": "hi", "host": "web"}` as msgpack-ruby and Fluent Bit pack it.
fn record(i: u8) -> Vec<u8> {
  let mut r = vec![0x82];
  r.extend(fixstr(b"msg"));
  r.extend(fixstr(&[b'h', b'i', b'0' + i]));
  r.extend(fixstr(b"host"));
  r.extend(fixstr(b"web"));
  r
}

/// `[EventTime(SEC, NSEC), record]`, the fixext8 form both senders write.
fn entry(i: u8) -> Vec<u8> {
  let mut e = vec![0x92, 0xd7, 0x00];
  e.extend(SEC);
  e.extend(NSEC);
  e.extend(record(i));
  e
}

/// fluentd's ack id: Ruby `Base64.encode64` of 16 bytes, with its trailing newline.
const FLUENTD_CHUNK: &[u8] = b"q83vEjRWeJCrze8SNFZ4kA==\n";

/// fluentd out_forward `send_data_actual`: fixarray(3), tag, str32 header + the chunk bytes (raw
/// or gzip members, one per buffer append), then `{"size", "compressed", "chunk"}`.
fn fluentd(compress: &str, body: &[u8], n: u8) -> Vec<u8> {
  let mut v = vec![0x93];
  v.extend(fixstr(b"app.log"));
  v.push(0xdb);
  v.extend((body.len() as u32).to_be_bytes());
  v.extend(body);
  v.push(0x83);
  v.extend(fixstr(b"size"));
  v.push(n);
  v.extend(fixstr(b"compressed"));
  v.extend(fixstr(compress.as_bytes()));
  v.extend(fixstr(b"chunk"));
  v.extend(fixstr(FLUENTD_CHUNK));
  v
}

/// Fluent Bit's ack id: Base64 of the first 16 bytes of the payload's SHA-512.
const FLUENT_BIT_CHUNK: &[u8] = b"3q2+78r+ur7erb7vyv66vg==";

/// Fluent Bit out_forward options: `chunk`, then its `fluent_signal` extension (0: logs).
fn fluent_bit_options(extra: &[(&[u8], &[u8])]) -> Vec<u8> {
  let mut v = vec![0x80 | (2 + extra.len() as u8)];
  for (k, val) in extra {
    v.extend(fixstr(k));
    v.extend(fixstr(val));
  }
  v.extend(fixstr(b"chunk"));
  v.extend(fixstr(FLUENT_BIT_CHUNK));
  v.extend(fixstr(b"fluent_signal"));
  v.push(0x00);
  v
}

/// Feeds one connection's bytes to a session; the events and the acks written back.
fn replay(bytes: &[u8]) -> (Collect, Vec<u8>, fluent_sink::stats::Tally) {
  let mut s = Session::new(Collect::default());
  let mut rest = bytes;
  while !rest.is_empty() {
    let space = s.space();
    let n = space.len().min(rest.len()).min(1000);
    space[..n].copy_from_slice(&rest[..n]);
    rest = &rest[n..];
    s.filled(n).unwrap();
  }
  let acks = s.acks().to_vec();
  let tally = s.tally;
  (std::mem::take(s.sink_mut()), acks, tally)
}

fn ack(id: &[u8]) -> Vec<u8> {
  let mut v = vec![0x81];
  v.extend(fixstr(b"ack"));
  v.extend(fixstr(id));
  v
}

fn want(tag: &[u8], n: u8) -> Vec<(Vec<u8>, Time, Vec<u8>)> {
  (0..n)
    .map(|i| (tag.to_vec(), Time::Event(0x6553_f100, 0x075b_cd15), record(i)))
    .collect()
}

#[test]
fn fluentd_out_forward_str32_text_with_ack() {
  let body: Vec<u8> = (0..3).flat_map(entry).collect();
  let (got, acks, t) = replay(&fluentd("text", &body, 3));
  assert_eq!(got.0, want(b"app.log", 3));
  assert_eq!(acks, ack(FLUENTD_CHUNK));
  assert_eq!((t.events, t.invalid, t.size_mismatch, t.errors), (3, 0, 0, 0));
}

#[test]
fn fluentd_out_forward_gzip_members_with_ack() {
  // Two appends to the buffer chunk: two gzip members in one str32.
  let mut body = gzip(&[entry(0), entry(1)].concat());
  body.extend(gzip(&entry(2)));
  let (got, acks, t) = replay(&fluentd("gzip", &body, 3));
  assert_eq!(got.0, want(b"app.log", 3));
  assert_eq!(acks, ack(FLUENTD_CHUNK));
  assert_eq!((t.events, t.invalid, t.size_mismatch), (3, 0, 0));
}

#[test]
fn fluent_bit_out_forward_forward_mode_with_ack() {
  // flush_forward_mode: `[tag, array(N)` and the entries verbatim, then the options.
  let mut v = vec![0x93];
  v.extend(fixstr(b"fb.log"));
  v.push(0x93);
  for i in 0..3 {
    v.extend(entry(i));
  }
  v.extend(fluent_bit_options(&[]));
  let (got, acks, t) = replay(&v);
  assert_eq!(got.0, want(b"fb.log", 3));
  assert_eq!(acks, ack(FLUENT_BIT_CHUNK));
  assert_eq!((t.events, t.invalid), (3, 0));
}

#[test]
fn fluent_bit_out_forward_with_metadata_times() {
  // retain_metadata_in_forward_mode (the default since v5.0.4): `[[time, metadata], record]`.
  let mut v = vec![0x93];
  v.extend(fixstr(b"fb.log"));
  v.push(0x92);
  for i in 0..2 {
    v.extend([0x92, 0x92, 0xd7, 0x00]);
    v.extend(SEC);
    v.extend(NSEC);
    v.extend([0x81]);
    v.extend(fixstr(b"otlp"));
    v.push(0x80);
    v.extend(record(i));
  }
  v.extend(fluent_bit_options(&[]));
  let (got, acks, t) = replay(&v);
  assert_eq!(got.0, want(b"fb.log", 2));
  assert_eq!(acks, ack(FLUENT_BIT_CHUNK));
  assert_eq!((t.events, t.invalid), (2, 0));
}

#[test]
fn fluent_bit_out_forward_gzip_with_ack() {
  let gz = gzip(&(0..3).flat_map(entry).collect::<Vec<u8>>());
  let mut v = vec![0x93];
  v.extend(fixstr(b"fb.gz"));
  v.push(0xc5);
  v.extend((gz.len() as u16).to_be_bytes());
  v.extend(gz);
  v.extend(fluent_bit_options(&[(b"compressed", b"gzip")]));
  let (got, acks, t) = replay(&v);
  assert_eq!(got.0, want(b"fb.gz", 3));
  assert_eq!(acks, ack(FLUENT_BIT_CHUNK));
  assert_eq!((t.events, t.invalid), (3, 0));
}

fn sha512_hex(parts: &[&[u8]]) -> String {
  let mut h = Sha512::new();
  for p in parts {
    h.update(p);
  }
  h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

fn ping(host: &[u8], salt: &[u8], digest: &[u8], user: &[u8], pass: &[u8]) -> Vec<u8> {
  let mut v = vec![0x96];
  v.extend(fixstr(b"PING"));
  for s in [host, salt, digest, user, pass] {
    if s.len() < 32 {
      v.extend(fixstr(s));
    } else {
      v.extend([0xd9, s.len() as u8]);
      v.extend(s);
    }
  }
  v
}

#[test]
fn handshake_matches_the_protocol_md_vectors() {
  let nonce: Vec<u8> = (0..16).collect();
  let auth: Vec<u8> = (0x10..0x20).collect();
  let salt = b"0123456789abcdef0123456789abcdef";
  let ping_digest = b"3a680037d3979b4f789647cd22e7e55f2197791eb498799823c424e2213124ed63938d1c422f50e08ec02957ef44df338e46c77e8ea164b0dde6d64e171b30df";
  let pong_digest = "3389a63bef56054281d75fb7b05965b0d1b1ea9eba25b4594ed8e06a02e725af1fbf401cdbe697423c388ac1948566570a6f592284a536370ca36a5ccf88cbbd";
  let password = b"30ba189083890f86a0f1c763335d41db45565f83c1ccc40cb117adc1677e2597a24b01d07b410f4f969fcbdbae7dffa606a9a8e02d34f126658def33403a6248";
  let sec = Security {
    shared_key: "secret".into(),
    self_hostname: "server.example".into(),
    users: vec![("user".into(), "pass".into())],
  };
  // fluentd out_forward: hex salt, every field a str.
  let frame = ping(b"client.example", salt, ping_digest, b"user", password);
  let (reply, verdict) = answer(&sec, &nonce, &auth, &frame);
  assert_eq!(verdict, Ok(()));
  assert_eq!(reply, pong(true, "", "server.example", pong_digest));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fluent_bit_handshake_with_a_raw_salt_then_forward_mode_over_a_socket() {
  let listener = Listener::bind(&Endpoint::Tcp {
    host: "127.0.0.1".into(),
    port: 0,
  })
  .await
  .unwrap();
  let port: u16 = listener.banner().unwrap()["LISTENING ".len()..].parse().unwrap();
  let stats = Arc::new(Stats::default());
  let serving = Serving {
    make_sink: || (),
    ack: true,
    tls: None,
    security: Some(Arc::new(Security {
      shared_key: "secret".into(),
      self_hostname: "server.example".into(),
      users: vec![],
    })),
    limits: Default::default(),
  };
  let server = tokio::spawn(serve_sinks(listener, stats.clone(), serving));
  let run = async {
    let mut sock = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    // HELO: ["HELO", {"nonce": bin16, "auth": bin16, "keepalive": true}]; the nonce sits at 7+8.
    let mut helo = vec![0u8; 7 + 24 + 23 + 11];
    sock.read_exact(&mut helo).await.unwrap();
    assert_eq!(&helo[..7], &[0x92, 0xa4, b'H', b'E', b'L', b'O', 0x83]);
    let nonce = helo[7 + 8..7 + 24].to_vec();
    // Fluent Bit's PING: 16 raw random bytes as a str salt, empty user and password.
    let salt: Vec<u8> = (0..16u8).map(|i| 0xf0 ^ i).collect();
    let digest = sha512_hex(&[&salt, b"fluent-bit", &nonce, b"secret"]);
    sock
      .write_all(&ping(b"fluent-bit", &salt, digest.as_bytes(), b"", b""))
      .await
      .unwrap();
    let mut head = [0u8; 7];
    sock.read_exact(&mut head).await.unwrap();
    assert_eq!(head, [0x95, 0xa4, b'P', b'O', b'N', b'G', 0xc3]);
    // The rest of the PONG: "", "server.example", and the 128-hex-digit digest (str8).
    let mut rest = vec![0u8; 1 + 15 + 2 + 128];
    sock.read_exact(&mut rest).await.unwrap();
    let want = sha512_hex(&[&salt, b"server.example", &nonce, b"secret"]);
    assert_eq!(&rest[18..], want.as_bytes());
    let mut req = vec![0x93];
    req.extend(fixstr(b"fb.log"));
    req.push(0x92);
    req.extend(entry(0));
    req.extend(entry(1));
    req.extend(fluent_bit_options(&[]));
    sock.write_all(&req).await.unwrap();
    let want_ack = ack(FLUENT_BIT_CHUNK);
    let mut got = vec![0u8; want_ack.len()];
    sock.read_exact(&mut got).await.unwrap();
    assert_eq!(got, want_ack);
  };
  tokio::time::timeout(std::time::Duration::from_secs(10), run)
    .await
    .expect("timed out");
  // The ack goes out just before the connection adds its counts to the stats: wait for them.
  let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
  while stats.snapshot().acks < 1 && std::time::Instant::now() < deadline {
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
  }
  server.abort();
  let s = stats.snapshot();
  assert_eq!((s.events, s.acks, s.errors), (2, 1, 0));
}
