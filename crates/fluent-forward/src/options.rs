//! Every user-facing option with its type, range and default: the one source of truth. The JS side
//! reads this table through the binding to check option bags (unknown keys, types, ranges) and never
//! retypes a default or a bound; `Config::validate` checks the same table again on the Rust side.

use crate::codec::zstd::LEVELS as ZSTD_LEVELS;
use crate::config::{
  Compression, Config, Heartbeat, Mode, Overflow, Resolve, Server, Target, TlsConfig, TlsVersion,
};
use crate::error::Error;
use std::time::Duration;

/// One day, the upper bound of every timeout and interval.
pub const MAX_MS: u64 = 24 * 3600 * 1000;
/// 64 MiB: the largest batch and the largest record.
pub const MAX_BATCH_OR_RECORD: u64 = 64 << 20;
/// 1 TiB: a cap beyond any machine's memory, so that a typo'd huge value is still caught.
pub const MAX_BUFFER: u64 = 1 << 40;

#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
  /// `min` is signed for the one option with a sentinel below zero (`spool.syncIntervalMs: -1`).
  Integer {
    min: i64,
    max: u64,
  },
  Boolean,
  /// A non-empty string.
  Text,
  /// A non-empty string that is never echoed back (in an error, a log line, anywhere).
  Secret,
  /// PEM text (a string or bytes); `secret` for a private key, never echoed.
  Pem {
    secret: bool,
  },
  /// One of these strings.
  OneOf(&'static [&'static str]),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Default {
  None,
  Integer(u64),
  Boolean(bool),
  Text(String),
}

#[derive(Clone, Debug, PartialEq)]
pub struct OptionSpec {
  /// The option's name as JS users write it. Call options carry their method: `flush.timeoutMs`.
  pub name: &'static str,
  pub kind: Kind,
  pub default: Default,
}

fn int(name: &'static str, min: u64, max: u64, default: u64) -> OptionSpec {
  OptionSpec {
    name,
    kind: Kind::Integer { min: min as i64, max },
    default: Default::Integer(default),
  }
}

fn pem(name: &'static str, secret: bool) -> OptionSpec {
  OptionSpec {
    name,
    kind: Kind::Pem { secret },
    default: Default::None,
  }
}

fn ms(d: Duration) -> u64 {
  d.as_millis() as u64
}

/// `spool.maxBytes` bounds: 1 MiB holds a few batches (smaller would refuse most appends), 2^50
/// (1 PiB) is beyond any volume, so a typo'd huge value is still caught.
pub const SPOOL_MIN_BYTES: u64 = 1 << 20;
pub const SPOOL_MAX: u64 = 1 << 50;
/// `spool.syncIntervalMs: -1`: never fsync (the OS writes back on its own schedule).
pub const SYNC_NEVER: i64 = -1;

pub const MODES: &[&str] = &["message", "forward", "packedForward"];
pub const OVERFLOWS: &[&str] = &["dropNewest", "dropOldest", "error"];
pub const TLS_VERSIONS: &[&str] = &["TLSv1.2", "TLSv1.3"];
pub const HEARTBEATS: &[&str] = &["udp", "tcp", "none"];
/// `resolve`: one member for a host name, or one per address (a fleet found through DNS).
pub const RESOLVES: &[&str] = &["first", "all"];
/// Largest server weight: a share, not a count.
pub const MAX_WEIGHT: u64 = 1000;
/// At most this many servers in `servers`.
pub const MAX_SERVERS: usize = 64;
/// How long the JS side lets a failure handler run before counting it as failed (`ERR_FLUENT_HANDLER`).
pub const ERROR_HANDLER_TIMEOUT: Duration = Duration::from_secs(10);

pub fn heartbeat_name(h: Heartbeat) -> &'static str {
  match h {
    Heartbeat::Udp => "udp",
    Heartbeat::Tcp => "tcp",
    Heartbeat::None => "none",
  }
}

pub fn resolve_name(r: Resolve) -> &'static str {
  match r {
    Resolve::First => "first",
    Resolve::All => "all",
  }
}

pub fn tls_version_name(v: TlsVersion) -> &'static str {
  match v {
    TlsVersion::V1_2 => "TLSv1.2",
    TlsVersion::V1_3 => "TLSv1.3",
  }
}

