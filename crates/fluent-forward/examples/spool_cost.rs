//! Writer-thread cost of the spool engine: appending
//! batches under each sync policy, replaying them, and settling them (which deletes the files),
//! per MiB of batch payload. Run: `cargo run --release -p fluent-forward --example spool_cost [dir]`
//! (default: a fresh directory under the system temp dir; it is removed afterwards). The figures
//! depend on the device and its load: a tmpfs makes fsync free.
use fluent_forward::spool::{Batch, Replayed, Spool, SpoolOptions};
use std::path::Path;
use std::time::{Duration, Instant};

/// `records` entries of `entry` bytes (what the writer's chunks hold: `[time, record]` msgpack).
fn batch(records: usize, entry: usize) -> Batch {
  let mut entries = Vec::with_capacity(records * entry);
  let mut offsets = Vec::with_capacity(records);
  for r in 0..records {
    offsets.push(entries.len() as u32);
    entries.extend((0..entry).map(|b| (r * 7 + b) as u8));
  }
  Batch {
    tag: "bench.spool".into(),
    entries,
    offsets,
  }
}

fn mib(bytes: usize) -> f64 {
  bytes as f64 / (1024.0 * 1024.0)
}

fn run(root: &Path, label: &str, sync: Option<Duration>, b: &Batch, total: usize) {
  let dir = root.join(label.replace(' ', "-"));
  let mut o = SpoolOptions::new(&dir, 1 << 30);
  o.sync_interval = sync;
  let (mut spool, _) = Spool::open(o.clone()).unwrap();
  let n = total / b.entries.len();
  let t = Instant::now();
  for _ in 0..n {
    spool.append(b.as_ref()).unwrap();
  }
  spool.close().unwrap();
  let append = t.elapsed();
  let payload = n * b.entries.len();
  let disk = spool_bytes(&dir);

  let t = Instant::now();
  let (mut spool, _) = Spool::open(o).unwrap();
  let mut ids = Vec::new();
  while let Some(r) = spool.replay_next() {
    match r {
      Replayed::Batch(id, _) => ids.push(id),
      Replayed::Damaged(d) => panic!("damage in a fresh spool: {d:?}"),
    }
  }
  let replay = t.elapsed();
  let t = Instant::now();
  for id in ids {
    spool.settle(id);
  }
  spool.close().unwrap();
  let settle = t.elapsed();
  let per = |d: Duration| d.as_secs_f64() * 1e3 / mib(payload);
  println!(
    "{label:<28} {:>6.1} MiB in {n:>5} batches: append {:>7.2} ms/MiB, replay {:>6.2} ms/MiB, settle {:>5.2} ms/MiB; disk {:.4} bytes per payload byte",
    mib(payload),
    per(append),
    per(replay),
    per(settle),
    disk as f64 / payload as f64,
  );
}

fn spool_bytes(dir: &Path) -> u64 {
  let mut total = 0;
  for slot in std::fs::read_dir(dir).unwrap() {
    for f in std::fs::read_dir(slot.unwrap().path()).unwrap() {
      let f = f.unwrap().path();
      if f.extension().is_some_and(|e| e == "seg") {
        total += f.metadata().unwrap().len();
      }
    }
  }
  total
}

fn main() {
  let root = match std::env::args().nth(1) {
    Some(d) => Path::new(&d).to_owned(),
    None => std::env::temp_dir().join(format!("ff-spool-cost-{}", std::process::id())),
  };
  std::fs::create_dir_all(&root).unwrap();
  // 512 records of about 100 bytes: a 50 KiB batch, and 16 of them: a small batch.
  let large = batch(512, 100);
  let small = batch(16, 100);
  for (name, b) in [("50 KiB batches", &large), ("1.6 KiB batches", &small)] {
    run(&root, &format!("{name}, no fsync"), None, b, 64 << 20);
    run(
      &root,
      &format!("{name}, fsync 1 s"),
      Some(Duration::from_secs(1)),
      b,
      64 << 20,
    );
    run(
      &root,
      &format!("{name}, fsync each"),
      Some(Duration::ZERO),
      b,
      4 << 20,
    );
  }
  std::fs::remove_dir_all(&root).unwrap();
}
