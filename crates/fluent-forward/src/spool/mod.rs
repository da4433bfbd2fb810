//! A durable on-disk spool of sealed batches: the storage engine for issue 27.
//!
//! **Not wired into the client yet**: nothing in the writer uses it so far. See `README.md` beside
//! this file for the design, the on-disk format, and what the writer integration still has to do.
//!
//! One [`Spool`] is owned by one thread (the writer's); it appends batches, reads them back by
//! id, replays what earlier processes left, and deletes whole segment files once every batch in
//! them is settled.

mod batch;
mod error;
mod format;
mod ledger;
mod leftover;
mod lock;
mod replay;
mod segment;
mod stats;
mod tracker;

use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use batch::{Batch, BatchRef};
pub use error::SpoolError;
pub use lock::Slot;
pub use replay::{Damage, DamageKind};
pub use stats::SpoolStats;

use format::{FILE_HEADER_LEN, FRAME_HEADER_LEN, FRAME_MARKER, MAX_PAYLOAD};
use leftover::{remove_file, Found, SlotContents};
use lock::SlotLock;
use replay::{Item, SegmentReader};
use segment::{sync_dir, ActiveSegment};
use tracker::Tracker;

/// How a spool is opened.
#[derive(Debug, Clone)]
pub struct SpoolOptions {
  /// The spool directory, created if missing. Slots are subdirectories of it.
  pub dir: PathBuf,
  /// Cap on this spool's segment bytes (own and adopted). Appends past it fail with `Full`.
  pub max_bytes: u64,
  /// `None`: never fsync (written data survives a crash of the process, not of the machine).
  /// `Some(d)`: fsync at most every `d` (`Duration::ZERO`: after every append), and always when a
  /// segment is sealed or the spool closed.
  pub sync_interval: Option<Duration>,
  /// A segment is sealed and a new one started past this size (capped at `max_bytes / 8`, so
  /// settled data frees space long before the cap is reached).
  pub segment_bytes: u64,
  pub slot: Slot,
}

impl SpoolOptions {
  pub fn new(dir: impl Into<PathBuf>, max_bytes: u64) -> Self {
    SpoolOptions {
      dir: dir.into(),
      max_bytes,
      sync_interval: Some(Duration::from_secs(1)),
      segment_bytes: 8 << 20,
      slot: Slot::Auto,
    }
  }
}

/// Where a stored batch is: which segment, where in it, how long. Not `Clone`: settling takes it,
/// so a batch cannot be settled twice by mistake.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SpoolId {
  seq: u64,
  offset: u64,
  len: u32,
}

impl SpoolId {
  /// The segment number and the byte offset of the batch's frame in that file (for reports).
  pub fn position(&self) -> (u64, u64) {
    (self.seq, self.offset)
  }

  /// Bytes the batch takes on disk, frame header included.
  pub fn disk_bytes(&self) -> u64 {
    FRAME_HEADER_LEN as u64 + self.len as u64
  }
}

/// What replay yields, oldest first.
#[derive(Debug)]
pub enum Replayed {
  Batch(SpoolId, Batch),
  /// A damaged stretch, skipped; the batches in it are lost.
  Damaged(Damage),
}

/// What an open (or [`Spool::adopt_orphans`]) found on disk.
#[derive(Debug, Default)]
pub struct Leftovers {
  pub files: u64,
  pub bytes: u64,
  /// Slot directories of dead processes whose segments were moved into ours.
  pub adopted: Vec<PathBuf>,
  /// Orphan slots that could not be adopted (wholly or in part). They do not stop this spool;
  /// their files stay where they are for a later attempt.
  pub adopt_errors: Vec<SpoolError>,
}

pub struct Spool {
  root: PathBuf,
  slot: SlotLock,
  auto: bool,
  max_bytes: u64,
  segment_target: u64,
  sync_interval: Option<Duration>,
  active: Option<ActiveSegment>,
  next_seq: u64,
  tracker: Tracker,
  /// Leftover segments replay has not opened yet, oldest first, then the one being read.
  unread: VecDeque<u64>,
  reader: Option<(u64, SegmentReader)>,
  frame: Vec<u8>,
  last_sync: Instant,
  data_dirty: bool,
  ledger_dirty: bool,
  /// Segment files whose deletion failed; tried again at each sync.
  doomed: Vec<PathBuf>,
  stats: SpoolStats,
  closed: bool,
}

