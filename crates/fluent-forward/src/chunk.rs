//! A batch (`Chunk`): one tag's `[time, record]` entries with their offsets, and how the queue grows
//! its buffers within the memory budget (`reserve`). Its own module, below both the queue and the
//! failure handler's store (`undelivered`), which both hold batches.

use std::sync::Arc;
use std::time::Instant;

/// A batch of entries for one tag.
#[derive(Debug)]
pub struct Chunk {
  pub tag: Arc<str>,
  pub tag_id: u32,
  /// Concatenated `[time, record]` entries.
  pub entries: Vec<u8>,
  /// Start offset of each entry in `entries` (Message mode sends them one by one).
  pub offsets: Vec<u32>,
  /// When the first record arrived.
  pub since: Instant,
}

/// Memory a buffered record costs beyond its entry bytes: its slot in the offset index.
pub const INDEX_BYTES: usize = 4;

/// The `tag_id` of a batch read back from the spool (a leftover replayed, or a batch evicted from
/// memory and read again). It is not a tag of this client's table, and it marks the batch as held in
/// the queue's read window, not under the cap (see `Queue::read_bytes`). Splits keep it.
pub const READ_BACK: u32 = u32::MAX;

impl Chunk {
  /// Read back from the spool: held in the read window, outside the cap.
  pub fn read_back(&self) -> bool {
    self.tag_id == READ_BACK
  }

  pub fn records(&self) -> usize {
    self.offsets.len()
  }

  /// What this batch counts against the byte cap: its entries and their offset index.
  pub fn footprint(&self) -> usize {
    self.entries.len() + INDEX_BYTES * self.offsets.len()
  }

  /// What this batch has allocated; never less than `footprint`.
  pub fn capacity(&self) -> usize {
    self.entries.capacity() + INDEX_BYTES * self.offsets.capacity()
  }

  pub fn entry(&self, i: usize) -> &[u8] {
    let start = self.offsets[i] as usize;
    let end = self
      .offsets
      .get(i + 1)
      .map_or(self.entries.len(), |e| *e as usize);
    &self.entries[start..end]
  }
}

/// Grows `v` by at least `need` elements: doubling up to `soft_max` elements, as far as `limit`
/// (bytes, for `alloc` after the growth) allows, and exactly beyond that. `alloc` follows the change.
pub(crate) fn reserve<T>(v: &mut Vec<T>, need: usize, soft_max: usize, alloc: &mut usize, limit: usize) {
  let (len, cap) = (v.len(), v.capacity());
  if cap - len >= need {
    return;
  }
  let size = std::mem::size_of::<T>();
  let exact = len + need;
  let amortized = (2 * cap).max(exact).min(soft_max.max(exact));
  let spare = limit.saturating_sub(*alloc + (exact - cap) * size) / size;
  v.reserve_exact(amortized.min(exact + spare) - len);
  *alloc = *alloc + v.capacity() * size - cap * size;
}
