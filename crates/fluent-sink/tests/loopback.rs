//! End-to-end checks over real sockets: the library's accept loop and the built binary.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fluent_sink::server::{serve, Endpoint, Listener};
use fluent_sink::stats::Stats;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const LIMIT: Duration = Duration::from_secs(10);

/// PackedForward with one entry `[EventTime(1700000000,0), {"a":1}]`, options size 1 and `chunk`.
fn packed_with_chunk(chunk: &str) -> Vec<u8> {
  let mut v = vec![0x93, 0xa7];
  v.extend(b"app.log");
  v.extend([
    0xc4, 0x0f, 0x92, 0xd7, 0x00, 0x65, 0x53, 0xf1, 0x00, 0x00, 0x00, 0x00, 0x00, 0x81, 0xa1, 0x61, 0x01,
  ]);
  v.extend([0x82, 0xa4]);
  v.extend(b"size");
  v.push(0x01);
  v.push(0xa5);
  v.extend(b"chunk");
  v.push(0xa0 | chunk.len() as u8);
  v.extend(chunk.as_bytes());
  v
}

fn ack_for(chunk: &str) -> Vec<u8> {
  let mut v = vec![0x81, 0xa3, b'a', b'c', b'k', 0xa0 | chunk.len() as u8];
  v.extend(chunk.as_bytes());
  v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ack_round_trip_over_tcp() {
  let listener = Listener::bind(&Endpoint::Tcp {
    host: "127.0.0.1".into(),
    port: 0,
  })
  .await
  .unwrap();
  let banner = listener.banner().unwrap();
  let port: u16 = banner.strip_prefix("LISTENING ").unwrap().parse().unwrap();
  let stats = Arc::new(Stats::default());
  let server = tokio::spawn(serve(listener, stats.clone(), false));

  let run = async {
    let mut sock = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let chunk = "AAAAAAAAAAAAAAAAAAAAAA==";
    let mut req = packed_with_chunk(chunk);
    // A heartbeat, then the same request split in two writes.
    req.insert(0, 0xc0);
    sock.write_all(&req[..10]).await.unwrap();
    sock.flush().await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    sock.write_all(&req[10..]).await.unwrap();
    let want = ack_for(chunk);
    let mut got = vec![0; want.len()];
    sock.read_exact(&mut got).await.unwrap();
    assert_eq!(got, want);
    // Garbage closes the connection.
    sock.write_all(&[0xc1]).await.unwrap();
    let mut rest = Vec::new();
    sock.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty());
  };
  tokio::time::timeout(LIMIT, run).await.expect("timed out");
  let deadline = Instant::now() + LIMIT;
  while stats.snapshot().errors == 0 && Instant::now() < deadline {
    tokio::time::sleep(Duration::from_millis(5)).await;
  }
  let s = stats.snapshot();
  assert_eq!(
    (s.events, s.requests, s.acks, s.connections, s.errors, s.invalid),
    (1, 1, 1, 1, 1, 0)
  );
  assert_eq!(
    s.bytes,
    packed_with_chunk("AAAAAAAAAAAAAAAAAAAAAA==").len() as u64 + 2
  );
  server.abort();
}

struct Sink {
  child: Child,
  stdin: Option<ChildStdin>,
  stdout: BufReader<ChildStdout>,
}

impl Sink {
  fn start(args: &[&str]) -> Sink {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fluent-sink"))
      .args(args)
      .stdin(Stdio::piped())
      .stdout(Stdio::piped())
      .spawn()
      .unwrap();
    let stdin = child.stdin.take();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    Sink { child, stdin, stdout }
  }

  /// Reads a line on a helper thread so a silent child fails the test instead of hanging it.
  fn line(&mut self) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::scope(|scope| {
      let stdout = &mut self.stdout;
      scope.spawn(move || {
        let mut line = String::new();
        let _ = stdout.read_line(&mut line);
        let _ = tx.send(line);
      });
      match rx.recv_timeout(LIMIT) {
        Ok(line) => line,
        Err(_) => {
          let _ = self.child.kill();
          panic!("no line from fluent-sink");
        }
      }
    })
  }

  fn send(&mut self, cmd: &str) {
    writeln!(self.stdin.as_mut().unwrap(), "{cmd}").unwrap();
  }

  fn wait_exit(&mut self) -> i32 {
    let deadline = Instant::now() + LIMIT;
    loop {
      if let Some(status) = self.child.try_wait().unwrap() {
        return status.code().unwrap_or(-1);
      }
      if Instant::now() > deadline {
        let _ = self.child.kill();
        panic!("fluent-sink did not exit");
      }
      std::thread::sleep(Duration::from_millis(10));
    }
  }
}

impl Drop for Sink {
  fn drop(&mut self) {
    let _ = self.child.kill();
    let _ = self.child.wait();
  }
}

