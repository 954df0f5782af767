//! The one trust decision both engines build their TLS settings from ([`Trust`]), made once
//! per run at its first `https://` connection ([`LazyTls`]; up front when the user names TLS
//! files), as curl and Python's requests make it:
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
use crate::record::{ErrorKind, FetchError};

/// An engine's TLS settings, made at its first `https://` connection rather than up front:
/// reading the system trust store (a few hundred PEM files) is a third of the CPU of a
/// one-shot `poolfetch fetch http://…`, which never needs it. When the configuration names
/// files of its own (`--cacert`, `--cert`, `--key`) they are read up front, so a bad one is
/// a usage error before any request, as before.
pub(crate) struct LazyTls<T> {
    made: OnceLock<Result<T, String>>,
    make: Box<dyn Fn() -> Result<T, ConfigError> + Send + Sync>,
}

impl<T> LazyTls<T> {
    /// Settings `make` builds from `config`: now when it names TLS files, else when first
    /// asked for.
    pub(crate) fn new(
        config: &Config,
        make: impl Fn(&Config) -> Result<T, ConfigError> + Send + Sync + 'static,
    ) -> Result<Self, ConfigError> {
        let owned = config.clone();
        let lazy = LazyTls {
            made: OnceLock::new(),
            make: Box::new(move || make(&owned)),
        };
        let files = [&config.cacert, &config.client_cert, &config.client_key];
        if files.iter().any(|file| file.is_some()) {
            let made = (lazy.make)()?;
            let _ = lazy.made.set(Ok(made));
        }
        Ok(lazy)
    }

    /// The settings, made now if not yet; a failure to make them is a `tls` error of the
    /// request that needed them.
    pub(crate) fn get(&self) -> Result<&T, FetchError> {
        self.made
            .get_or_init(|| (self.make)().map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|why| FetchError::new(ErrorKind::Tls, why.clone()))
    }
}

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
        let set = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        let (file, dir) = (set("SSL_CERT_FILE"), set("SSL_CERT_DIR"));
        if file.is_none() && dir.is_none() {
            return Platform {
                certs: rustls_native_certs::load_native_certs().certs,
                from_env: None,
            };
        }
        // Read here rather than by rustls-native-certs, which follows a FIFO into a hang and
        // `/dev/zero` until memory runs out: regular files only, each at most
        // MAX_TRUST_FILE bytes. What cannot be read is said in the source; it matters only
        // to an https:// URL, which then fails as `tls` (curl fetches http:// URLs anyway).
        let mut certs = Vec::new();
        let mut named = Vec::new();
        if let Some(file) = file {
            let path = Path::new(&file);
            let problem = match read_trust_file(path) {
                Ok(bytes) => {
                    let found = pem_certs(&bytes);
                    let problem = found.is_empty().then(|| "no PEM certificate in it".into());
                    certs.extend(found);
                    problem
                }
                Err(why) => Some(why),
            };
            named.push(described("SSL_CERT_FILE", path, problem));
        }
        if let Some(dir) = dir {
            let path = Path::new(&dir);
            let problem = match std::fs::read_dir(path) {
                Ok(entries) => {
                    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
                    entries.sort();
                    for entry in entries.iter().take(MAX_TRUST_DIR_FILES) {
                        if let Ok(bytes) = read_trust_file(entry) {
                            certs.extend(pem_certs(&bytes));
                        }
                    }
                    None
                }
                Err(e) => Some(format!("cannot be read: {e}")),
            };
            named.push(described("SSL_CERT_DIR", path, problem));
        }
        Platform {
            certs,
            from_env: Some(named.join(" and ")),
        }
    })
}

/// The largest trust file read (a full CA bundle is a few hundred KB).
const MAX_TRUST_FILE: u64 = 16 << 20;

/// The most files of an `SSL_CERT_DIR` read.
const MAX_TRUST_DIR_FILES: usize = 10_000;

/// `NAME=path`, and what was wrong with it, if anything.
fn described(name: &str, path: &Path, problem: Option<String>) -> String {
    match problem {
        Some(problem) => format!("{name}={} ({problem})", path.display()),
        None => format!("{name}={}", path.display()),
    }
}

/// A trust file's bytes: a regular file (a link to one is fine; a FIFO, a device or a
/// directory is not, and opening never waits for a writer) of at most [`MAX_TRUST_FILE`].
pub(crate) fn read_trust_file(path: &Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| format!("cannot be read: {e}"))?;
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot be read: {e}"))?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    if meta.len() > MAX_TRUST_FILE {
        return Err(format!("larger than {} MiB", MAX_TRUST_FILE >> 20));
    }
    let mut bytes = Vec::new();
    file.take(MAX_TRUST_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot be read: {e}"))?;
    if bytes.len() as u64 > MAX_TRUST_FILE {
        return Err(format!("larger than {} MiB", MAX_TRUST_FILE >> 20));
    }
    Ok(bytes)
}

