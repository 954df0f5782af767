//! Politeness limits shared by every worker of both engines: a global request rate (`--rate`,
//! a `governor` rate limiter with no burst), the same per host (`--rate-per-host`, a keyed
//! one) and a cap on requests in flight per host (`--per-host`). Every attempt, retries included, passes through both, and every wait ends
//! at once when the run is cancelled.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;

use event_listener::Event;
use futures_util::future::{Either, select};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, NotUntil, Quota, RateLimiter};

use super::Transport;
use crate::cancel::CancelToken;
use crate::config::Rate;

/// The limits of a run; cheap to share.
#[derive(Debug, Default)]
pub(crate) struct Limits {
    rate: Option<DefaultDirectRateLimiter>,
    rate_per_host: Option<DefaultKeyedRateLimiter<String>>,
    per_host: Option<usize>,
    /// Requests in flight per host, and an event fired whenever a slot is freed.
    in_flight: Mutex<HashMap<String, usize>>,
    freed: Event,
}

/// A host slot held by a request; released on drop.
pub(crate) struct HostSlot<'a> {
    limits: &'a Limits,
    host: Option<String>,
}

impl Drop for HostSlot<'_> {
    fn drop(&mut self) {
        let Some(host) = self.host.take() else { return };
        if let Ok(mut in_flight) = self.limits.in_flight.lock()
            && let Some(count) = in_flight.get_mut(&host)
        {
            *count = count.saturating_sub(1);
        }
        self.limits.freed.notify(usize::MAX);
    }
}

impl Limits {
    /// At most `rate` requests in all and `rate_per_host` to any one host (evenly spaced),
    /// and at most `per_host` in flight to any one host; `None` means no limit.
    pub(crate) fn new(
        rate: Option<Rate>,
        rate_per_host: Option<Rate>,
        per_host: Option<usize>,
    ) -> Self {
        let quota =
            |rate: Rate| Some(Quota::with_period(rate.interval())?.allow_burst(NonZeroU32::MIN));
        Limits {
            rate: rate.and_then(quota).map(RateLimiter::direct),
            rate_per_host: rate_per_host.and_then(quota).map(RateLimiter::keyed),
            per_host: per_host.filter(|n| *n > 0),
            ..Limits::default()
        }
    }

    /// Whether any limit is set (so the hot path can skip all of this).
    pub(crate) fn is_active(&self) -> bool {
        self.rate.is_some() || self.rate_per_host.is_some() || self.per_host.is_some()
    }

    /// Wait until `host` has a free slot and the rate allows one more request; `None` if the
    /// run was cancelled meanwhile. Rate waits sleep the way `transport` sleeps.
    pub(crate) async fn acquire(
        &self,
        host: &str,
        cancel: &CancelToken,
        transport: &impl Transport,
    ) -> Option<HostSlot<'_>> {
        let mut slot = HostSlot {
            limits: self,
            host: None,
        };
        if let Some(limit) = self.per_host {
            loop {
                // Listen before looking, so a slot freed in between is not missed.
                let freed = self.freed.listen();
                let stopped = cancel.listen();
                if cancel.is_cancelled() {
                    return None;
                }
                {
                    let mut in_flight = self.in_flight.lock().ok()?;
                    let count = in_flight.entry(host.to_string()).or_insert(0);
                    if *count < limit {
                        *count += 1;
                        break;
                    }
                }
                if let Either::Right(_) = select(freed, stopped).await {
                    return None;
                }
            }
            slot.host = Some(host.to_string());
        }
        // The host's turn first, then the run's: a request waiting on its host holds no
        // place in the run's rate that another host could have used.
        if let Some(rate) = &self.rate_per_host {
            let key = host.to_string();
            if !pace(|| rate.check_key(&key), transport, cancel).await {
                return None;
            }
        }
        if let Some(rate) = &self.rate
            && !pace(|| rate.check(), transport, cancel).await
        {
            return None;
        }
        Some(slot)
    }
}