impl Spool {
  /// Takes a slot in `opts.dir` and finds its leftovers (and, for an auto slot, those of dead
  /// processes' slots). Replay them with [`Spool::replay_next`].
  pub fn open(opts: SpoolOptions) -> Result<(Spool, Leftovers), SpoolError> {
    if opts.max_bytes < FILE_HEADER_LEN + FRAME_HEADER_LEN as u64 + 1 {
      return Err(SpoolError::Invalid("max_bytes too small to hold one batch"));
    }
    std::fs::create_dir_all(&opts.dir).map_err(|e| SpoolError::io("create spool dir", &opts.dir, e))?;
    let slot = lock::take(&opts.dir, &opts.slot)?;
    let own = leftover::scan(&slot.dir)?;
    let segment_target = opts.segment_bytes.min(opts.max_bytes / 8).max(1);
    let mut spool = Spool {
      root: opts.dir,
      auto: opts.slot == Slot::Auto,
      next_seq: own.max_seq + 1,
      slot,
      max_bytes: opts.max_bytes,
      segment_target,
      sync_interval: opts.sync_interval,
      active: None,
      tracker: Tracker::default(),
      unread: VecDeque::new(),
      reader: None,
      frame: Vec::new(),
      last_sync: Instant::now(),
      data_dirty: false,
      ledger_dirty: false,
      doomed: Vec::new(),
      stats: SpoolStats::default(),
      closed: false,
    };
    let mut found = Leftovers::default();
    spool.take_leftovers(own, &mut found);
    if spool.auto {
      let more = spool.adopt_orphans();
      found.files += more.files;
      found.bytes += more.bytes;
      found.adopted = more.adopted;
      found.adopt_errors = more.adopt_errors;
    }
    Ok((spool, found))
  }

  /// Adopts the leftovers of auto slots whose process has died since (or before) this spool
  /// opened; they are replayed after what is already queued. Call it now and then (a dead
  /// cluster worker that is not restarted leaves its slot to the live ones).
  pub fn adopt_orphans(&mut self) -> Leftovers {
    let mut found = Leftovers::default();
    if !self.auto {
      return found;
    }
    let orphans = match lock::orphans(&self.root, &self.slot.dir) {
      Ok(o) => o,
      Err(e) => {
        found.adopt_errors.push(e);
        return found;
      }
    };
    for orphan in orphans {
      let (contents, error) = leftover::adopt(&orphan, &self.slot.dir, &mut self.next_seq);
      if !contents.segments.is_empty() {
        found.adopted.push(orphan.dir.clone());
        self.stats.adopted_slots += 1;
      }
      self.take_leftovers(contents, &mut found);
      found.adopt_errors.extend(error);
    }
    found
  }

  fn take_leftovers(&mut self, contents: SlotContents, found: &mut Leftovers) {
    self.stats.ledger_damaged += contents.ledger_damaged as u64;
    for Found { name, path, bytes } in contents.segments {
      self.tracker.add(name.seq, path, bytes, name.start);
      self.unread.push_back(name.seq);
      found.files += 1;
      found.bytes += bytes;
    }
    for (seq, off) in contents.skip {
      if self.tracker.get(seq).is_some() {
        self.tracker.add_skip(seq, off);
        // Adopted settles live only in our ledger from now on.
        self.ledger_dirty = true;
      }
    }
  }

