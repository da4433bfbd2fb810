//! TLS with rustls (ring provider). The `ClientConfig` is built once per client (`Tls::new`) and
//! shared by every connection.
//!
//! Roots: the compiled-in Mozilla set from `webpki-roots`, not the OS store (`rustls-native-certs`).
//! That is what Node's own `tls` does by default (its bundled Mozilla store), so a user moving from
//! a JS client sees the same trust decisions; it also works the same in distroless or scratch
//! containers that carry no `/etc/ssl/certs`, and costs no file reads at start. A private CA is
//! passed as `tls.ca`, which replaces the default roots.

use crate::config::{TlsConfig, TlsVersion};
use crate::error::Error;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
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
      match &cfg.ca {
        Some(pem) => {
          for c in certs(pem, "tls.ca")? {
            roots
              .add(c)
              .map_err(|e| Error::Config(format!("tls.ca holds an unusable certificate: {e}")))?;
          }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
      }
      builder.with_root_certificates(roots)
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
    if e.kind() == io::ErrorKind::UnexpectedEof {
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
    rustls::Error::InvalidCertificate(c) => Error::TlsCert(format!(
      "the server's certificate is not trusted ({c:?}): pass tls.ca or check the chain"
    )),
    rustls::Error::AlertReceived(
      a @ (A::CertificateRequired
      | A::BadCertificate
      | A::UnknownCA
      | A::CertificateUnknown
      | A::AccessDenied),
    ) => Error::TlsCert(format!(
      "the server refused our client certificate (alert {a:?}): check tls.cert and tls.key"
    )),
    rustls::Error::AlertReceived(
      a @ (A::ProtocolVersion | A::HandshakeFailure | A::InsufficientSecurity),
    ) => Error::TlsProtocol(format!(
      "no tls version or cipher in common with the server (alert {a:?}): check tls.minVersion"
    )),
    rustls::Error::PeerIncompatible(p) => Error::TlsProtocol(format!(
      "no tls version or cipher in common with the server ({p:?}): check tls.minVersion"
    )),
    rustls::Error::InvalidMessage(_) => Error::TlsProtocol(NOT_TLS.into()),
    other => Error::TlsProtocol(format!("tls failed: {other}")),
  }
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
