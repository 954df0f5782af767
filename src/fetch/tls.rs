//! TLS material shared by both engines: the CAs of `--cacert`, loaded once and checked before
//! any request. Each engine builds its own TLS settings from them (built-in Mozilla roots plus
//! these, or no verification with `--insecure`, never the default).

use std::path::Path;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::config::ConfigError;

/// The certificates of a PEM file (`--cacert`): at least one, or a clear error.
pub(crate) fn load_ca_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
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