  /// Stores a batch; it is in the OS when this returns (a crash of the process cannot lose it)
  /// and on the device after the next sync. Never panics: a full spool, an oversized or malformed
  /// batch and a failing disk are errors, and the spool stays usable.
  pub fn append(&mut self, batch: BatchRef<'_>) -> Result<SpoolId, SpoolError> {
    self.encode(batch)?;
    let frame_len = self.frame.len() as u64;
    if frame_len + FILE_HEADER_LEN > self.max_bytes {
      return Err(SpoolError::TooLarge {
        bytes: frame_len,
        max: self.max_bytes - FILE_HEADER_LEN,
      });
    }
    if self
      .active
      .as_ref()
      .is_some_and(|a| a.broken || (a.len > FILE_HEADER_LEN && a.len + frame_len > self.segment_target))
    {
      self.seal()?;
    }
    let new_segment = if self.active.is_none() { FILE_HEADER_LEN } else { 0 };
    if self.used() + new_segment + frame_len > self.max_bytes {
      self.reclaim_active()?;
      let new_segment = if self.active.is_none() { FILE_HEADER_LEN } else { 0 };
      let needed = new_segment + frame_len;
      if self.used() + needed > self.max_bytes {
        return Err(SpoolError::Full {
          needed,
          used: self.used(),
          max: self.max_bytes,
        });
      }
    }
    if self.active.is_none() {
      self.start_segment()?;
    }
    let active = self.active.as_mut().expect("started above");
    let offset = active
      .append(&self.frame)
      .map_err(|e| SpoolError::io("append to", &active.path, e))?;
    let (seq, end) = (active.seq, active.len);
    self.tracker.push(seq, offset, batch.records() as u32, end);
    if let Some(seg) = self.tracker.get_mut(seq) {
      seg.bytes = end;
    }
    self.data_dirty = true;
    if self.sync_interval.is_some_and(|d| self.last_sync.elapsed() >= d) {
      if let Err(e) = self.sync() {
        // The caller keeps the batch as not stored; the bytes may still be on disk, and a later
        // process would then send them again (at least once, never lost).
        self.tracker.settle(seq, offset);
        return Err(e);
      }
    }
    self.stats.appended += 1;
    Ok(SpoolId {
      seq,
      offset,
      len: (frame_len - FRAME_HEADER_LEN as u64) as u32,
    })
  }

  /// Builds the frame in `self.frame`: header placeholder, payload, then length and CRC.
  fn encode(&mut self, batch: BatchRef<'_>) -> Result<(), SpoolError> {
    self.frame.clear();
    if batch.payload_len() > MAX_PAYLOAD {
      return Err(SpoolError::TooLarge {
        bytes: batch.payload_len() as u64,
        max: MAX_PAYLOAD as u64,
      });
    }
    self.frame.extend_from_slice(&FRAME_MARKER);
    self.frame.extend_from_slice(&[0; 8]);
    batch
      .encode(&mut self.frame)
      .map_err(|m| SpoolError::Invalid(m.as_str()))?;
    let payload = &self.frame[FRAME_HEADER_LEN..];
    let len = (payload.len() as u32).to_le_bytes();
    let crc = format::frame_crc(payload).to_le_bytes();
    self.frame[4..8].copy_from_slice(&len);
    self.frame[8..12].copy_from_slice(&crc);
    if self.frame.capacity() > 4 * self.frame.len().max(1 << 20) {
      // One huge batch does not keep its buffer alive.
      self.frame.shrink_to(1 << 20);
    }
    Ok(())
  }

  fn used(&self) -> u64 {
    self.tracker.totals().1
  }

  fn start_segment(&mut self) -> Result<(), SpoolError> {
    let seq = self.next_seq;
    let seg = ActiveSegment::create(&self.slot.dir, seq)
      .map_err(|e| SpoolError::io("create segment in", &self.slot.dir, e))?;
    self.next_seq += 1;
    if self.sync_interval.is_some() {
      sync_dir(&self.slot.dir).map_err(|e| SpoolError::io("sync", &self.slot.dir, e))?;
    }
    self.tracker.add(seq, seg.path.clone(), seg.len, seg.len);
    self.active = Some(seg);
    Ok(())
  }

  /// Closes the active segment for writing (synced when a sync policy is set); deletes it at once
  /// if everything in it is settled.
  fn seal(&mut self) -> Result<(), SpoolError> {
    let Some(active) = self.active.take() else {
      return Ok(());
    };
    if self.sync_interval.is_some() && self.data_dirty {
      active
        .sync()
        .map_err(|e| SpoolError::io("sync", &active.path, e))?;
      self.stats.syncs += 1;
      self.data_dirty = false;
    }
    let seq = active.seq;
    drop(active);
    let done = match self.tracker.get_mut(seq) {
      Some(seg) => {
        seg.complete = true;
        seg.done()
      }
      None => false,
    };
    if done {
      self.delete_segment(seq);
    }
    Ok(())
  }

  /// At the cap, an active segment whose batches are all settled is dropped so its space counts
  /// again (otherwise a spool smaller than one segment would never free anything).
  fn reclaim_active(&mut self) -> Result<(), SpoolError> {
    let idle = self
      .active
      .as_ref()
      .is_some_and(|a| self.tracker.get(a.seq).is_some_and(|s| s.pending == 0) && a.len > FILE_HEADER_LEN);
    if idle {
      self.seal()?;
    }
    Ok(())
  }

  fn delete_segment(&mut self, seq: u64) {
    if let Some(seg) = self.tracker.remove(seq) {
      if remove_file(&seg.path).is_err() {
        self.doomed.push(seg.path);
      }
      self.ledger_dirty = true;
    }
  }

