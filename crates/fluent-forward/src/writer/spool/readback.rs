//! The next fresh batch: a leftover while replay lasts, else the backlog's front, read back from
//! disk if it was evicted; each read only once it fits the read window (`read_window`): batches read
//! back are held outside the cap, so that they never take room the JS side has already promised to
//! an `emit` (see `Queue::read_bytes`).

use super::*;

impl Writer {
  /// Fills `ready`: a leftover batch while replay lasts, else the backlog's front (read back from
  /// disk if it was evicted), each only once it fits the read window.
  pub(super) fn prepare_ready(&mut self) {
    let shared = self.shared.clone();
    let lane = self.spool.as_mut().expect("called with a lane");
    if lane.ready.is_some() {
      return;
    }
    let window = read_window(shared.config.max_buffer_bytes);
    while lane.replaying && lane.stash.is_none() {
      match lane.spool.replay_next() {
        None => lane.replaying = false,
        Some(Replayed::Batch(id, batch)) => lane.stash = Some((id, batch)),
        Some(Replayed::Damaged(d)) => {
          let error = SpoolError::Corrupt {
            file: d.file,
            offset: d.offset,
            why: d.kind.as_str(),
          };
          shared.emit(Event::Error {
            error: Error::Spool(error),
            records: 0,
            tag: None,
          });
        }
      }
    }
    if let Some((_, batch)) = &lane.stash {
      let need = footprint(batch.entries.len(), batch.records());
      let mut q = shared.queue.lock();
      if !fits_read(&q, window, need) {
        return;
      }
      let (id, batch) = lane.stash.take().expect("checked");
      let n = batch.records();
      q.read_bytes += need;
      q.read_records += n;
      Counters::add(&shared.counters.replayed, n as u64);
      drop(q);
      let mut held = Held::new(chunk_of(batch));
      held.spool = Some(id);
      held.replayed = true;
      lane.ready = Some(held);
      return;
    }
    if lane.replaying {
      return;
    }
    // A batch whose read fails is lost (reported): the next one is tried at once.
    loop {
      match lane.backlog.front() {
        None => return,
        Some(Waiting::Memory(_)) => {
          let Some(Waiting::Memory(h)) = lane.pop() else {
            unreachable!("matched above")
          };
          lane.ready = Some(h);
          return;
        }
        Some(&Waiting::Disk {
          records, footprint, ..
        }) => {
          let mut q = shared.queue.lock();
          if !fits_read(&q, window, footprint) {
            return;
          }
          let Some(Waiting::Disk { id, tag, .. }) = lane.pop() else {
            unreachable!("matched above")
          };
          // Its room is taken now, under the lock that found it; the disk read runs without the
          // lock, which the producers wait on.
          let on_disk = &figures(&shared).on_disk_records;
          q.read_bytes += footprint;
          q.read_records += records;
          on_disk.fetch_sub(records as u64, Relaxed);
          drop(q);
          match lane.spool.read(&id) {
            Ok(batch) => {
              let mut held = Held::new(chunk_of(batch));
              held.spool = Some(id);
              lane.ready = Some(held);
              return;
            }
            Err(e) => {
              // Its only copy is gone (the file was removed or damaged under us): lost, counted
              // as dropped and reported with the file.
              {
                let mut q = shared.queue.lock();
                q.release_read(footprint, records);
                Counters::add(&shared.counters.dropped, records as u64);
              }
              lane.spool.settle(id);
              shared.emit(Event::Error {
                error: Error::Spool(e),
                records: records as u64,
                tag: Some(tag),
              });
            }
          }
        }
      }
    }
  }
}

/// A batch read back from disk, as the writer holds batches.
fn chunk_of(batch: Batch) -> Chunk {
  Chunk {
    tag: Arc::from(batch.tag),
    // Not a tag of this client's table: nothing in the writer looks the id up, and the pool
    // gives a recycled buffer its tag again when it reuses it.
    tag_id: crate::chunk::READ_BACK,
    entries: batch.entries,
    offsets: batch.offsets,
    since: Instant::now(),
  }
}
