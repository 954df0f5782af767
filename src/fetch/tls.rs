//! TLS settings for both engines: the built-in Mozilla roots, plus the CAs of `--cacert`, or
//! no verification at all with `--insecure` (never the default).

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use crate::config::{Config, ConfigError};

/// The certificates of a PEM file (`--cacert`): at least one, or a clear error.
pub fn load_ca_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    let bad = |why: String| ConfigError::Tls(format!("--cacert {}: {why}", path.display()));
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(e.to_string()))?;
    if certs.is_empty() {
        return Err(bad("no PEM certificate in it".into()));
    }
    Ok(certs)
}

/// ureq's TLS settings for `config`.
pub fn ureq_tls(config: &Config) -> Result<ureq::tls::TlsConfig, ConfigError> {
    let mut builder = ureq::tls::TlsConfig::builder().disable_verification(config.insecure);
    if let Some(path) = &config.cacert {
        // ureq takes either its built-in roots or a list; the list is the built-in Mozilla
        // roots (as DER) plus the extra CAs, so --cacert adds rather than replaces.
        let extra = load_ca_certs(path)?;
        let roots = webpki_root_certs::TLS_SERVER_ROOT_CERTS
            .iter()
            .chain(extra.iter())
            .map(|der| ureq::tls::Certificate::from_der(der.as_ref()).to_owned());
        builder = builder.root_certs(ureq::tls::RootCerts::from(roots.collect::<Vec<_>>()));
    }
    Ok(builder.build())
}

/// A rustls client configuration for `config` (the async engine's TLS), with the ring provider.
pub fn rustls_config(config: &Config) -> Result<rustls::ClientConfig, ConfigError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| ConfigError::Tls(e.to_string()))?;
    if config.insecure {
        return Ok(builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
            .with_no_client_auth());
    }
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = &config.cacert {
        for cert in load_ca_certs(path)? {
            roots
                .add(cert)
                .map_err(|e| ConfigError::Tls(format!("--cacert {}: {e}", path.display())))?;
        }
    }
    Ok(builder.with_root_certificates(roots).with_no_client_auth())
}

/// `--insecure`: accept any certificate (signatures are still checked, the chain is not).
#[derive(Debug)]
struct NoVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for NoVerification {
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
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
