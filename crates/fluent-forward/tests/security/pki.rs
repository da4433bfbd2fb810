//! Certificates (rcgen) and the rustls server configs made from them.

use fluent_forward::TlsConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::sync::Arc;

pub(crate) struct Pki {
  pub(crate) ca_pem: String,
  pub(crate) ca_der: CertificateDer<'static>,
  pub(crate) server_chain: Vec<CertificateDer<'static>>,
  pub(crate) server_key: PrivateKeyDer<'static>,
  pub(crate) client_cert_pem: String,
  pub(crate) client_key_pem: String,
}

pub(crate) fn pki() -> Pki {
  use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
  let ca_key = KeyPair::generate().unwrap();
  let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
  ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
  let ca = ca_params.self_signed(&ca_key).unwrap();
  let key = KeyPair::generate().unwrap();
  let params = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
  let cert = params.signed_by(&key, &ca, &ca_key).unwrap();
  let ckey = KeyPair::generate().unwrap();
  let cparams = CertificateParams::new(vec!["client.test".to_string()]).unwrap();
  let ccert = cparams.signed_by(&ckey, &ca, &ca_key).unwrap();
  Pki {
    ca_pem: ca.pem(),
    ca_der: ca.der().clone(),
    server_chain: vec![cert.der().clone()],
    server_key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    client_cert_pem: ccert.pem(),
    client_key_pem: ckey.serialize_pem(),
  }
}

pub(crate) fn provider() -> Arc<rustls::crypto::CryptoProvider> {
  Arc::new(rustls::crypto::ring::default_provider())
}

pub(crate) fn server_tls(
  p: &Pki,
  versions: &[&'static rustls::SupportedProtocolVersion],
  mtls: bool,
) -> Arc<rustls::ServerConfig> {
  let b = rustls::ServerConfig::builder_with_provider(provider())
    .with_protocol_versions(versions)
    .unwrap();
  let b = if mtls {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(p.ca_der.clone()).unwrap();
    let v = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
      .build()
      .unwrap();
    b.with_client_cert_verifier(v)
  } else {
    b.with_no_client_auth()
  };
  Arc::new(
    b.with_single_cert(p.server_chain.clone(), p.server_key.clone_key())
      .unwrap(),
  )
}

pub(crate) fn all_versions() -> Vec<&'static rustls::SupportedProtocolVersion> {
  vec![&rustls::version::TLS13, &rustls::version::TLS12]
}

pub(crate) fn tls_trusting(p: &Pki) -> TlsConfig {
  TlsConfig {
    ca: Some(p.ca_pem.clone().into_bytes()),
    ..TlsConfig::default()
  }
}
