//! Optional TLS listener (`--tls-cert`, `--tls-key`): rustls with the ring provider, TLS 1.2 and 1.3,
//! no client authentication. The decrypted stream goes to the same connection handler as plain TCP.

use std::io;
use std::path::Path;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

fn invalid(msg: String) -> io::Error {
  io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// An acceptor from a PEM certificate chain and a PEM private key (PKCS#8, PKCS#1 or SEC1).
pub fn acceptor_from_pem(cert_pem: &[u8], key_pem: &[u8]) -> io::Result<TlsAcceptor> {
  let certs = CertificateDer::pem_slice_iter(cert_pem)
    .collect::<Result<Vec<_>, _>>()
    .map_err(|e| invalid(format!("certificate: {e}")))?;
  if certs.is_empty() {
    return Err(invalid("certificate: no PEM certificate found".into()));
  }
  let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| invalid(format!("key: {e}")))?;
  let provider = Arc::new(rustls::crypto::ring::default_provider());
  let config = ServerConfig::builder_with_provider(provider)
    .with_safe_default_protocol_versions()
    .map_err(|e| invalid(format!("tls: {e}")))?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(|e| invalid(format!("tls: {e}")))?;
  Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Reads both files and builds the acceptor.
pub fn acceptor_from_files(cert: &Path, key: &Path) -> io::Result<TlsAcceptor> {
  let read =
    |p: &Path| std::fs::read(p).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", p.display())));
  acceptor_from_pem(&read(cert)?, &read(key)?)
}