  /// Marks a batch as no longer needed on disk (delivered, or given up on and reported). Returns
  /// its record count if it was pending (`None`: already settled, or its file was lost). Frees its
  /// segment file once every batch in it is settled.
  pub fn settle(&mut self, id: SpoolId) -> Option<u32> {
    let s = self.tracker.settle(id.seq, id.offset)?;
    self.stats.settled += 1;
    self.ledger_dirty = true;
    if s.segment_done {
      self.delete_segment(id.seq);
    }
    Some(s.records)
  }

  /// Reads a stored batch back (for a batch the writer let go of in memory).
  pub fn read(&self, id: &SpoolId) -> Result<Batch, SpoolError> {
    let corrupt = |why| SpoolError::Corrupt {
      file: self.path_of(id.seq),
      offset: id.offset,
      why,
    };
    let payload = match self.active.as_ref().filter(|a| a.seq == id.seq) {
      Some(a) => replay::read_frame_at(a.file(), id.offset, id.len as usize),
      None => {
        let path = self.path_of(id.seq);
        let file = File::open(&path).map_err(|e| SpoolError::io("open segment", &path, e))?;
        replay::read_frame_at(&file, id.offset, id.len as usize)
      }
    }
    .map_err(|e| SpoolError::io("read segment", self.path_of(id.seq), e))?
    .map_err(corrupt)?;
    batch::decode(&payload).map_err(|m| corrupt(m.as_str()))
  }

  fn path_of(&self, seq: u64) -> PathBuf {
    self.tracker.get(seq).map_or_else(
      || self.slot.dir.join(segment::SegmentName::new(seq).file_name()),
      |s| s.path.clone(),
    )
  }

  /// The next leftover batch or damaged stretch, oldest first; `None` when replay is done.
  pub fn replay_next(&mut self) -> Option<Replayed> {
    loop {
      let (seq, reader) = match self.reader.as_mut() {
        Some((seq, r)) => (*seq, r),
        None => {
          let seq = self.unread.pop_front()?;
          let Some(seg) = self.tracker.get(seq) else {
            continue;
          };
          match SegmentReader::open(&seg.path, seg.cursor) {
            Ok(r) => self.reader = Some((seq, r)),
            Err(e) => return Some(Replayed::Damaged(self.lose_segment(seq, e))),
          }
          continue;
        }
      };
      let item = reader.next_item();
      let pos = reader.pos();
      match item {
        Ok(Some(Item::Frame { offset, payload })) => {
          if self.tracker.take_skip(seq, offset) {
            self.tracker.push_settled(seq, offset, pos);
            self.ledger_dirty = true;
            continue;
          }
          match batch::decode(&payload) {
            Ok(b) => {
              self.tracker.push(seq, offset, b.records() as u32, pos);
              self.stats.replayed += 1;
              self.stats.replayed_records += b.records() as u64;
              let id = SpoolId {
                seq,
                offset,
                len: payload.len() as u32,
              };
              return Some(Replayed::Batch(id, b));
            }
            Err(_) => {
              self.set_cursor(seq, pos);
              let file = self.path_of(seq);
              return Some(Replayed::Damaged(self.damaged(Damage {
                file,
                offset,
                bytes: pos - offset,
                kind: DamageKind::Malformed,
              })));
            }
          }
        }
        Ok(Some(Item::Damage(d))) => {
          self.set_cursor(seq, pos);
          return Some(Replayed::Damaged(self.damaged(d)));
        }
        Ok(None) => self.finish_reading(seq),
        Err(_) => {
          // An unreadable stretch: give up on the rest of this file, keep the batches read so far.
          let end = self.tracker.get(seq).map_or(pos, |s| s.bytes.max(pos));
          self.finish_reading(seq);
          let file = self.path_of(seq);
          return Some(Replayed::Damaged(self.damaged(Damage {
            file,
            offset: pos,
            bytes: end - pos,
            kind: DamageKind::Unreadable,
          })));
        }
      }
    }
  }

  fn set_cursor(&mut self, seq: u64, pos: u64) {
    if let Some(seg) = self.tracker.get_mut(seq) {
      seg.cursor = pos;
    }
    self.ledger_dirty = true;
  }

  fn finish_reading(&mut self, seq: u64) {
    self.reader = None;
    let done = self.tracker.get_mut(seq).is_some_and(|seg| {
      seg.complete = true;
      seg.done()
    });
    if done {
      self.delete_segment(seq);
    }
  }

