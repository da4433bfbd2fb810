//! Server certificate verification for `tls.ca`, which also trusts a self-signed server
//! certificate passed as `tls.ca` when the server presents exactly that certificate.
//!
//! `openssl req -x509 -newkey rsa:2048 ... -subj /CN=host`, the way fluentd's documentation makes a
//! server certificate, marks it `CA:TRUE`, and webpki refuses a CA certificate as the end entity
//! (`CaUsedAsEndEntity`), so such a fluentd could not be reached at all, even with its certificate
//! as `tls.ca` (REVIEW-0.2 A5). Node's `tls`, OpenSSL-based Fluent Bit and fluentd's own clients accept
//! it. Here it is accepted iff, on exactly that refusal:
//! - the presented certificate is byte-identical to one of the `tls.ca` certificates (it is pinned:
//!   the user gave us this very certificate, so no chain has to be built);
//! - it is within its validity period (checked here, whatever webpki checked first);
//! - it is valid for the server name: webpki's own check against its subjectAltName, or, for a
//!   certificate with no DNS subjectAltName (openssl adds none), its subject CN, compared as Node's
//!   `checkServerIdentity` does for such certificates (exactly, ignoring ASCII case; no wildcards).
//!
//! The handshake signature is verified as always (with the presented certificate's key), so the
//! server holds that certificate's private key. Every other verdict is webpki's, unchanged.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{verify_server_name, WebPkiServerVerifier};
use rustls::server::ParsedCertificate;
use rustls::{CertificateError, DigitallySignedStruct, OtherError, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use std::sync::Arc;
use x509_cert::der::asn1::{Ia5StringRef, ObjectIdentifier, PrintableStringRef, Utf8StringRef};
use x509_cert::der::oid::AssociatedOid;
use x509_cert::der::{Decode, Encode};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::Certificate;

/// The subject's common name (id-at-commonName, RFC 4519).
const CN: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");

#[derive(Debug)]
pub struct CaOrPinned {
  webpki: Arc<WebPkiServerVerifier>,
  /// The `tls.ca` certificates, DER.
  pinned: Vec<CertificateDer<'static>>,
}

impl CaOrPinned {
  pub fn new(webpki: Arc<WebPkiServerVerifier>, pinned: Vec<CertificateDer<'static>>) -> Self {
    Self { webpki, pinned }
  }
}

fn is_ca_used_as_end_entity(e: &rustls::Error) -> bool {
  match e {
    rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(inner))) => matches!(
      inner.downcast_ref::<webpki::Error>(),
      Some(webpki::Error::CaUsedAsEndEntity)
    ),
    _ => false,
  }
}

impl ServerCertVerifier for CaOrPinned {
  fn verify_server_cert(
    &self,
    end_entity: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    server_name: &ServerName<'_>,
    ocsp_response: &[u8],
    now: UnixTime,
  ) -> Result<ServerCertVerified, rustls::Error> {
    let verdict = self
      .webpki
      .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now);
    match verdict {
      Err(e)
        if is_ca_used_as_end_entity(&e) && self.pinned.iter().any(|c| c.as_ref() == end_entity.as_ref()) =>
      {
        verify_pinned(end_entity, server_name, now)?;
        Ok(ServerCertVerified::assertion())
      }
      other => other,
    }
  }

  fn verify_tls12_signature(
    &self,
    message: &[u8],
    cert: &CertificateDer<'_>,
    dss: &DigitallySignedStruct,
  ) -> Result<HandshakeSignatureValid, rustls::Error> {
    self.webpki.verify_tls12_signature(message, cert, dss)
  }

  fn verify_tls13_signature(
    &self,
    message: &[u8],
    cert: &CertificateDer<'_>,
    dss: &DigitallySignedStruct,
  ) -> Result<HandshakeSignatureValid, rustls::Error> {
    self.webpki.verify_tls13_signature(message, cert, dss)
  }

  fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
    self.webpki.supported_verify_schemes()
  }
}

/// A pinned certificate's validity period and name (see the module comment).
fn verify_pinned(
  der: &CertificateDer<'_>,
  name: &ServerName<'_>,
  now: UnixTime,
) -> Result<(), rustls::Error> {
  let bad = || rustls::Error::InvalidCertificate(CertificateError::BadEncoding);
  let cert = Certificate::from_der(der.as_ref()).map_err(|_| bad())?;
  let validity = &cert.tbs_certificate.validity;
  let now_secs = now.as_secs();
  if now_secs < validity.not_before.to_unix_duration().as_secs() {
    return Err(CertificateError::NotValidYet.into());
  }
  if now_secs > validity.not_after.to_unix_duration().as_secs() {
    return Err(CertificateError::Expired.into());
  }
  let parsed = ParsedCertificate::try_from(der)?;
  let by_san = verify_server_name(&parsed, name);
  let (ServerName::DnsName(dns), Err(_)) = (name, &by_san) else {
    return by_san;
  };
  if has_dns_san(&cert) {
    return by_san;
  }
  let wanted = dns.as_ref().trim_end_matches('.');
  match common_names(&cert)
    .iter()
    .any(|cn| cn.trim_end_matches('.').eq_ignore_ascii_case(wanted))
  {
    true => Ok(()),
    false => by_san,
  }
}

fn has_dns_san(cert: &Certificate) -> bool {
  let Some(exts) = &cert.tbs_certificate.extensions else {
    return false;
  };
  exts
    .iter()
    .filter(|e| e.extn_id == SubjectAltName::OID)
    .filter_map(|e| SubjectAltName::from_der(e.extn_value.as_bytes()).ok())
    .any(|san| san.0.iter().any(|n| matches!(n, GeneralName::DnsName(_))))
}

/// The subject's CN values, in whichever string type they were written.
fn common_names(cert: &Certificate) -> Vec<String> {
  let mut out = Vec::new();
  for rdn in &cert.tbs_certificate.subject.0 {
    for atv in rdn.0.iter().filter(|a| a.oid == CN) {
      let Ok(bytes) = atv.value.to_der() else {
        continue;
      };
      let text = Utf8StringRef::from_der(&bytes)
        .map(|s| s.as_str().to_string())
        .or_else(|_| PrintableStringRef::from_der(&bytes).map(|s| s.as_str().to_string()))
        .or_else(|_| Ia5StringRef::from_der(&bytes).map(|s| s.as_str().to_string()));
      if let Ok(t) = text {
        out.push(t);
      }
    }
  }
  out
}
