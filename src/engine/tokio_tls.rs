//! The async engine's TLS: a rustls client configuration with the ring provider and the one
//! trust decision both engines share ([`Trust`]), or no verification with `--insecure`.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use crate::config::{Config, ConfigError};
use crate::fetch::tls::{ClientIdentity, Trust};

/// The async engine's TLS connectors for `config`: one offering HTTP/1.1 only, one offering
/// h2 by ALPN first.
pub(crate) fn connectors(
    config: &Config,
) -> Result<(tokio_rustls::TlsConnector, tokio_rustls::TlsConnector), ConfigError> {
    let plain = rustls_config(config)?;
    let mut offering_h2 = plain.clone();
    offering_h2.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok((
        tokio_rustls::TlsConnector::from(Arc::new(plain)),
        tokio_rustls::TlsConnector::from(Arc::new(offering_h2)),
    ))
}

/// A rustls client configuration for `config` (the async engine's TLS), with the ring provider.
fn rustls_config(config: &Config) -> Result<rustls::ClientConfig, ConfigError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| ConfigError::Tls(e.to_string()))?;
    let identity = ClientIdentity::of(config)?;
    let verified = if config.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider)))
    } else {
        let mut roots = rustls::RootCertStore::empty();
        // A certificate of the system store rustls cannot parse is skipped, as ureq skips it.
        roots.add_parsable_certificates(Trust::of(config)?.roots);
        builder.with_root_certificates(roots)
    };
    match identity {
        Some(ClientIdentity { chain, key, .. }) => verified
            .with_client_auth_cert(chain, key)
            .map_err(|e| ConfigError::ClientCert {
                path: config.client_cert.clone().unwrap_or_default(),
                why: e.to_string(),
            }),
        None => Ok(verified.with_no_client_auth()),
    }
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
