//! Throughput measurement, not a correctness test: `cargo test --release -p fluent-sink --test
//! throughput -- --ignored --nocapture`. Sends 5,000,000 small PackedForward events in ~512 KiB
//! batches to the built binary over loopback and reports events/s (wall clock, and per CPU second
//! of the sink process from /proc).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Instant;

const EVENTS: u64 = 5_000_000;
const BATCH_BYTES: usize = 512 << 10;

/// `[EventTime, {level:'info', msg:'hello world', n:i, user:'u123', ok:true}]`
fn entry(out: &mut Vec<u8>, i: u64) {
  out.extend([0x92, 0xd7, 0x00]);
  out.extend(1_700_000_000u32.to_be_bytes());
  out.extend(((i % 1_000_000_000) as u32).to_be_bytes());
  out.push(0x85);
  out.extend(b"\xa5level\xa4info\xa3msg\xabhello world\xa1n");
  match i {
    0..=0x7f => out.push(i as u8),
    0x80..=0xff => out.extend([0xcc, i as u8]),
    0x100..=0xffff => {
      out.push(0xcd);
      out.extend((i as u16).to_be_bytes());
    }
    _ => {
      out.push(0xce);
      out.extend((i as u32).to_be_bytes());
    }
  }
  out.extend(b"\xa4user\xa4u123\xa2ok\xc3");
}

fn batches(with_chunk: bool) -> Vec<Vec<u8>> {
  let mut all = Vec::new();
  let mut i = 0;
  let mut seq = 0u32;
  while i < EVENTS {
    let mut entries = Vec::with_capacity(BATCH_BYTES + 64);
    let mut n = 0u32;
    while entries.len() < BATCH_BYTES - 64 && i < EVENTS {
      entry(&mut entries, i);
      i += 1;
      n += 1;
    }
    let mut req = vec![0x93, 0xa4];
    req.extend(b"test");
    req.push(0xc6);
    req.extend((entries.len() as u32).to_be_bytes());
    req.extend(&entries);
    req.push(if with_chunk { 0x82 } else { 0x81 });
    req.extend(b"\xa4size\xce");
    req.extend(n.to_be_bytes());
    if with_chunk {
      req.extend(b"\xa5chunk\xb8");
      req.extend(format!("{seq:024}").as_bytes());
    }
    seq += 1;
    all.push(req);
  }
  all
}

fn cpu_ticks(pid: u32) -> u64 {
  let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
  let fields: Vec<&str> = stat.rsplit_once(')').unwrap().1.split_whitespace().collect();
  fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

fn run(with_chunk: bool) {
  let batches = batches(with_chunk);
  let bytes: usize = batches.iter().map(Vec::len).sum();
  let mut child = Command::new(env!("CARGO_BIN_EXE_fluent-sink"))
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .spawn()
    .unwrap();
  let mut stdin = child.stdin.take().unwrap();
  let mut stdout = BufReader::new(child.stdout.take().unwrap());
  let mut line = String::new();
  stdout.read_line(&mut line).unwrap();
  let port: u16 = line.trim().strip_prefix("LISTENING ").unwrap().parse().unwrap();
  let mut sock = TcpStream::connect(("127.0.0.1", port)).unwrap();
  sock.set_nodelay(true).unwrap();
  let acks = with_chunk.then(|| {
    let mut r = sock.try_clone().unwrap();
    std::thread::spawn(move || {
      let mut buf = vec![0; 1 << 16];
      let mut total = 0;
      while let Ok(n) = r.read(&mut buf) {
        if n == 0 {
          break;
        }
        total += n;
      }
      total
    })
  });
  let cpu0 = cpu_ticks(child.id());
  writeln!(stdin, "wait {EVENTS} 120000").unwrap();
  let start = Instant::now();
  for b in &batches {
    sock.write_all(b).unwrap();
  }
  let sent = start.elapsed();
  line.clear();
  stdout.read_line(&mut line).unwrap();
  let elapsed = start.elapsed();
  let cpu = (cpu_ticks(child.id()) - cpu0) as f64 / 100.0;
  drop(sock);
  drop(stdin);
  let _ = child.wait();
  if let Some(h) = acks {
    let _ = h.join();
  }
  assert!(line.starts_with(&format!("{{\"events\":{EVENTS},")), "{line}");
  let secs = elapsed.as_secs_f64();
  eprintln!(
    "acks={with_chunk}: {EVENTS} events, {} batches, {:.1} MB in {:.3} s (writes done at {:.3} s): \
     {:.2} M events/s wall, {:.0} MB/s; sink CPU {:.2} s => {:.2} M events per CPU-second\n  {}",
    batches.len(),
    bytes as f64 / 1e6,
    secs,
    sent.as_secs_f64(),
    EVENTS as f64 / secs / 1e6,
    bytes as f64 / secs / 1e6,
    cpu,
    EVENTS as f64 / cpu.max(0.01) / 1e6,
    line.trim()
  );
}

#[test]
#[ignore = "throughput measurement; run with --release -- --ignored --nocapture"]
fn packed_forward_5m_events() {
  run(false);
  run(true);
}

/// The decoder alone, without sockets: every batch fed through a connection session in-process.
#[test]
#[ignore = "throughput measurement; run with --release -- --ignored --nocapture"]
fn decode_only_5m_events() {
  let batches = batches(true);
  for round in 0..3 {
    let mut s = fluent_sink::conn::Session::new(());
    let start = Instant::now();
    for b in &batches {
      let mut data = &b[..];
      while !data.is_empty() {
        let space = s.space();
        let n = space.len().min(data.len());
        space[..n].copy_from_slice(&data[..n]);
        data = &data[n..];
        s.filled(n).unwrap();
      }
      s.count_acks();
      s.acks_sent();
    }
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(s.tally.events, EVENTS);
    eprintln!(
      "decode only, round {round}: {:.2} M events/s ({:.0} MB/s)",
      EVENTS as f64 / secs / 1e6,
      s.tally.bytes as f64 / secs / 1e6
    );
  }
}