/// How long `flush()` waits by default, and `close()`.
pub const FLUSH_TIMEOUT: Duration = Duration::from_secs(30);
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// The whole table, defaults read from `Config::default()` so they exist once.
pub fn specs() -> Vec<OptionSpec> {
  let d = Config::default();
  let (host, port) = match &d.target {
    Target::Tcp { host, port } => (host.clone(), *port as u64),
    Target::Unix(_) => (String::new(), 0),
  };
  let text = |name, default: Option<String>| OptionSpec {
    name,
    kind: Kind::Text,
    default: default.map_or(Default::None, Default::Text),
  };
  let boolean = |name, default| OptionSpec {
    name,
    kind: Kind::Boolean,
    default: Default::Boolean(default),
  };
  let one_of = |name, values, default: &str| OptionSpec {
    name,
    kind: Kind::OneOf(values),
    default: Default::Text(default.into()),
  };
  vec![
    text("host", Some(host)),
    int("port", 1, 65535, port),
    text("path", None),
    one_of("mode", MODES, mode_name(d.mode)),
    boolean("timeAsInteger", false),
    // `compress` is `'gzip'`, `'zstd'` or `false`; `false` is checked by the JS side as "off".
    OptionSpec {
      name: "compress",
      kind: Kind::OneOf(COMPRESSIONS),
      default: Default::None,
    },
    // The level of the algorithm `compress` names: the widest range here, each algorithm's own in
    // `Config::validate` (GZIP_LEVELS, codec::zstd::LEVELS); its default is the algorithm's too.
    OptionSpec {
      name: "compressionLevel",
      kind: Kind::Integer {
        min: *GZIP_LEVELS.start() as i64,
        max: *ZSTD_LEVELS.end() as u64,
      },
      default: Default::None,
    },
    boolean("requireAck", d.require_ack),
    int("maxBufferBytes", 1, MAX_BUFFER, d.max_buffer_bytes as u64),
    one_of("overflow", OVERFLOWS, overflow_name(d.overflow)),
    int("batchBytes", 1, MAX_BATCH_OR_RECORD, d.batch_bytes as u64),
    int("flushIntervalMs", 1, MAX_MS, ms(d.flush_interval)),
    int(
      "maxRecordBytes",
      1,
      MAX_BATCH_OR_RECORD,
      d.max_record_bytes as u64,
    ),
    int("connectTimeoutMs", 1, MAX_MS, ms(d.connect_timeout)),
    int("writeTimeoutMs", 1, MAX_MS, ms(d.write_timeout)),
    int("ackTimeoutMs", 1, MAX_MS, ms(d.ack_timeout)),
    int("maxInFlight", 1, 1024, d.max_in_flight as u64),
    int("reconnectInitialDelayMs", 1, MAX_MS, ms(d.reconnect_initial)),
    int("reconnectMaxDelayMs", 1, MAX_MS, ms(d.reconnect_max)),
    int("maxBatchAttempts", 1, 100, d.max_batch_attempts as u64),
    int("exitFlushTimeoutMs", 0, 600_000, ms(d.exit_flush_timeout)),
    int("handshakeTimeoutMs", 1, MAX_MS, ms(d.handshake_timeout)),
    int(
      "breaker.failureThreshold",
      1,
      1000,
      d.breaker.failure_threshold as u64,
    ),
    int("breaker.cooldownMs", 1, MAX_MS, ms(d.breaker.cooldown)),
    int("breaker.maxCooldownMs", 1, MAX_MS, ms(d.breaker.max_cooldown)),
    // `tls` itself is `true` or an object; these are its fields. `ca`, `cert`, `key` are PEM
    // strings or Buffers, checked by the JS side for type only (no default).
    pem("tls.ca", false),
    pem("tls.cert", false),
    pem("tls.key", true),
    text("tls.servername", None),
    boolean("tls.rejectUnauthorized", TlsConfig::default().reject_unauthorized),
    one_of(
      "tls.minVersion",
      TLS_VERSIONS,
      tls_version_name(TlsConfig::default().min_version),
    ),
    text("security.clientHostname", None),
    OptionSpec {
      name: "security.sharedKey",
      kind: Kind::Secret,
      default: Default::None,
    },
    // Both default to empty in the core (`Security::default()`).
    text("security.username", None),
    OptionSpec {
      name: "security.password",
      kind: Kind::Secret,
      default: Default::None,
    },
    one_of("heartbeat", HEARTBEATS, "tcp"),
    int("heartbeatIntervalMs", 10, MAX_MS, ms(d.heartbeat_interval)),
    int("dnsTtlMs", 0, MAX_MS, ms(d.dns_ttl)),
    int(
      "errorHandlerMaxBytes",
      0,
      MAX_BUFFER,
      d.undelivered_max_bytes as u64,
    ),
    int("errorHandlerTimeoutMs", 1, MAX_MS, ms(ERROR_HANDLER_TIMEOUT)),
    // Each entry of `servers`: `{ host, port }` or `{ path }` (checked against the top-level rows),
    // plus these, and its own `tls` / `security` (or `false` to turn the client-wide ones off).
    int("servers.weight", 1, MAX_WEIGHT, 1),
    boolean("servers.standby", false),
    // A fleet found through DNS is a `servers` entry; the core also takes it for `target`
    // (`Config::resolve`), which the binding does not expose.
    one_of("servers.resolve", RESOLVES, resolve_name(d.resolve)),
    // `spool` is an object; `dir` is required when it is set (checked by both sides).
    text("spool.dir", None),
    int(
      "spool.maxBytes",
      SPOOL_MIN_BYTES,
      SPOOL_MAX,
      crate::config::SPOOL_MAX_BYTES,
    ),
    OptionSpec {
      name: "spool.syncIntervalMs",
      kind: Kind::Integer {
        min: SYNC_NEVER,
        max: MAX_MS,
      },
      default: Default::Integer(ms(crate::config::SPOOL_SYNC)),
    },
    text("spool.slot", None),
    int("flush.timeoutMs", 0, MAX_MS, ms(FLUSH_TIMEOUT)),
    int("close.timeoutMs", 0, MAX_MS, ms(CLOSE_TIMEOUT)),
  ]
}

