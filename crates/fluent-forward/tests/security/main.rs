//! Secure transport: the forward handshake (PROTOCOL.md section 6) against a scripted server, TLS
//! with rcgen certificates against a rustls server, the typed errors, the circuit breaker, and that
//! no secret is ever formatted. Every server runs on 127.0.0.1:0 and every wait is bounded.
//!
//! Helpers: `server` (the scripted forward server), `pki` (certificates, rustls server configs),
//! `client` (the client side). Tests: `vectors`, `handshake`, `tls`, `breaker`, `secrets`.

// The helpers every test binary shares (tests/common), from this binary's own directory.
#[path = "../common/mod.rs"]
mod common;

mod client;
mod pki;
mod server;

mod breaker;
mod handshake;
mod secrets;
mod tls;
mod vectors;
