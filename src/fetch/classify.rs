//! The one error-classification table for both engines.
//!
//! An engine hands over its error (as a `std::error::Error` chain) and what only its own error
//! type can tell (a [`Hint`]: ureq's `Timeout` variant, hyper's `is_parse()`, …). The order
//! of the checks below is the whole policy, and it is the same for both engines.

use std::error::Error;
use std::io;

use super::resolver::DnsError;
use crate::record::{ErrorKind, FetchError};

/// A panic caught where it could only travel on as an error (in the async engine's
/// resolver task): classified as `internal`, like a panicking worker.
#[derive(Debug, thiserror::Error)]
#[error("worker panicked: {0}")]
pub(crate) struct Panicked(pub String);

/// What an engine knows about its error beyond the chain of causes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Hint {
    /// Decisive: this is the kind, unless the causes show a DNS or TLS failure.
    pub certain: Option<ErrorKind>,
    /// Used only when no I/O error among the causes says more.
    pub fallback: Option<ErrorKind>,
}

impl Hint {
    pub(crate) fn certain(kind: ErrorKind) -> Self {
        Hint {
            certain: Some(kind),
            fallback: None,
        }
    }

    #[cfg_attr(not(feature = "async"), allow(dead_code))]
    pub(crate) fn fallback(kind: ErrorKind) -> Self {
        Hint {
            certain: None,
            fallback: Some(kind),
        }
    }
}

/// The table: an error already typed, then a caught panic, then DNS, then TLS (anywhere among the causes), then the engine's certain hint, then
/// the first I/O error's kind, then the fallback hint, then `io`.
pub(crate) fn classify(error: &(dyn Error + 'static), hint: Hint) -> FetchError {
    let mut dns = false;
    let mut tls = false;
    let mut panicked = false;
    let mut io_kind_found = None;
    let mut root = error;
    let mut cause = Some(error);
    while let Some(e) = cause {
        if let Some(typed) = e.downcast_ref::<FetchError>() {
            // Typed where it happened (a SOCKS5 refusal under ureq): it keeps its kind.
            return typed.clone();
        }
        dns |= e.is::<DnsError>();
        panicked |= e.is::<Panicked>();
        tls |= e.is::<rustls::Error>();
        root = e;
        cause = e.source();
        if let Some(io) = e.downcast_ref::<io::Error>() {
            io_kind_found.get_or_insert(io.kind());
            // An io::Error's `source()` skips the error it wraps; look at that one too.
            if let Some(inner) = io.get_ref() {
                cause = Some(inner);
            }
        }
    }
    let kind = if panicked {
        ErrorKind::Internal
    } else if dns {
        ErrorKind::Dns
    } else if tls {
        ErrorKind::Tls
    } else if let Some(kind) = hint.certain {
        kind
    } else if let Some(kind) = io_kind_found {
        io_kind(kind)
    } else {
        hint.fallback.unwrap_or(ErrorKind::Io)
    };
    FetchError::new(kind, message(error, root))
}

/// The error kind of an I/O failure: refused/unreachable are `connect`, timeouts `timeout`.
pub(crate) fn io_kind(kind: io::ErrorKind) -> ErrorKind {
    use io::ErrorKind as K;
    match kind {
        K::ConnectionRefused
        | K::HostUnreachable
        | K::NetworkUnreachable
        | K::AddrNotAvailable
        | K::NetworkDown => ErrorKind::Connect,
        K::TimedOut | K::WouldBlock => ErrorKind::Timeout,
        _ => ErrorKind::Io,
    }
}

/// The top error's text, and its root cause's when that adds something.
fn message(top: &(dyn Error + 'static), root: &(dyn Error + 'static)) -> String {
    let top_text = top.to_string();
    let root_text = root.to_string();
    if std::ptr::addr_eq(top, root) || top_text.contains(&root_text) {
        top_text
    } else {
        format!("{top_text}: {root_text}")
    }
}

/// The `status` error of a response with a code of 400 or more (`HTTP 404 Not Found`).
pub(crate) fn status_error(code: u16) -> Option<FetchError> {
    if code < 400 {
        return None;
    }
    let reason = http::StatusCode::from_u16(code)
        .ok()
        .and_then(|s| s.canonical_reason())
        .map_or(String::new(), |r| format!(" {r}"));
    Some(FetchError::new(
        ErrorKind::Status,
        format!("HTTP {code}{reason}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("wrapper")]
    struct Wrapper(#[source] io::Error);

    #[test]
    fn the_table_orders_dns_tls_hints_and_io_kinds() {
        let refused = io::Error::new(io::ErrorKind::ConnectionRefused, "refused");
        assert_eq!(classify(&refused, Hint::default()).kind, ErrorKind::Connect);
        let reset = Wrapper(io::Error::new(io::ErrorKind::ConnectionReset, "reset"));
        let error = classify(&reset, Hint::fallback(ErrorKind::Connect));
        assert_eq!(error.kind, ErrorKind::Io, "an io cause beats a fallback");
        assert_eq!(error.message, "wrapper: reset");
        let timed_out = io::Error::new(io::ErrorKind::TimedOut, "slow");
        assert_eq!(
            classify(&timed_out, Hint::default()).kind,
            ErrorKind::Timeout
        );
        let tls = io::Error::other(rustls::Error::General("bad cert".into()));
        assert_eq!(
            classify(&tls, Hint::certain(ErrorKind::Io)).kind,
            ErrorKind::Tls
        );
        let other = io::Error::other("x");
        assert_eq!(
            classify(&other, Hint::certain(ErrorKind::Protocol)).kind,
            ErrorKind::Protocol
        );
        assert_eq!(status_error(404).unwrap().message, "HTTP 404 Not Found");
        assert_eq!(status_error(302), None);
    }
}