/// gzip level when `compress: 'gzip'` is set without a level: on log-like text 1 compressed as well
/// as 6 here, 5x faster (examples/gzip_levels.rs).
pub const DEFAULT_GZIP_LEVEL: u32 = 1;
pub const GZIP_LEVELS: std::ops::RangeInclusive<u32> = 0..=9;
/// zstd level when `compress: 'zstd'` is set without a level: zstd's own default (ZSTD_CLEVEL_DEFAULT).
pub const DEFAULT_ZSTD_LEVEL: u32 = 3;
/// The values of `compress`, each the `compressed` value it puts on the wire.
pub const COMPRESSIONS: &[&str] = &["gzip", "zstd"];

pub fn mode_name(m: Mode) -> &'static str {
  match m {
    Mode::Message => "message",
    Mode::Forward => "forward",
    Mode::PackedForward => "packedForward",
  }
}

pub fn overflow_name(o: Overflow) -> &'static str {
  match o {
    Overflow::DropNewest => "dropNewest",
    Overflow::DropOldest => "dropOldest",
    Overflow::Error => "error",
  }
}

/// Checks an integer against its spec (for the Rust side's own validation).
pub fn check_int(name: &str, value: u64) -> Result<(), Error> {
  let spec = specs().into_iter().find(|s| s.name == name);
  match spec.map(|s| s.kind) {
    Some(Kind::Integer { min, max }) if (value as i128) < min as i128 || value > max => Err(Error::Config(
      format!("{name} must be an integer in {min}..{max}, got {value}"),
    )),
    Some(Kind::Integer { .. }) => Ok(()),
    _ => Err(Error::Config(format!("{name} is not an integer option"))),
  }
}

/// A host is a name or an address: `name:24224` or `tcp://name` would only fail later, at every
/// connect, as a name that does not resolve (REVIEW-0.2 A7).
fn check_host(host: &str, at: &str) -> Result<(), Error> {
  let bad = |m: String| Err(Error::Config(format!("{at}{m}")));
  if let Some((scheme, rest)) = host.split_once("://") {
    return bad(format!(
      "host {host:?} is a URL ({scheme}://): set host to the name or address alone ({:?}) and port apart",
      rest.split([':', '/']).next().unwrap_or_default()
    ));
  }
  // One colon: `name:port` (an IPv6 address has several, and needs no brackets here).
  if let Some((name, port)) = host.split_once(':') {
    let digits = !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit());
    if !port.contains(':') && digits {
      return bad(format!(
        "host {host:?} includes a port: set host: {name:?} and port: {port}"
      ));
    }
  }
  if host.starts_with('[') && host.ends_with(']') {
    return bad(format!(
      "host {host:?} has brackets: set the IPv6 address without them ({:?})",
      &host[1..host.len() - 1]
    ));
  }
  Ok(())
}

