//! fluent-sink: a fast Forward-protocol receiver that decodes and validates every event.
//!
//! It is the default receiver of the demo and the sink of the benchmarks, so the decode path is a
//! hand-written msgpack walker that allocates nothing per event in counting mode.
#![deny(clippy::all)]

pub mod ack;
pub mod auth;
pub mod cli;
pub mod conn;
pub mod control;
pub mod decode;
pub mod embed;
pub mod event;
pub mod frame;
pub mod inflate;
pub mod json;
pub mod limits;
pub mod memory;
pub mod output;
pub mod print;
pub mod relay;
pub mod request;
pub mod server;
pub mod stats;
pub mod tls;
pub mod unix;
