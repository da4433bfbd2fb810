//! TLS with rustls (ring provider). The `ClientConfig` is built once per client (`Tls::new`) and
//! shared by every connection.
//!
//! Roots: the compiled-in Mozilla set from `webpki-roots`, not the OS store (`rustls-native-certs`).
//! That is what Node's own `tls` does by default (its bundled Mozilla store), so a user moving from
//! a JS client sees the same trust decisions; it also works the same in distroless or scratch
//! containers that carry no `/etc/ssl/certs`, and costs no file reads at start. A private CA is
//! passed as `tls.ca`, which replaces the default roots.

use super::pinned::CaOrPinned;
use crate::config::{TlsConfig, TlsVersion};
use crate::error::Error;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use std::io;
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

pub const SPEAKS_TLS: &str = "the server speaks TLS: set tls";
pub const NOT_TLS: &str = "the server did not answer TLS: is its input configured for TLS?";

#[derive(Clone)]
pub struct Tls {
  connector: TlsConnector,
  name: ServerName<'static>,
}

fn provider() -> Arc<CryptoProvider> {
  Arc::new(rustls::crypto::ring::default_provider())
}

fn certs(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>, Error> {
  let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(pem).collect();
  match certs {
    Ok(c) if !c.is_empty() => Ok(c),
    Ok(_) => Err(Error::Config(format!("{what} holds no PEM certificate"))),
    Err(e) => Err(Error::Config(format!("{what} is not valid PEM: {e}"))),
  }
}

impl Tls {
  /// `host` is the target's host, the default server name.
  pub fn new(cfg: &TlsConfig, host: &str) -> Result<Self, Error> {
    let name_str = cfg.servername.as_deref().unwrap_or(host);
    let name = ServerName::try_from(name_str.to_string()).map_err(|_| {
      Error::Config(format!(
        "tls.servername {name_str:?} is not a valid DNS name or IP address"
      ))
    })?;
    let provider = provider();
    let versions: &[&rustls::SupportedProtocolVersion] = match cfg.min_version {
      TlsVersion::V1_2 => &[&rustls::version::TLS13, &rustls::version::TLS12],
      TlsVersion::V1_3 => &[&rustls::version::TLS13],
    };
    let builder = ClientConfig::builder_with_provider(provider.clone())
      .with_protocol_versions(versions)
      .map_err(|e| Error::Config(format!("tls: {e}")))?;
    let builder = if cfg.reject_unauthorized {
      let mut roots = RootCertStore::empty();
      let mut pinned = Vec::new();
      match &cfg.ca {
        Some(pem) => {
          for c in certs(pem, "tls.ca")? {
            roots
              .add(c.clone())
              .map_err(|e| Error::Config(format!("tls.ca holds an unusable certificate: {e}")))?;
            pinned.push(c);
          }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
      }
      let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| Error::Config(format!("tls.ca: {e}")))?;
      // Only a user's own `tls.ca` is pinned: a public root as a server's certificate is no use case.
      builder
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(CaOrPinned::new(webpki, pinned)))
    } else {
      builder
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnyCert(provider)))
    };
    let config = match (&cfg.cert, &cfg.key) {
      (Some(cert), Some(key)) => {
        let chain = certs(cert, "tls.cert")?;
        // The key's parse error says only what kind of problem it is, never the key's bytes.
        let key = PrivateKeyDer::from_pem_slice(key.expose())
          .map_err(|_| Error::Config("tls.key is not a valid PEM private key".into()))?;
        builder
          .with_client_auth_cert(chain, key)
          .map_err(|e| Error::Config(format!("tls.cert and tls.key do not form a usable pair: {e}")))?
      }
      (None, None) => builder.with_no_client_auth(),
      _ => return Err(Error::Config("tls.cert and tls.key go together".into())),
    };
    Ok(Self {
      connector: TlsConnector::from(Arc::new(config)),
      name,
    })
  }

  pub async fn connect(&self, tcp: TcpStream) -> Result<TlsStream<TcpStream>, Error> {
    self
      .connector
      .connect(self.name.clone(), tcp)
      .await
      .map_err(|e| classify(e, &self.name))
  }
}

