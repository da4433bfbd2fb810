//! The unit the spool stores: one sealed batch as the writer holds it (`queue::Chunk`): a tag, the
//! concatenated msgpack `[time, record]` entries and the start offset of each entry.
//!
//! Payload layout (little-endian): `records u32 | tag_len u16 | tag | offsets u32 × records |
//! entries`. The offsets are kept (4 bytes a record) so Message mode can send entries one by one
//! after a replay without parsing msgpack again.

/// A batch to append, borrowed from the writer's chunk so appending copies it only once, into the
/// frame buffer.
#[derive(Debug, Clone, Copy)]
pub struct BatchRef<'a> {
  pub tag: &'a str,
  pub entries: &'a [u8],
  pub offsets: &'a [u32],
}

/// The writer's sealed batch, as the spool stores it (`tag_id` and `since` are the writer's own
/// bookkeeping: it resolves the tag again and a replayed batch is due at once).
impl<'a> From<&'a crate::queue::Chunk> for BatchRef<'a> {
  fn from(c: &'a crate::queue::Chunk) -> Self {
    BatchRef {
      tag: &c.tag,
      entries: &c.entries,
      offsets: &c.offsets,
    }
  }
}

/// A batch read back from disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
  pub tag: String,
  pub entries: Vec<u8>,
  pub offsets: Vec<u32>,
}

impl Batch {
  pub fn records(&self) -> usize {
    self.offsets.len()
  }

  pub fn as_ref(&self) -> BatchRef<'_> {
    BatchRef {
      tag: &self.tag,
      entries: &self.entries,
      offsets: &self.offsets,
    }
  }
}

/// Why a batch cannot be stored or a payload is not a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
  TagTooLong,
  TooManyRecords,
  BadOffsets,
  Truncated,
}

impl Malformed {
  pub fn as_str(self) -> &'static str {
    match self {
      Malformed::TagTooLong => "tag longer than 65535 bytes",
      Malformed::TooManyRecords => "more records than a u32 counts",
      Malformed::BadOffsets => "entry offsets out of order or out of range",
      Malformed::Truncated => "payload shorter than its batch header says",
    }
  }
}

impl BatchRef<'_> {
  pub fn records(&self) -> usize {
    self.offsets.len()
  }

  pub fn payload_len(&self) -> usize {
    4 + 2 + self.tag.len() + 4 * self.offsets.len() + self.entries.len()
  }

  /// Appends the payload to `out`. Checks what the reader will check, so nothing the spool
  /// accepts reads back as damage.
  pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), Malformed> {
    let tag_len = u16::try_from(self.tag.len()).map_err(|_| Malformed::TagTooLong)?;
    let records = u32::try_from(self.offsets.len()).map_err(|_| Malformed::TooManyRecords)?;
    if !offsets_valid(self.offsets, self.entries.len()) {
      return Err(Malformed::BadOffsets);
    }
    out.reserve(self.payload_len());
    out.extend_from_slice(&records.to_le_bytes());
    out.extend_from_slice(&tag_len.to_le_bytes());
    out.extend_from_slice(self.tag.as_bytes());
    for o in self.offsets {
      out.extend_from_slice(&o.to_le_bytes());
    }
    out.extend_from_slice(self.entries);
    Ok(())
  }
}

/// Offsets start at 0, strictly increase (an entry is never empty) and stay inside `entries`;
/// no offsets means no entries.
fn offsets_valid(offsets: &[u32], entries: usize) -> bool {
  match offsets.first() {
    None => entries == 0,
    Some(&first) => {
      first == 0
        && offsets.windows(2).all(|w| w[0] < w[1])
        && (*offsets.last().expect("non-empty") as usize) < entries
    }
  }
}

pub fn decode(payload: &[u8]) -> Result<Batch, Malformed> {
  let take = |at: usize, n: usize| payload.get(at..at + n).ok_or(Malformed::Truncated);
  let records = u32::from_le_bytes(take(0, 4)?.try_into().expect("4 bytes")) as usize;
  let tag_len = u16::from_le_bytes(take(4, 2)?.try_into().expect("2 bytes")) as usize;
  let tag = std::str::from_utf8(take(6, tag_len)?).map_err(|_| Malformed::Truncated)?;
  let at = 6 + tag_len;
  let index_len = records.checked_mul(4).ok_or(Malformed::Truncated)?;
  let index = take(at, index_len)?;
  let offsets: Vec<u32> = index
    .chunks_exact(4)
    .map(|c| u32::from_le_bytes(c.try_into().expect("4 bytes")))
    .collect();
  let entries = &payload[at + index_len..];
  if !offsets_valid(&offsets, entries.len()) {
    return Err(Malformed::BadOffsets);
  }
  Ok(Batch {
    tag: tag.to_owned(),
    entries: entries.to_vec(),
    offsets,
  })
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn a_batch_round_trips() {
    let b = BatchRef {
      tag: "app.web",
      entries: &[0x92, 1, 0x80, 0x92, 2, 0x80],
      offsets: &[0, 3],
    };
    let mut out = Vec::new();
    b.encode(&mut out).unwrap();
    assert_eq!(out.len(), b.payload_len());
    let back = decode(&out).unwrap();
    assert_eq!(back.as_ref().tag, "app.web");
    assert_eq!(back.offsets, vec![0, 3]);
    assert_eq!(back.entries, b.entries);
  }

  #[test]
  fn a_writer_chunk_is_stored_as_is() {
    let chunk = crate::queue::Chunk {
      tag: std::sync::Arc::from("app"),
      tag_id: 3,
      entries: vec![0x92, 1, 0x80, 0x92, 2, 0x80],
      offsets: vec![0, 3],
      since: std::time::Instant::now(),
    };
    let mut out = Vec::new();
    BatchRef::from(&chunk).encode(&mut out).unwrap();
    let back = decode(&out).unwrap();
    assert_eq!(
      (&*back.tag, &back.entries, &back.offsets),
      (&*chunk.tag, &chunk.entries, &chunk.offsets)
    );
  }

  #[test]
  fn bad_offsets_are_refused_on_both_sides() {
    let b = BatchRef {
      tag: "t",
      entries: &[1, 2],
      offsets: &[0, 2],
    };
    assert_eq!(b.encode(&mut Vec::new()), Err(Malformed::BadOffsets));
    let mut out = Vec::new();
    BatchRef {
      tag: "t",
      entries: &[1, 2],
      offsets: &[0, 1],
    }
    .encode(&mut out)
    .unwrap();
    // The second offset (after records u32, tag_len u16, tag, first offset) now points past the entries.
    out[11] = 5;
    assert_eq!(decode(&out), Err(Malformed::BadOffsets));
    assert_eq!(decode(&out[..5]), Err(Malformed::Truncated));
  }
}