/// The certificates in PEM `bytes` (anything else in them skipped).
fn pem_certs(bytes: &[u8]) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_slice_iter(bytes)
        .filter_map(Result::ok)
        .collect()
}

impl Trust {
    /// The trust of `config`: the platform's (or the environment's) CAs and `--cacert`.
    pub(crate) fn of(config: &Config) -> Result<Trust, ConfigError> {
        let platform = platform();
        let (mut roots, mut source) = match &platform.from_env {
            Some(named) => (
                platform.certs.clone(),
                format!("{named} ({} CAs)", platform.certs.len()),
            ),
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
            source.push_str(&format!(" and the CA file {}", path.display()));
        }
        Ok(Trust { roots, source })
    }
}

/// The certificates of a PEM file (the extra CA file): at least one, or a clear error. Read as
/// trust files are ([`read_trust_file`]): a FIFO or `/dev/zero` is refused, not waited on.
pub(crate) fn load_ca_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    let bad = |why: String| ConfigError::CaFile {
        path: path.to_path_buf(),
        why,
    };
    let bytes = read_trust_file(path).map_err(bad)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(e.to_string()))?;
    if certs.is_empty() {
        return Err(bad("no PEM certificate in it".into()));
    }
    Ok(certs)
}

/// A client certificate chain and its key, read once for both engines.
pub(crate) struct ClientIdentity {
    /// Leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// The async engine's (rustls takes it parsed).
    #[cfg_attr(not(feature = "async"), allow(dead_code))]
    pub key: rustls_pki_types::PrivateKeyDer<'static>,
    /// The PEM the key was read from (ureq takes a key as PEM: it does not export the kind a
    /// DER key needs).
    pub key_pem: Vec<u8>,
}

impl ClientIdentity {
    /// `config`'s client certificate (`client_cert`, its key from `client_key` or the same
    /// file), read as trust files are; `None` without one.
    pub(crate) fn of(config: &Config) -> Result<Option<ClientIdentity>, ConfigError> {
        use rustls_pki_types::PrivateKeyDer;
        use rustls_pki_types::pem::PemObject;
        let Some(cert_path) = &config.client_cert else {
            return Ok(None);
        };
        let bad = |path: &Path, why: String| ConfigError::ClientCert {
            path: path.to_path_buf(),
            why,
        };
        let bytes = read_trust_file(cert_path).map_err(|why| bad(cert_path, why))?;
        let chain = CertificateDer::pem_slice_iter(&bytes)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(cert_path, e.to_string()))?;
        if chain.is_empty() {
            return Err(bad(cert_path, "no PEM certificate in it".into()));
        }
        let key_path = config.client_key.as_deref().unwrap_or(cert_path);
        let key_bytes = match &config.client_key {
            Some(path) => read_trust_file(path).map_err(|why| bad(path, why))?,
            None => bytes,
        };
        let key = PrivateKeyDer::from_pem_slice(&key_bytes).map_err(|e| {
            let why = match e {
                rustls_pki_types::pem::Error::NoItemsFound => {
                    "no PEM private key in it (give it with --key)".to_string()
                }
                e => e.to_string(),
            };
            bad(key_path, why)
        })?;
        Ok(Some(ClientIdentity {
            chain,
            key,
            key_pem: key_bytes,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Settings `make` counts the calls of.
    fn counted(config: &Config) -> (Result<LazyTls<usize>, ConfigError>, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&calls);
        let lazy = LazyTls::new(config, move |_| Ok(counter.fetch_add(1, Ordering::SeqCst)));
        (lazy, calls)
    }

    #[test]
    fn tls_settings_are_made_at_first_use_once_or_up_front_when_files_are_named() {
        let (lazy, calls) = counted(&Config::default());
        let lazy = lazy.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 0, "nothing made before a use");
        assert_eq!(lazy.get().ok(), Some(&0));
        assert_eq!(lazy.get().ok(), Some(&0));
        assert_eq!(calls.load(Ordering::SeqCst), 1, "made once");

        let named = Config {
            cacert: Some("ca.pem".into()),
            ..Config::default()
        };
        let (lazy, calls) = counted(&named);
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "a named file is read up front"
        );
        assert_eq!(lazy.unwrap().get().ok(), Some(&0));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn a_named_file_that_fails_is_an_error_up_front_and_a_late_failure_is_tls() {
        let named = Config {
            cacert: Some("/nonexistent/ca.pem".into()),
            ..Config::default()
        };
        let failing =
            |config: &Config| load_ca_certs(config.cacert.as_deref().unwrap_or(Path::new("")));
        assert!(LazyTls::new(&named, failing).is_err());
        let late = LazyTls::new(&Config::default(), |_| -> Result<(), ConfigError> {
            Err(ConfigError::Tls("no provider".into()))
        })
        .unwrap();
        assert_eq!(late.get().err().map(|e| e.kind), Some(ErrorKind::Tls));
    }
}