/// A TLS failure as one of our typed errors; anything else stays `Io`.
pub fn classify(e: io::Error, name: &ServerName<'_>) -> Error {
  let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) else {
    // Dropped during our handshake, with nothing TLS back (rustls would have named a bad record):
    // a plaintext Forward input closes or resets on a ClientHello (fluentd: a reset).
    use io::ErrorKind as K;
    if matches!(
      e.kind(),
      K::UnexpectedEof | K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe
    ) {
      return Error::TlsProtocol(NOT_TLS.into());
    }
    return Error::Io(e);
  };
  use rustls::AlertDescription as A;
  match tls {
    rustls::Error::InvalidCertificate(CertificateError::NotValidForName)
    | rustls::Error::InvalidCertificate(CertificateError::NotValidForNameContext { .. }) => {
      Error::TlsHostname(name.to_str().into_owned())
    }
    rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer) => Error::TlsCert(
      "the server's certificate is not signed by a trusted CA: pass tls.ca or check the chain".into(),
    ),
    rustls::Error::InvalidCertificate(c) => Error::TlsCert(describe_cert_error(c)),
    rustls::Error::AlertReceived(
      a @ (A::CertificateRequired
      | A::BadCertificate
      | A::UnknownCA
      | A::CertificateUnknown
      | A::AccessDenied),
    ) => Error::TlsCert(format!(
      "the server refused our client certificate (alert {}): check tls.cert and tls.key",
      bare(a)
    )),
    rustls::Error::AlertReceived(
      a @ (A::ProtocolVersion | A::HandshakeFailure | A::InsufficientSecurity),
    ) => Error::TlsProtocol(format!(
      "no tls version or cipher in common with the server (alert {}): check tls.minVersion",
      bare(a)
    )),
    rustls::Error::PeerIncompatible(p) => Error::TlsProtocol(format!(
      "no tls version or cipher in common with the server ({}): check tls.minVersion",
      bare(p)
    )),
    rustls::Error::InvalidMessage(_) => Error::TlsProtocol(NOT_TLS.into()),
    other => Error::TlsProtocol(format!("tls failed: {other}")),
  }
}

/// The name of an enum variant without its fields (`ExpiredContext { .. }` -> `ExpiredContext`): for
/// the rustls reasons that have no message of their own, so that no message shows Rust's `Debug`.
fn bare(v: &impl std::fmt::Debug) -> String {
  let full = format!("{v:?}");
  let end = full
    .find(|c: char| !c.is_ascii_alphanumeric() && c != '_')
    .unwrap_or(full.len());
  full[..end].to_string()
}

fn date(t: UnixTime) -> String {
  let secs = i64::try_from(t.as_secs()).unwrap_or(i64::MAX);
  match time::OffsetDateTime::from_unix_timestamp(secs) {
    Ok(d) => d.date().to_string(),
    Err(_) => format!("{secs} s after 1970"),
  }
}

/// Why the server's certificate was refused, in words (and what to do about it).
fn describe_cert_error(c: &CertificateError) -> String {
  const CHAIN: &str = "pass tls.ca or check the chain";
  const CLOCK: &str = "renew it, or check this machine's clock";
  let (why, what_to_do) = match c {
    CertificateError::Expired => ("has expired".to_string(), CLOCK),
    CertificateError::ExpiredContext { not_after, .. } => (format!("expired on {}", date(*not_after)), CLOCK),
    CertificateError::NotValidYet => ("is not valid yet".to_string(), CLOCK),
    CertificateError::NotValidYetContext { not_before, .. } => {
      (format!("is not valid before {}", date(*not_before)), CLOCK)
    }
    CertificateError::Revoked => ("has been revoked".to_string(), CHAIN),
    CertificateError::BadSignature => ("has a bad signature".to_string(), CHAIN),
    CertificateError::BadEncoding => ("is not a well-formed certificate".to_string(), CHAIN),
    CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => (
      "is not for server authentication (its extended key usage)".to_string(),
      CHAIN,
    ),
    CertificateError::Other(rustls::OtherError(e)) => match e.downcast_ref::<webpki::Error>() {
      Some(webpki::Error::CaUsedAsEndEntity) => (
        "is a CA certificate (CA:TRUE) used as the server's own".to_string(),
        "such a certificate is trusted only when it is exactly one given as tls.ca",
      ),
      Some(w) => (format!("was refused ({})", bare(w)), CHAIN),
      None => (format!("was refused ({e})"), CHAIN),
    },
    other => (format!("was refused ({})", bare(other)), CHAIN),
  };
  format!("the server's certificate {why}: {what_to_do}")
}

