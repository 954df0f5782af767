//! When to try a request again, and how long to wait first: exponential backoff with full
//! jitter, `Retry-After` honoured up to a cap, idempotent methods only unless told otherwise.
//! Shared by both engines; only the sleeping differs.

use std::time::{Duration, SystemTime};

use super::Outcome;
use crate::config::RetryPolicy;
use crate::record::{ErrorKind, FetchError};

/// Methods that may be repeated without changing the result (RFC 9110 §9.2.2).
pub(crate) fn idempotent(method: &str) -> bool {
    matches!(
        method,
        "GET" | "HEAD" | "PUT" | "DELETE" | "OPTIONS" | "TRACE"
    )
}

/// Failures worth another try: the network or an overloaded server, not a bad request.
fn transient(error: &FetchError, status: Option<u16>) -> bool {
    match error.kind {
        ErrorKind::Connect | ErrorKind::Timeout | ErrorKind::Io => true,
        ErrorKind::Status => status.is_some_and(|s| s == 429 || s >= 500),
        _ => false,
    }
}

impl RetryPolicy {
    /// How long to wait before attempt `attempts + 1`, or `None` to stop: after `attempts`
    /// attempts of `method` that ended in `error` (with `status`, and the response's
    /// `retry_after`).
    pub(crate) fn wait(
        &self,
        attempts: u32,
        method: &str,
        error: Option<&FetchError>,
        status: Option<u16>,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        let error = error?;
        if attempts > self.retries || !transient(error, status) {
            return None;
        }
        if !self.all_methods && !idempotent(method) {
            return None;
        }
        if let Some(wait) = retry_after {
            return Some(wait.min(self.max_wait));
        }
        let exponent = attempts.saturating_sub(1).min(30);
        let ceiling = self
            .backoff
            .saturating_mul(1 << exponent)
            .min(self.max_wait);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        Some(Duration::from_nanos(fastrand::u64(0..=nanos)))
    }
}

impl RetryPolicy {
    /// Count the attempt that produced `outcome` into `attempts` (and the outcome), then say
    /// how long to wait before the next one, or `None` when `outcome` is final.
    pub(crate) fn after_attempt(
        &self,
        attempts: &mut u32,
        method: &str,
        outcome: &mut Outcome,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        *attempts += outcome.attempts;
        outcome.attempts = *attempts;
        self.wait(
            *attempts,
            method,
            outcome.error.as_ref(),
            outcome.status,
            retry_after,
        )
    }
}

/// Parse a `Retry-After` value: delay in seconds, or an HTTP date (a date in the past is 0).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(kind: ErrorKind) -> FetchError {
        FetchError::new(kind, "x")
    }

    fn policy(retries: u32) -> RetryPolicy {
        RetryPolicy {
            retries,
            ..RetryPolicy::default()
        }
    }

    #[test]
    fn only_transient_failures_of_safe_methods_are_retried() {
        let p = policy(3);
        let connect = error(ErrorKind::Connect);
        assert!(p.wait(1, "GET", Some(&connect), None, None).is_some());
        assert!(
            p.wait(1, "GET", None, Some(200), None).is_none(),
            "success is final"
        );
        let status = error(ErrorKind::Status);
        assert!(p.wait(1, "GET", Some(&status), Some(503), None).is_some());
        assert!(p.wait(1, "GET", Some(&status), Some(429), None).is_some());
        assert!(p.wait(1, "GET", Some(&status), Some(404), None).is_none());
        for kind in [
            ErrorKind::InvalidUrl,
            ErrorKind::Dns,
            ErrorKind::Tls,
            ErrorKind::TooLarge,
            ErrorKind::Protocol,
        ] {
            assert!(
                p.wait(1, "GET", Some(&error(kind)), None, None).is_none(),
                "{kind:?}"
            );
        }
        assert!(p.wait(1, "POST", Some(&connect), None, None).is_none());
        assert!(p.wait(1, "PUT", Some(&connect), None, None).is_some());
        let all = RetryPolicy {
            all_methods: true,
            ..policy(3)
        };
        assert!(all.wait(1, "POST", Some(&connect), None, None).is_some());
    }

    #[test]
    fn retries_stop_after_the_budget() {
        let p = policy(2);
        let io = error(ErrorKind::Io);
        assert!(p.wait(2, "GET", Some(&io), None, None).is_some());
        assert!(p.wait(3, "GET", Some(&io), None, None).is_none());
        assert!(policy(0).wait(1, "GET", Some(&io), None, None).is_none());
    }

    #[test]
    fn backoff_is_full_jitter_under_an_exponential_ceiling() {
        let p = RetryPolicy {
            retries: 10,
            backoff: Duration::from_millis(100),
            max_wait: Duration::from_millis(500),
            all_methods: false,
        };
        let io = error(ErrorKind::Io);
        for attempts in 1..=6u32 {
            let ceiling = Duration::from_millis(100 * (1 << (attempts - 1))).min(p.max_wait);
            for _ in 0..200 {
                let wait = p.wait(attempts, "GET", Some(&io), None, None).unwrap();
                assert!(
                    wait <= ceiling,
                    "attempt {attempts}: {wait:?} > {ceiling:?}"
                );
            }
        }
        let waits: Vec<Duration> = (0..50)
            .map(|_| p.wait(3, "GET", Some(&io), None, None).unwrap())
            .collect();
        assert!(
            waits.iter().any(|w| *w != waits[0]),
            "jitter varies the wait"
        );
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_cap() {
        let p = RetryPolicy {
            max_wait: Duration::from_secs(5),
            ..policy(1)
        };
        let status = error(ErrorKind::Status);
        let wait = p.wait(
            1,
            "GET",
            Some(&status),
            Some(429),
            Some(Duration::from_secs(2)),
        );
        assert_eq!(wait, Some(Duration::from_secs(2)));
        let wait = p.wait(
            1,
            "GET",
            Some(&status),
            Some(429),
            Some(Duration::from_secs(600)),
        );
        assert_eq!(wait, Some(Duration::from_secs(5)));
    }

    #[test]
    fn retry_after_parses_seconds_and_http_dates() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        let soon = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(120));
        let wait = parse_retry_after(&soon).unwrap();
        assert!(
            wait > Duration::from_secs(100) && wait <= Duration::from_secs(120),
            "{wait:?}"
        );
        assert_eq!(parse_retry_after("soon"), None);
    }
}