fn connect(banner: &str) -> TcpStream {
  let port: u16 = banner.trim().strip_prefix("LISTENING ").unwrap().parse().unwrap();
  let sock = TcpStream::connect(("127.0.0.1", port)).unwrap();
  sock.set_read_timeout(Some(LIMIT)).unwrap();
  sock
}

#[test]
fn binary_counts_acks_and_answers_commands() {
  let mut sink = Sink::start(&["--port", "0", "--threads", "2"]);
  let banner = sink.line();
  let mut sock = connect(&banner);
  sock.write_all(&packed_with_chunk("c1")).unwrap();
  let mut got = vec![0; ack_for("c1").len()];
  sock.read_exact(&mut got).unwrap();
  assert_eq!(got, ack_for("c1"));
  sink.send("wait 1 5000");
  let line = sink.line();
  assert!(line.starts_with("{\"events\":1,\"requests\":1,"), "{line}");
  assert!(line.contains("\"acks\":1,"), "{line}");
  sink.send("reset");
  assert!(sink.line().starts_with("{\"events\":0,"));
  sink.send("quit");
  assert_eq!(sink.wait_exit(), 0);
}

#[test]
fn binary_prints_json_and_exits_on_stdin_eof() {
  let mut sink = Sink::start(&["--print"]);
  let banner = sink.line();
  let mut sock = connect(&banner);
  sock.write_all(&packed_with_chunk("c2")).unwrap();
  let mut got = vec![0; ack_for("c2").len()];
  sock.read_exact(&mut got).unwrap();
  assert_eq!(
    sink.line(),
    "{\"tag\":\"app.log\",\"time\":[1700000000,0],\"record\":{\"a\":1}}\n"
  );
  sink.send("stats");
  assert!(sink.line().starts_with("{\"events\":1,"));
  drop(sink.stdin.take());
  assert_eq!(sink.wait_exit(), 0);
}

#[cfg(unix)]
#[test]
fn binary_listens_on_unix_socket() {
  let path = std::env::temp_dir().join(format!("fluent-sink-test-{}.sock", std::process::id()));
  let mut sink = Sink::start(&["--unix", path.to_str().unwrap()]);
  assert_eq!(sink.line().trim(), format!("LISTENING unix:{}", path.display()));
  let mut sock = std::os::unix::net::UnixStream::connect(&path).unwrap();
  sock.set_read_timeout(Some(LIMIT)).unwrap();
  sock.write_all(&packed_with_chunk("c3")).unwrap();
  let mut got = vec![0; ack_for("c3").len()];
  sock.read_exact(&mut got).unwrap();
  assert_eq!(got, ack_for("c3"));
  sink.send("quit");
  assert_eq!(sink.wait_exit(), 0);
  assert!(!path.exists());
}

/// Message mode `[tag, time, {"a": <len bytes>}, {"chunk": chunk}]`: one request of about `len` bytes.
fn message_of_len(chunk: &str, len: usize) -> Vec<u8> {
  let mut v = vec![0x94, 0xa7];
  v.extend(b"app.log");
  v.push(0xce);
  v.extend(1_700_000_000u32.to_be_bytes());
  v.extend([0x81, 0xa1, b'a', 0xdb]);
  v.extend((len as u32).to_be_bytes());
  v.resize(v.len() + len, b'x');
  v.extend([0x81, 0xa5]);
  v.extend(b"chunk");
  v.push(0xa0 | chunk.len() as u8);
  v.extend(chunk.as_bytes());
  v
}

#[test]
fn binary_max_request_bytes_raises_the_request_limit() {
  // Past Fluent Bit's 6,144,000 default, which the binary keeps unless told otherwise.
  let big = message_of_len("c4", 7_000_000);

  let mut raised = Sink::start(&["--max-request-bytes", "8000000"]);
  let banner = raised.line();
  let mut sock = connect(&banner);
  sock.write_all(&big).unwrap();
  let mut got = vec![0; ack_for("c4").len()];
  sock.read_exact(&mut got).unwrap();
  assert_eq!(got, ack_for("c4"));
  raised.send("stats");
  let line = raised.line();
  assert!(line.starts_with("{\"events\":1,\"requests\":1,"), "{line}");
  assert!(line.contains("\"tooLarge\":0,"), "{line}");

  let mut default = Sink::start(&[]);
  let banner = default.line();
  let mut sock = connect(&banner);
  // The sink closes the connection part-way, so the write may fail; what it counted is the check.
  let _ = sock.write_all(&big);
  let mut rest = Vec::new();
  let _ = sock.read_to_end(&mut rest);
  assert!(rest.is_empty());
  default.send("stats");
  let line = default.line();
  assert!(line.starts_with("{\"events\":0,\"requests\":0,"), "{line}");
  assert!(line.contains("\"tooLarge\":1,"), "{line}");
}
