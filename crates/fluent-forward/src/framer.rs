//! Request encoding for the writer: one batch into Message, Forward or (Compressed)PackedForward
//! requests, in buffers reused from batch to batch.

use crate::codec::ack::ChunkId;
use crate::codec::gzip::GzipWriter;
use crate::codec::zstd::ZstdWriter;
use crate::codec::{forward, message, packed_forward, RequestOptions};
use crate::config::{Compression, Config, Mode};
use crate::queue::Chunk;

/// Request encoding and its reusable buffers.
pub struct Framer {
  pub wbuf: Vec<u8>,
  zbuf: Vec<u8>,
  compressor: Option<Compressor>,
}

/// The compression context of the configured algorithm, reused from batch to batch.
enum Compressor {
  Gzip(GzipWriter),
  Zstd(ZstdWriter),
}

impl Compressor {
  fn compress_into(&mut self, input: &[u8], out: &mut Vec<u8>) -> &'static str {
    match self {
      Compressor::Gzip(gz) => {
        gz.compress_into(input, out);
        "gzip"
      }
      Compressor::Zstd(z) => {
        z.compress_into(input, out);
        "zstd"
      }
    }
  }
}

impl Framer {
  /// Encodes one batch as requests into `wbuf`, returning the ack ids it asked for.
  pub fn frame(&mut self, cfg: &Config, chunk: &Chunk) -> Vec<ChunkId> {
    self.wbuf.clear();
    self.append(cfg, chunk)
  }

  /// Encodes one more batch after what `wbuf` holds (several batches can go out in one write).
  pub fn append(&mut self, cfg: &Config, chunk: &Chunk) -> Vec<ChunkId> {
    let tag: &str = &chunk.tag;
    let n = chunk.records();
    let mut ids = Vec::new();
    let new_id = |ids: &mut Vec<ChunkId>| {
      cfg.require_ack.then(|| {
        ids.push(ChunkId::random());
        *ids.last().expect("just pushed")
      })
    };
    match cfg.mode {
      Mode::Message => {
        for i in 0..n {
          let id = new_id(&mut ids);
          message::write_request(
            &mut self.wbuf,
            tag,
            chunk.entry(i),
            id.as_ref().map(|c| c.as_str()),
          );
        }
      }
      Mode::Forward => {
        let id = new_id(&mut ids);
        let opts = RequestOptions {
          size: Some(n),
          chunk: id.as_ref().map(|c| c.as_str()),
          compressed: None,
        };
        forward::write_request(&mut self.wbuf, tag, &chunk.entries, n, &opts);
      }
      Mode::PackedForward => {
        let id = new_id(&mut ids);
        let chunk_id = id.as_ref().map(|c| c.as_str());
        match self.compressor.as_mut() {
          Some(c) => {
            self.zbuf.clear();
            let algorithm = c.compress_into(&chunk.entries, &mut self.zbuf);
            let opts = RequestOptions {
              size: Some(n),
              chunk: chunk_id,
              compressed: Some(algorithm),
            };
            packed_forward::write_request(&mut self.wbuf, tag, &self.zbuf, &opts);
          }
          None => {
            let opts = RequestOptions {
              size: Some(n),
              chunk: chunk_id,
              compressed: None,
            };
            packed_forward::write_request(&mut self.wbuf, tag, &chunk.entries, &opts);
          }
        }
      }
    }
    ids
  }

  /// Large buffers (one huge record) are not kept around.
  pub fn trim(&mut self, batch_bytes: usize) {
    let keep = 2 * batch_bytes + 1024;
    if self.wbuf.capacity() > keep {
      self.wbuf = Vec::new();
    }
    if self.zbuf.capacity() > keep {
      self.zbuf = Vec::new();
    }
  }
}

impl Framer {
  pub fn new(compression: Option<Compression>) -> Self {
    Self {
      wbuf: Vec::new(),
      zbuf: Vec::new(),
      compressor: compression.map(|c| match c {
        Compression::Gzip(level) => Compressor::Gzip(GzipWriter::new(level)),
        Compression::Zstd(level) => Compressor::Zstd(ZstdWriter::new(level)),
      }),
    }
  }
}
