//! The client and its writer thread against scripted fake servers on 127.0.0.1:0 (and a Unix socket).
//!
//! Helpers: `support` (the test records and what a server received). Tests: `modes` (every mode,
//! the Unix socket), `faults` (a misbehaving first connection), `stalled` (a server that stops
//! reading), `no_server` (nothing listening, overflow policies), `flush`, `producer` (input checks).

// The helpers every test binary shares (tests/common), from this binary's own directory.
#[path = "../common/mod.rs"]
mod common;

mod support;

mod faults;
mod flush;
mod modes;
mod no_server;
mod producer;
mod stalled;