  fn damaged(&mut self, d: Damage) -> Damage {
    self.stats.corrupted += 1;
    self.stats.corrupted_bytes += d.bytes;
    d
  }

  /// A leftover file that cannot be opened (removed under us): counted as damage, forgotten.
  fn lose_segment(&mut self, seq: u64, e: io::Error) -> Damage {
    let kind = if e.kind() == io::ErrorKind::NotFound {
      DamageKind::Missing
    } else {
      DamageKind::Unreadable
    };
    self.ledger_dirty = true;
    let (file, offset, bytes) = match self.tracker.remove(seq) {
      Some(seg) => (seg.path, seg.cursor, seg.bytes.saturating_sub(seg.cursor)),
      None => (self.path_of(seq), FILE_HEADER_LEN, 0),
    };
    self.damaged(Damage {
      file,
      offset,
      bytes,
      kind,
    })
  }

  /// When the next sync is due (`None`: nothing to sync, or no sync policy). The writer arms a
  /// timer on it and calls [`Spool::sync_if_due`].
  pub fn next_sync_at(&self) -> Option<Instant> {
    let d = self.sync_interval?;
    (self.data_dirty || self.ledger_dirty).then(|| self.last_sync + d)
  }

  pub fn sync_if_due(&mut self, now: Instant) -> Result<(), SpoolError> {
    match self.next_sync_at() {
      Some(at) if at <= now => self.sync(),
      _ => Ok(()),
    }
  }

  /// Syncs the active segment and writes the ledger now. Also notices an active segment removed
  /// by someone else ([`SpoolError::Vanished`]; the spool moves on to a new segment).
  pub fn sync(&mut self) -> Result<(), SpoolError> {
    self.last_sync = Instant::now();
    self.retry_doomed();
    if let Some(a) = self.active.as_ref() {
      if !a.path.exists() {
        let (path, seq) = (a.path.clone(), a.seq);
        self.active = None;
        let batches = self.tracker.remove(seq).map_or(0, |s| s.pending);
        self.ledger_dirty = true;
        self.write_ledger()?;
        return Err(SpoolError::Vanished { file: path, batches });
      }
      if self.data_dirty && self.sync_interval.is_some() {
        a.sync().map_err(|e| SpoolError::io("sync", &a.path, e))?;
        self.stats.syncs += 1;
      }
    }
    self.data_dirty = false;
    self.write_ledger()
  }

  fn write_ledger(&mut self) -> Result<(), SpoolError> {
    if !self.ledger_dirty {
      return Ok(());
    }
    let l = ledger::Ledger {
      below: self.tracker.below(self.next_seq),
      starts: self.tracker.starts(),
      settled: self.tracker.settled_beyond(),
    };
    ledger::write(&self.slot.dir, &l, self.sync_interval.is_some())
      .map_err(|e| SpoolError::io("write ledger in", &self.slot.dir, e))?;
    self.ledger_dirty = false;
    Ok(())
  }

  fn retry_doomed(&mut self) {
    self.doomed.retain(|p| remove_file(p).is_err());
  }

  /// Seals the active segment, syncs and writes the ledger. What is unsettled stays for the
  /// next process that opens this slot (or adopts it). Dropping a spool does the same, ignoring
  /// errors.
  pub fn close(mut self) -> Result<(), SpoolError> {
    self.shutdown()
  }

  fn shutdown(&mut self) -> Result<(), SpoolError> {
    if self.closed {
      return Ok(());
    }
    self.closed = true;
    self.reader = None;
    let sealed = self.seal();
    self.retry_doomed();
    let ledger = self.write_ledger();
    sealed.and(ledger)
  }

  pub fn stats(&self) -> SpoolStats {
    let (files, bytes, batches, records) = self.tracker.totals();
    SpoolStats {
      files,
      bytes,
      batches,
      records,
      unread_files: self.unread.len() as u64 + self.reader.is_some() as u64,
      ..self.stats
    }
  }

  /// The slot directory this spool holds.
  pub fn slot_dir(&self) -> &Path {
    &self.slot.dir
  }
}

// The writer integration moves the spool into the writer thread.
const _: fn() = || {
  fn send<T: Send>() {}
  send::<Spool>();
};

impl Drop for Spool {
  fn drop(&mut self) {
    let _ = self.shutdown();
  }
}
