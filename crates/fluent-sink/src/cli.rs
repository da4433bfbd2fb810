//! Command-line parsing.

use std::path::PathBuf;

use crate::limits::{inflated_limit_for, Limits, MAX_LIMIT_BYTES};
use crate::server::Endpoint;

pub const USAGE: &str =
  "usage: fluent-sink [--host 127.0.0.1] [--port 0] [--unix PATH] [--print] [--threads N]
                   [--tls-cert PEM --tls-key PEM] [--max-request-bytes N]

Receives the Fluentd Forward protocol and decodes every event.
With --tls-cert/--tls-key, connections are TLS (1.2 or 1.3), decoded the same way.
--max-request-bytes: a longer request closes its connection (default 6144000, Fluent Bit's
buffer_max_size; 1024..1073741824); a gzip or zstd request may inflate to 4x it (at most 1073741824).
Prints `LISTENING <port>` (or `LISTENING unix:<path>`) once ready.
stdin commands: stats | reset | wait <N> <timeoutMs> | quit   (stdin EOF also exits)";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
  pub endpoint: Endpoint,
  pub print: bool,
  pub threads: usize,
  /// PEM certificate chain and private key: the listener speaks TLS.
  pub tls: Option<(PathBuf, PathBuf)>,
  pub limits: Limits,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
  Run(Config),
  Help,
}

pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Parsed, String> {
  let mut host = String::from("127.0.0.1");
  let mut port: u16 = 0;
  let mut unix: Option<PathBuf> = None;
  let mut print = false;
  let mut threads: usize = 1;
  let mut tls_cert: Option<PathBuf> = None;
  let mut tls_key: Option<PathBuf> = None;
  let mut limits = Limits::default();
  let mut args = args.into_iter();
  while let Some(arg) = args.next() {
    // Both `--port 5` and `--port=5`.
    let (flag, inline) = match arg.split_once('=') {
      Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
      _ => (arg.clone(), None),
    };
    let mut val = |name: &str| -> Result<String, String> {
      inline
        .clone()
        .or_else(|| args.next())
        .ok_or_else(|| format!("{name} needs a value"))
    };
    match flag.as_str() {
      "--host" => host = val("--host")?,
      "--port" => {
        port = val("--port")?
          .parse()
          .map_err(|_| "--port must be 0..65535".to_string())?
      }
      "--unix" => unix = Some(PathBuf::from(val("--unix")?)),
      "--threads" => {
        threads = val("--threads")?
          .parse()
          .map_err(|_| "--threads must be a positive integer".to_string())?;
        if threads == 0 {
          return Err("--threads must be a positive integer".into());
        }
      }
      "--tls-cert" => tls_cert = Some(PathBuf::from(val("--tls-cert")?)),
      "--tls-key" => tls_key = Some(PathBuf::from(val("--tls-key")?)),
      "--max-request-bytes" => {
        let range = || format!("--max-request-bytes must be in 1024..{MAX_LIMIT_BYTES}");
        let n: usize = val("--max-request-bytes")?.parse().map_err(|_| range())?;
        if !(1024..=MAX_LIMIT_BYTES).contains(&n) {
          return Err(range());
        }
        // Scaled as the defaults are, so a larger request may still inflate as much as before.
        limits.max_request_bytes = n;
        limits.max_inflated_bytes = inflated_limit_for(n);
      }
      "--print" if inline.is_none() => print = true,
      "-h" | "--help" => return Ok(Parsed::Help),
      _ => return Err(format!("unknown argument: {arg}")),
    }
  }
  let tls = match (tls_cert, tls_key) {
    (Some(c), Some(k)) => Some((c, k)),
    (None, None) => None,
    _ => return Err("--tls-cert and --tls-key go together".into()),
  };
  let endpoint = match unix {
    Some(path) => Endpoint::Unix(path),
    None => Endpoint::Tcp { host, port },
  };
  Ok(Parsed::Run(Config {
    endpoint,
    print,
    threads,
    tls,
    limits,
  }))
}

