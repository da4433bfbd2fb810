//! A durable on-disk spool of sealed batches: the storage engine for issue 27.
//!
//! The writer uses it through the `spool` option (`writer/spool/`). See `README.md` beside this
//! file for the design and the on-disk format.
//!
//! One [`Spool`] is owned by one thread (the writer's); it appends batches, reads them back by
//! id, replays what earlier processes left, and deletes whole segment files once every batch in
//! them is settled.

mod batch;
pub(crate) mod error;
mod format;
mod ledger;
mod leftover;
mod lock;
mod reader;
mod replay;
mod segment;
mod stats;
mod sync;
mod tracker;
mod write;

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use batch::{Batch, BatchRef};
pub use error::SpoolError;
pub use lock::Slot;
pub use reader::{Damage, DamageKind};
pub use stats::SpoolStats;

use format::{FILE_HEADER_LEN, FRAME_HEADER_LEN};
use leftover::{remove_file, Found, SlotContents};
use lock::SlotLock;
use reader::SegmentReader;
use segment::ActiveSegment;
use tracker::Tracker;

/// How a spool is opened.
#[derive(Debug, Clone)]
pub struct SpoolOptions {
  /// The spool directory, created if missing. Slots are subdirectories of it.
  pub dir: PathBuf,
  /// Cap on this spool's segment bytes (own and adopted). Appends past it fail with `Full`.
  pub max_bytes: u64,
  /// `None`: never fsync (written data survives a crash of the process, not of the machine).
  /// `Some(d)`: fsync at most every `d` (`Duration::ZERO`: after every append), sealed segments
  /// included (at the next tick, not at the rotation), and everything when the spool closes.
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
  last_ledger: Instant,
  data_dirty: bool,
  /// Segments sealed since the last sync whose data is not synced yet (see `seal`), and whether a
  /// new segment file's directory entry is: both wait for the next sync tick, like the active
  /// segment's data, instead of costing an fsync at each rotation.
  sealed_unsynced: Vec<ActiveSegment>,
  dir_dirty: bool,
  ledger_dirty: bool,
  /// Lengths the ledger recorded for leftovers replay has not opened yet.
  recorded: HashMap<u64, u64>,
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
      last_ledger: Instant::now(),
      data_dirty: false,
      sealed_unsynced: Vec::new(),
      dir_dirty: false,
      ledger_dirty: false,
      recorded: HashMap::new(),
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
    for Found {
      name,
      path,
      bytes,
      recorded,
    } in contents.segments
    {
      if let Some(r) = recorded {
        self.recorded.insert(name.seq, r);
      }
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
      Some(a) => reader::read_frame_at(a.file(), id.offset, id.len as usize),
      None => {
        let path = self.path_of(id.seq);
        let file = File::open(&path).map_err(|e| SpoolError::io("open segment", &path, e))?;
        reader::read_frame_at(&file, id.offset, id.len as usize)
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
    let sealed = self.seal().and(self.sync_sealed());
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
