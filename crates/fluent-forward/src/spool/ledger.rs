//! The ledger: what is settled, persisted so a restart does not send it again.
//!
//! It holds `below` (every segment numbered lower is settled), for each segment held where its
//! first unsettled frame is (`starts`: replay begins there), the frames settled out of order
//! beyond that (`settled`), and each segment's length when the ledger was written (`lengths`: a
//! file found shorter was cut, even if exactly between two frames). The file is small (bounded by the segments and unsettled batches held)
//! and is replaced whole: written to `ledger.tmp`, synced, renamed over `ledger`. A torn or
//! damaged ledger reads as none, which replays everything still on disk: at least once, never lost.
//!
//! Layout (little-endian): `magic[8] | below u64 | n_starts u32 | n_settled u32 | n_lengths u32 |
//! (seq u64, u64) × (n_starts + n_settled + n_lengths) | crc32c u32` over everything before the
//! CRC.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

use super::segment::sync_dir;

const MAGIC: [u8; 8] = *b"FNSPLDG\x01";
const FILE: &str = "ledger";
const TMP: &str = "ledger.tmp";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ledger {
  /// Segments numbered lower than this are wholly settled.
  pub below: u64,
  /// Per segment, where its first unsettled frame starts.
  pub starts: Vec<(u64, u64)>,
  /// Frames after their segment's start settled out of order, sorted.
  pub settled: Vec<(u64, u64)>,
  /// Per segment, its length in bytes.
  pub lengths: Vec<(u64, u64)>,
}

impl Ledger {
  fn encode(&self) -> Vec<u8> {
    let pairs = self.starts.len() + self.settled.len() + self.lengths.len();
    let mut out = Vec::with_capacity(8 + 8 + 12 + 16 * pairs + 4);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&self.below.to_le_bytes());
    for list in [&self.starts, &self.settled, &self.lengths] {
      out.extend_from_slice(&(list.len() as u32).to_le_bytes());
    }
    for (seq, off) in self.starts.iter().chain(&self.settled).chain(&self.lengths) {
      out.extend_from_slice(&seq.to_le_bytes());
      out.extend_from_slice(&off.to_le_bytes());
    }
    let crc = crc32c::crc32c(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
  }

  fn decode(b: &[u8]) -> Option<Ledger> {
    let (body, crc) = b.split_at_checked(b.len().checked_sub(4)?)?;
    if body.get(..8)? != MAGIC || crc32c::crc32c(body).to_le_bytes() != crc {
      return None;
    }
    let below = u64::from_le_bytes(body.get(8..16)?.try_into().ok()?);
    let n_starts = u32::from_le_bytes(body.get(16..20)?.try_into().ok()?) as usize;
    let n_settled = u32::from_le_bytes(body.get(20..24)?.try_into().ok()?) as usize;
    let n_lengths = u32::from_le_bytes(body.get(24..28)?.try_into().ok()?) as usize;
    let pairs = body.get(28..)?;
    if pairs.len() != 16 * (n_starts + n_settled + n_lengths) {
      return None;
    }
    let mut it = pairs.chunks_exact(16).map(|c| {
      (
        u64::from_le_bytes(c[..8].try_into().expect("8 bytes")),
        u64::from_le_bytes(c[8..].try_into().expect("8 bytes")),
      )
    });
    let starts = it.by_ref().take(n_starts).collect();
    let settled = it.by_ref().take(n_settled).collect();
    Some(Ledger {
      below,
      starts,
      settled,
      lengths: it.collect(),
    })
  }
}

/// The slot's ledger (`None` when absent or damaged) and whether it was damaged, so the caller can
/// count it.
pub fn read(slot: &Path) -> io::Result<(Option<Ledger>, bool)> {
  match fs::read(slot.join(FILE)) {
    Ok(b) => {
      let l = Ledger::decode(&b);
      let damaged = l.is_none();
      Ok((l, damaged))
    }
    Err(e) if e.kind() == io::ErrorKind::NotFound => Ok((None, false)),
    Err(e) => Err(e),
  }
}

/// Replaces the slot's ledger; `durable` also syncs the file and the directory.
pub fn write(slot: &Path, ledger: &Ledger, durable: bool) -> io::Result<()> {
  let tmp = slot.join(TMP);
  let mut f = OpenOptions::new()
    .write(true)
    .create(true)
    .truncate(true)
    .open(&tmp)?;
  f.write_all(&ledger.encode())?;
  if durable {
    f.sync_data()?;
  }
  drop(f);
  fs::rename(&tmp, slot.join(FILE))?;
  if durable {
    sync_dir(slot)?;
  }
  Ok(())
}

pub fn remove(slot: &Path) -> io::Result<()> {
  match fs::remove_file(slot.join(FILE)) {
    Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
    _ => Ok(()),
  }
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn a_ledger_round_trips_and_any_flipped_byte_reads_as_none() {
    let l = Ledger {
      below: 3,
      starts: vec![(3, 116), (4, 16)],
      settled: vec![(3, 200), (4, 40)],
      lengths: vec![(3, 4096), (4, 80)],
    };
    let b = l.encode();
    assert_eq!(Ledger::decode(&b), Some(l));
    for i in 0..b.len() {
      let mut bad = b.clone();
      bad[i] ^= 0x10;
      assert_eq!(Ledger::decode(&bad), None, "byte {i}");
    }
    assert_eq!(Ledger::decode(&b[..b.len() - 1]), None);
  }
}