/// `resolve: 'all'` makes members of a host name's addresses: it needs a name to look up, not a
/// Unix socket path, and not an address (which would only ever be one member).
fn check_resolve(target: &Target, resolve: Resolve, at: &str) -> Result<(), Error> {
  if resolve != Resolve::All {
    return Ok(());
  }
  match target {
    Target::Unix(_) => Err(Error::Config(format!(
      "{at}resolve: 'all' needs a host name and port, not a unix socket path"
    ))),
    Target::Tcp { host, .. } if host.parse::<std::net::IpAddr>().is_ok() => Err(Error::Config(format!(
      "{at}resolve: 'all' needs a host name whose addresses are the fleet, got the address {host:?} (leave resolve out for one server)"
    ))),
    Target::Tcp { .. } => Ok(()),
  }
}

/// Members that do not come from DNS: one per entry without `resolve: 'all'`.
pub fn fixed_members(servers: &[Server]) -> usize {
  servers.iter().filter(|s| s.resolve != Resolve::All).count()
}

// `Config::validate` lives here, beside the table it checks against, so that the option table
// depends on the config (for its defaults) and not the other way round.
impl Config {
  /// Checks every value against the option table (`options::specs`), then the rules between options.
  pub fn validate(&self) -> Result<(), Error> {
    let bad = |m: &str| Err(Error::Config(m.into()));
    match &self.target {
      Target::Tcp { host, port } => {
        if host.is_empty() {
          return bad("host must not be empty");
        }
        check_host(host, "")?;
        check_int("port", *port as u64)?;
      }
      Target::Unix(path) if path.is_empty() => return bad("path must not be empty"),
      Target::Unix(_) => {}
    }
    if self.servers.is_empty() {
      check_resolve(&self.target, self.resolve, "")?;
    }
    let ms = |d: Duration| d.as_millis() as u64;
    for (name, value) in [
      ("maxBufferBytes", self.max_buffer_bytes as u64),
      ("batchBytes", self.batch_bytes as u64),
      ("maxRecordBytes", self.max_record_bytes as u64),
      ("maxInFlight", self.max_in_flight as u64),
      ("maxBatchAttempts", self.max_batch_attempts as u64),
      ("flushIntervalMs", ms(self.flush_interval)),
      ("connectTimeoutMs", ms(self.connect_timeout)),
      ("writeTimeoutMs", ms(self.write_timeout)),
      ("ackTimeoutMs", ms(self.ack_timeout)),
      ("reconnectInitialDelayMs", ms(self.reconnect_initial)),
      ("reconnectMaxDelayMs", ms(self.reconnect_max)),
      ("exitFlushTimeoutMs", ms(self.exit_flush_timeout)),
      ("handshakeTimeoutMs", ms(self.handshake_timeout)),
      ("breaker.failureThreshold", self.breaker.failure_threshold as u64),
      ("breaker.cooldownMs", ms(self.breaker.cooldown)),
      ("breaker.maxCooldownMs", ms(self.breaker.max_cooldown)),
      ("heartbeatIntervalMs", ms(self.heartbeat_interval)),
      ("dnsTtlMs", ms(self.dns_ttl)),
      ("errorHandlerMaxBytes", self.undelivered_max_bytes as u64),
    ] {
      check_int(name, value)?;
    }
    if let Some(c) = self.compression {
      let (level, range) = match c {
        Compression::Gzip(l) => (l, GZIP_LEVELS),
        Compression::Zstd(l) => (l, ZSTD_LEVELS),
      };
      if !range.contains(&level) {
        return Err(Error::Config(format!(
          "compressionLevel must be an integer in {}..{} with compress: '{}', got {level}",
          range.start(),
          range.end(),
          c.wire_name()
        )));
      }
    }
    if self.max_buffer_bytes < self.max_record_bytes {
      return bad("maxBufferBytes must be at least maxRecordBytes");
    }
    if self.compression.is_some() && self.mode != Mode::PackedForward {
      return bad("compression needs packedForward mode");
    }
    if self.reconnect_max < self.reconnect_initial {
      return bad("reconnectMaxDelayMs must be at least reconnectInitialDelayMs");
    }
    if self.breaker.max_cooldown < self.breaker.cooldown {
      return bad("breaker.maxCooldownMs must be at least breaker.cooldownMs");
    }
    if self.servers.len() > MAX_SERVERS {
      return Err(Error::Config(format!("at most {MAX_SERVERS} servers")));
    }
    for (i, s) in self.servers.iter().enumerate() {
      let at = |m: &str| Err(Error::Config(format!("servers[{i}]: {m}")));
      match &s.target {
        Target::Tcp { host, .. } if host.is_empty() => return at("host must not be empty"),
        Target::Tcp { host, .. } => check_host(host, &format!("servers[{i}]: "))?,
        Target::Unix(path) if path.is_empty() => return at("path must not be empty"),
        Target::Unix(_) if s.tls.is_some() => return at("tls needs a host and port, not a unix socket path"),
        _ => {}
      }
      if s.weight == 0 || s.weight as u64 > MAX_WEIGHT {
        return at(&format!("weight must be an integer in 1..{MAX_WEIGHT}"));
      }
      check_resolve(&s.target, s.resolve, &format!("servers[{i}]: "))?;
    }
    if let Some(sp) = &self.spool {
      if sp.dir.as_os_str().is_empty() {
        return bad("spool.dir must not be empty");
      }
      check_int("spool.maxBytes", sp.max_bytes)?;
      if let Some(d) = sp.sync_interval {
        check_int("spool.syncIntervalMs", ms(d))?;
      }
      if sp.slot.as_deref() == Some("") {
        return bad("spool.slot must not be empty");
      }
    }
    if !self.servers.is_empty() && self.servers.iter().all(|s| s.standby) {
      return bad("servers: at least one server must not be a standby");
    }
    if let Some(tls) = &self.tls {
      if matches!(self.target, Target::Unix(_)) && self.servers.is_empty() {
        return bad("tls needs a host and port, not a unix socket path");
      }
      if tls.cert.is_some() && tls.key.is_none() {
        return bad("tls.cert needs tls.key");
      }
      if tls.key.is_some() && tls.cert.is_none() {
        return bad("tls.key needs tls.cert");
      }
      if tls.servername.as_deref() == Some("") {
        return bad("tls.servername must not be empty");
      }
    }
    if let Some(sec) = &self.security {
      if sec.client_hostname.is_empty() {
        return bad("security.clientHostname must not be empty");
      }
      if sec.shared_key.is_empty() {
        return bad("security.sharedKey must not be empty");
      }
    }
    Ok(())
  }
}