/// Wait (the way `transport` sleeps) until `check` lets one more request through; false if
/// the run was cancelled meanwhile.
async fn pace(
    check: impl Fn() -> Result<(), NotUntil<<DefaultClock as Clock>::Instant>>,
    transport: &impl Transport,
    cancel: &CancelToken,
) -> bool {
    while let Err(not_until) = check() {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        if !transport.sleep(wait, cancel).await {
            return false;
        }
    }
    true
}

/// `host:port` of a URL, the key of the per-host limit.
pub(crate) fn host_key(uri: &http::Uri) -> String {
    uri.authority().map_or_else(String::new, |a| {
        a.as_str()
            .rsplit('@')
            .next()
            .unwrap_or("")
            .to_ascii_lowercase()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fetch::{BodyStream, Head, Outgoing, Phases};
    use crate::record::{ErrorKind, FetchError};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    /// Sleeps like the thread engine; sends nothing.
    struct Blocking;
    struct NoBody;

    impl BodyStream for NoBody {
        async fn chunk(&mut self) -> Result<Option<&[u8]>, FetchError> {
            Ok(None)
        }
    }

    impl Transport for Blocking {
        type Body = NoBody;
        async fn send(&self, _: Outgoing<'_>, _: &mut Phases) -> Result<Head<NoBody>, FetchError> {
            Err(FetchError::new(ErrorKind::Internal, "no network here"))
        }
        async fn sleep(&self, duration: Duration, cancel: &CancelToken) -> bool {
            cancel.sleep(duration)
        }
    }

    fn acquire<'a>(limits: &'a Limits, host: &str, cancel: &CancelToken) -> Option<HostSlot<'a>> {
        pollster::block_on(limits.acquire(host, cancel, &Blocking))
    }

    #[test]
    fn per_host_slots_are_capped_and_freed() {
        let limits = Arc::new(Limits::new(None, None, Some(2)));
        let cancel = CancelToken::new();
        let peak = Arc::new(AtomicUsize::new(0));
        let now = Arc::new(AtomicUsize::new(0));
        std::thread::scope(|scope| {
            for _ in 0..6 {
                scope.spawn(|| {
                    let _slot = acquire(&limits, "h:80", &cancel).unwrap();
                    let current = now.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(current, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(20));
                    now.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        assert!(peak.load(Ordering::SeqCst) <= 2);
        // Another host has its own slots.
        let a = acquire(&limits, "a:80", &cancel).unwrap();
        let b = acquire(&limits, "b:80", &cancel).unwrap();
        drop((a, b));
    }

    #[test]
    fn a_cancel_ends_a_wait_for_a_host_slot() {
        let limits = Limits::new(None, None, Some(1));
        let cancel = CancelToken::new();
        let held = acquire(&limits, "h:80", &cancel).unwrap();
        std::thread::scope(|scope| {
            let waiter = scope.spawn(|| acquire(&limits, "h:80", &cancel).is_none());
            // The waiter may or may not be parked yet: either way the cancel must end it.
            cancel.cancel();
            assert!(waiter.join().unwrap(), "a cancelled wait gets no slot");
        });
        drop(held);
    }

    #[test]
    fn the_rate_spaces_requests_evenly() {
        let limits = Limits::new(
            Some(Rate::per_second(NonZeroU32::new(50).unwrap())),
            None,
            None,
        );
        let cancel = CancelToken::new();
        let started = Instant::now();
        for _ in 0..11 {
            acquire(&limits, "h:80", &cancel).unwrap();
        }
        // 11 requests at 50/s: the first is free, then 10 gaps of 20 ms (a lower bound).
        assert!(
            started.elapsed() >= Duration::from_millis(195),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn host_keys_ignore_credentials_and_case() {
        let uri: http::Uri = "http://u:p@Example.COM:8080/x".parse().unwrap();
        assert_eq!(host_key(&uri), "example.com:8080");
    }
}
