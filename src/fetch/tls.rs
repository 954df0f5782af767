//! The one trust decision both engines build their TLS settings from ([`Trust`]), made before
//! any request, as curl and Python's requests make it:
//!
//! - `SSL_CERT_FILE` / `SSL_CERT_DIR` set: exactly the CAs there (a company's inspecting proxy
//!   root, a private CA);
//! - otherwise the system trust store, plus the built-in Mozilla roots (so a container without
//!   `ca-certificates` still works);
//! - `--cacert FILE` adds to either; `--insecure` turns verification off (never the default).

use std::path::Path;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use std::sync::OnceLock;

use crate::config::{Config, ConfigError};

/// The CAs to trust, and where they came from (a `tls` error's summary names it).
#[derive(Debug, Clone)]
pub(crate) struct Trust {
    pub(crate) roots: Vec<CertificateDer<'static>>,
    /// Where they came from (the command line's summary names it after a `tls` error).
    #[cfg_attr(not(feature = "cli"), allow(dead_code))]
    pub(crate) source: String,
}

/// What the platform offers, read once per process: the environment's files and directories
/// when set, else the system store.
struct Platform {
    certs: Vec<CertificateDer<'static>>,
    /// `SSL_CERT_FILE=…` / `SSL_CERT_DIR=…`, when they decided.
    from_env: Option<String>,
}

fn platform() -> &'static Platform {
    static PLATFORM: OnceLock<Platform> = OnceLock::new();
    PLATFORM.get_or_init(|| {
        let set = |name: &str| {
            std::env::var(name)
                .ok()
                .filter(|v| !v.is_empty())
                .map(|v| format!("{name}={v}"))
        };
        let named: Vec<String> = ["SSL_CERT_FILE", "SSL_CERT_DIR"]
            .into_iter()
            .filter_map(set)
            .collect();
        Platform {
            certs: rustls_native_certs::load_native_certs().certs,
            from_env: (!named.is_empty()).then(|| named.join(" and ")),
        }
    })
}

impl Trust {
    /// The trust of `config`: the platform's (or the environment's) CAs and `--cacert`.
    pub(crate) fn of(config: &Config) -> Result<Trust, ConfigError> {
        let platform = platform();
        let (mut roots, mut source) = match &platform.from_env {
            Some(named) => {
                if platform.certs.is_empty() {
                    return Err(ConfigError::Tls(format!(
                        "{named}: no certificate could be read there"
                    )));
                }
                (
                    platform.certs.clone(),
                    format!("{named} ({} CAs)", platform.certs.len()),
                )
            }
            None => {
                let mut roots = platform.certs.clone();
                roots.extend(webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter().cloned());
                (
                    roots,
                    format!(
                        "the system store ({} CAs) and the built-in Mozilla roots ({})",
                        platform.certs.len(),
                        webpki_root_certs::TLS_SERVER_ROOT_CERTS.len()
                    ),
                )
            }
        };
        if let Some(path) = &config.cacert {
            roots.extend(load_ca_certs(path)?);
            source.push_str(&format!(" and --cacert {}", path.display()));
        }
        Ok(Trust { roots, source })
    }
}

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