#[cfg(test)]
mod tests {
  use crate::config::Server;

  /// REVIEW-0.2 A7: `host: 'name:24224'` was accepted and failed at every connect as a DNS error.
  #[test]
  fn a_host_with_a_port_a_scheme_or_brackets_is_a_config_error_that_says_what_to_set() {
    let with_host = |host: &str| Config {
      target: Target::Tcp {
        host: host.into(),
        port: 24224,
      },
      ..Config::default()
    };
    let msg = |c: Config| c.validate().unwrap_err().to_string();
    let e = with_host("logs.internal:24225").validate().unwrap_err();
    assert_eq!(e.code(), "CONFIG");
    assert!(
      e.to_string()
        .contains(r#"set host: "logs.internal" and port: 24225"#),
      "{e}"
    );
    assert!(msg(with_host("tcp://logs.internal:24224")).contains("is a URL"));
    assert!(msg(with_host("[::1]")).contains("without them"));
    for fine in ["logs.internal", "10.0.0.1", "::1", "fe80::1:2"] {
      assert!(with_host(fine).validate().is_ok(), "{fine}");
    }
    let fleet = Config {
      servers: vec![Server {
        target: Target::Tcp {
          host: "a:1".into(),
          port: 24224,
        },
        weight: 1,
        standby: false,
        tls: None,
        security: None,
        resolve: Resolve::First,
      }],
      ..Config::default()
    };
    assert!(msg(fleet).starts_with("invalid option: servers[0]: host"));
  }

  use super::*;

  #[test]
  fn every_default_is_in_its_range() {
    for s in specs() {
      if let (Kind::Integer { min, max }, Default::Integer(v)) = (&s.kind, &s.default) {
        assert!(*v as i128 >= *min as i128 && v <= max, "{}", s.name);
      }
      if let (Kind::OneOf(values), Default::Text(v)) = (&s.kind, &s.default) {
        assert!(values.contains(&v.as_str()), "{}", s.name);
      }
    }
    Config::default().validate().unwrap();
  }

  #[test]
  fn names_are_unique() {
    let specs = specs();
    for (i, s) in specs.iter().enumerate() {
      assert!(specs[i + 1..].iter().all(|t| t.name != s.name), "{}", s.name);
    }
  }
}
