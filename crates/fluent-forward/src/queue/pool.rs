//! The pool of emptied batches: buffers come back here after a batch is sent, so the steady state
//! allocates nothing per record or per batch, and the pool only ever uses the room the open and
//! sealed batches leave within `max_bytes + slack`.

use super::{Chunk, Queue, POOL_SIZE};

impl Queue {
  /// Room the pool may use. A batch that leaves the queue (taken, discarded) frees at least what it
  /// held, so the pool can always keep it, as long as it has a free place.
  fn pool_room(&self) -> usize {
    (self.max_bytes + self.slack).saturating_sub(self.held_bytes + self.alloc)
  }

  /// Frees pooled buffers there is no longer room for (the open batches grew into it).
  pub(super) fn trim_pool(&mut self) {
    while self.pooled > self.pool_room() {
      let Some(c) = self.pool.pop() else { break };
      self.pooled -= c.capacity();
    }
  }

  /// Returns an emptied batch to the pool. Oversized buffers, and any there is no room for, are
  /// freed rather than kept. Up to one per tag: with records spread over many tags, every tag's
  /// batch comes back small each flush and would otherwise be freed here and grown again from
  /// nothing on the JS thread, reallocation by reallocation. The bytes stay within `pool_room`.
  pub fn recycle(&mut self, mut chunk: Chunk, keep_capacity: usize) {
    if self.pool.len() < POOL_SIZE.max(self.tags.live())
      && chunk.entries.capacity() <= keep_capacity
      && self.pooled + chunk.capacity() <= self.pool_room()
    {
      chunk.entries.clear();
      chunk.offsets.clear();
      self.pooled += chunk.capacity();
      self.pool.push(chunk);
    }
  }

  /// Bytes allocated by the open, sealed and pooled batches (not those the writer holds). Growth
  /// keeps the open and sealed ones within twice the buffered footprint (plus `Limits::slack`) when
  /// it happens, and batches leaving never push the total past twice `max_bytes` plus the slack.
  pub fn allocated_bytes(&self) -> usize {
    let pooled: usize = self.pool.iter().map(Chunk::capacity).sum();
    debug_assert_eq!(pooled, self.pooled);
    let mut sum: usize = self.sealed.iter().map(Chunk::capacity).sum();
    let mut at = self.oldest;
    while let Some(id) = at {
      let slot = &self.open[id as usize];
      sum += slot.chunk.as_ref().map_or(0, Chunk::capacity);
      at = slot.next;
    }
    debug_assert_eq!(sum, self.alloc);
    sum + pooled
  }
}