/// `rejectUnauthorized: false`: any certificate is accepted, but the handshake signature is still
/// checked against the presented certificate's key (so the peer holds that key).
#[derive(Debug)]
struct AcceptAnyCert(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCert {
  fn verify_server_cert(
    &self,
    _end_entity: &CertificateDer<'_>,
    _intermediates: &[CertificateDer<'_>],
    _server_name: &ServerName<'_>,
    _ocsp_response: &[u8],
    _now: UnixTime,
  ) -> Result<ServerCertVerified, rustls::Error> {
    Ok(ServerCertVerified::assertion())
  }

  fn verify_tls12_signature(
    &self,
    message: &[u8],
    cert: &CertificateDer<'_>,
    dss: &DigitallySignedStruct,
  ) -> Result<HandshakeSignatureValid, rustls::Error> {
    verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
  }

  fn verify_tls13_signature(
    &self,
    message: &[u8],
    cert: &CertificateDer<'_>,
    dss: &DigitallySignedStruct,
  ) -> Result<HandshakeSignatureValid, rustls::Error> {
    verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
  }

  fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
    self.0.signature_verification_algorithms.supported_schemes()
  }
}

#[cfg(test)]
mod tests {
  use super::*;
  use rustls::{AlertDescription as A, OtherError, PeerIncompatible};

  /// REVIEW-0.2 A5/A7: a certificate refusal read `not trusted (Other(OtherError(CaUsedAsEndEntity)))`.
  #[test]
  fn tls_failures_are_told_in_words() {
    let t = |s: u64| UnixTime::since_unix_epoch(std::time::Duration::from_secs(s));
    let cases = vec![
      rustls::Error::InvalidCertificate(CertificateError::ExpiredContext {
        time: t(1_800_000_000),
        not_after: t(1_609_459_200),
      }),
      rustls::Error::InvalidCertificate(CertificateError::NotValidYetContext {
        time: t(1_500_000_000),
        not_before: t(1_609_459_200),
      }),
      rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(
        webpki::Error::CaUsedAsEndEntity,
      )))),
      rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(
        webpki::Error::UnsupportedCertVersion,
      )))),
      rustls::Error::InvalidCertificate(CertificateError::BadSignature),
      rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer),
      rustls::Error::InvalidCertificate(CertificateError::NotValidForName),
      rustls::Error::InvalidCertificate(CertificateError::ApplicationVerificationFailure),
      rustls::Error::AlertReceived(A::BadCertificate),
      rustls::Error::AlertReceived(A::Unknown(200)),
      rustls::Error::AlertReceived(A::HandshakeFailure),
      rustls::Error::PeerIncompatible(PeerIncompatible::NoCipherSuitesInCommon),
      rustls::Error::General("something".into()),
    ];
    let name = ServerName::try_from("localhost").unwrap();
    for c in cases {
      let e = classify(io::Error::new(io::ErrorKind::InvalidData, c), &name);
      let text = e.to_string();
      assert_eq!(crate::error::debug_leaks(&text), Vec::<&str>::new(), "{text}");
    }
    let expired = rustls::Error::InvalidCertificate(CertificateError::ExpiredContext {
      time: t(1_800_000_000),
      not_after: t(1_609_459_200),
    });
    let e = classify(io::Error::new(io::ErrorKind::InvalidData, expired), &name);
    assert!(e.to_string().contains("expired on 2021-01-01"), "{e}");
    let reset = classify(io::Error::from(io::ErrorKind::ConnectionReset), &name);
    assert_eq!(reset.code(), "TLS_PROTOCOL");
  }
}