#[cfg(test)]
mod tests {
  use super::*;

  fn p(args: &[&str]) -> Result<Parsed, String> {
    parse(args.iter().map(|s| s.to_string()))
  }

  #[test]
  fn defaults_and_flags() {
    assert_eq!(
      p(&[]),
      Ok(Parsed::Run(Config {
        endpoint: Endpoint::Tcp {
          host: "127.0.0.1".into(),
          port: 0
        },
        print: false,
        threads: 1,
        tls: None,
        limits: Limits::default()
      }))
    );
    assert_eq!(
      p(&["--host", "0.0.0.0", "--port=24224", "--print", "--threads", "2"]),
      Ok(Parsed::Run(Config {
        endpoint: Endpoint::Tcp {
          host: "0.0.0.0".into(),
          port: 24224
        },
        print: true,
        threads: 2,
        tls: None,
        limits: Limits::default()
      }))
    );
    assert_eq!(
      p(&["--unix", "/tmp/s.sock"]),
      Ok(Parsed::Run(Config {
        endpoint: Endpoint::Unix("/tmp/s.sock".into()),
        print: false,
        threads: 1,
        tls: None,
        limits: Limits::default()
      }))
    );
    assert_eq!(
      p(&["--tls-cert", "c.pem", "--tls-key=k.pem"]),
      Ok(Parsed::Run(Config {
        endpoint: Endpoint::Tcp {
          host: "127.0.0.1".into(),
          port: 0
        },
        print: false,
        threads: 1,
        tls: Some(("c.pem".into(), "k.pem".into())),
        limits: Limits::default()
      }))
    );
    assert_eq!(p(&["--help"]), Ok(Parsed::Help));
  }

  fn limits_of(args: &[&str]) -> Limits {
    match p(args) {
      Ok(Parsed::Run(c)) => c.limits,
      other => panic!("{args:?}: {other:?}"),
    }
  }

  #[test]
  fn max_request_bytes() {
    // Left alone, Fluent Bit's default and 4x it for inflating.
    assert_eq!(limits_of(&[]).max_request_bytes, 6_144_000);
    assert_eq!(limits_of(&[]).max_inflated_bytes, 24_576_000);
    assert_eq!(
      limits_of(&["--max-request-bytes", "67108864"]),
      Limits {
        max_request_bytes: 64 << 20,
        max_inflated_bytes: 256 << 20,
        ..Limits::default()
      }
    );
    let l = limits_of(&["--max-request-bytes=1024"]);
    assert_eq!((l.max_request_bytes, l.max_inflated_bytes), (1024, 4096));
    // At the top, the inflate limit is capped at the same bound rather than 4 GiB.
    let l = limits_of(&["--max-request-bytes", "1073741824"]);
    assert_eq!((l.max_request_bytes, l.max_inflated_bytes), (1 << 30, 1 << 30));
    let l = limits_of(&["--max-request-bytes", "300000000"]);
    assert_eq!(
      (l.max_request_bytes, l.max_inflated_bytes),
      (300_000_000, 1 << 30)
    );
  }

  #[test]
  fn errors() {
    assert!(p(&["--port"]).is_err());
    assert!(p(&["--port", "70000"]).is_err());
    assert!(p(&["--threads", "0"]).is_err());
    assert!(p(&["--print=yes"]).is_err());
    assert!(p(&["extra"]).is_err());
    assert!(p(&["--tls-cert", "c.pem"]).is_err());
    assert!(p(&["--tls-key", "k.pem"]).is_err());
    assert!(p(&["--max-request-bytes"]).is_err());
    assert!(p(&["--max-request-bytes", "1023"]).is_err());
    assert!(p(&["--max-request-bytes", "1073741825"]).is_err());
    assert!(p(&["--max-request-bytes", "-1"]).is_err());
    assert!(p(&["--max-request-bytes", "64MiB"]).is_err());
  }
}
