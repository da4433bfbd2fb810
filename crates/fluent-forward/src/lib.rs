//! fluent-forward: a Fluentd Forward protocol client core with no JS in it.
//!
//! Producers call [`Client::push`] with records already encoded as msgpack maps; a writer thread
//! with its own tokio runtime batches, frames, sends, acknowledges and reconnects.
#![deny(clippy::all)]

mod backoff;
pub mod breaker;
pub mod chunk;
pub mod client;
pub mod codec;
pub mod config;
pub mod discovery;
mod errno;
pub mod error;
pub mod event;
mod fleet;
mod framer;
mod heartbeat;
mod link;
pub mod lookup;
pub mod ndjson;
pub mod options;
mod prefetch;
mod probation;
pub mod queue;
mod retry;
mod shared;
pub mod spool;
mod spool_view;
pub mod staging;
pub mod stats;
mod tags;
mod transport;
mod undelivered;
pub mod vet;
mod writer;

pub use breaker::BreakerState;
pub use client::{Admission, Client, StagedPush};
pub use codec::event_time::{EventTime, TimeFormat};
pub use config::{
  Breaker, Compression, Config, Heartbeat, Mode, Overflow, Resolve, Secret, Security, Server, SpoolConfig,
  Target, TlsConfig, TlsVersion,
};
pub use error::Error;
pub use event::{Event, EventSink, Reason};
pub use lookup::Lookup;
pub use shared::{CloseReport, FlushOutcome};
pub use spool_view::SpoolView;
pub use stats::{ServerStats, Stats};
/// PING/PONG digests and HELO/PONG parsing (PROTOCOL.md section 6), public for tests and tools.
pub use transport::handshake;
pub use undelivered::Kept;
