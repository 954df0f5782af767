//! Politeness limits shared by every worker: a global request rate (`--rate`, a `governor`
//! rate limiter with no burst) and a cap on requests in flight per host (`--per-host`).
//! Every attempt, retries included, passes through both.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::cancel::CancelToken;

/// The limits of a run; cheap to share.
#[derive(Debug, Default)]
pub struct Limits {
    rate: Option<DefaultDirectRateLimiter>,
    per_host: Option<usize>,
    /// Blocking engine: requests in flight per host, and a condvar to wait for a free slot.
    in_flight: Mutex<HashMap<String, usize>>,
    freed: Condvar,
    /// Async engine: one semaphore per host.
    semaphores: Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// A host slot held by a blocking request; released on drop.
pub struct HostSlot<'a> {
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
        self.limits.freed.notify_all();
    }
}

impl Limits {
    /// At most `rate` requests per second in all (evenly spaced), and at most `per_host` in
    /// flight to any one host; `None` means no limit.
    pub fn new(rate: Option<NonZeroU32>, per_host: Option<usize>) -> Self {
        Limits {
            rate: rate
                .map(|n| RateLimiter::direct(Quota::per_second(n).allow_burst(NonZeroU32::MIN))),
            per_host: per_host.filter(|n| *n > 0),
            ..Limits::default()
        }
    }

    /// Whether any limit is set (so the hot path can skip all of this).
    pub fn is_active(&self) -> bool {
        self.rate.is_some() || self.per_host.is_some()
    }

    /// Block until `host` has a free slot and the rate allows one more request; `None` if the
    /// run was cancelled meanwhile.
    pub fn acquire_blocking(&self, host: &str, cancel: &CancelToken) -> Option<HostSlot<'_>> {
        let mut slot = HostSlot {
            limits: self,
            host: None,
        };
        if let Some(limit) = self.per_host {
            let mut in_flight = self.in_flight.lock().ok()?;
            loop {
                if cancel.is_cancelled() {
                    return None;
                }
                let count = in_flight.entry(host.to_string()).or_insert(0);
                if *count < limit {
                    *count += 1;
                    break;
                }
                // Wake now and then to notice a cancel.
                in_flight = self
                    .freed
                    .wait_timeout(in_flight, Duration::from_millis(50))
                    .ok()?
                    .0;
            }
            slot.host = Some(host.to_string());
        }
        if let Some(rate) = &self.rate {
            while let Err(not_until) = rate.check() {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                if !cancel.sleep(wait) {
                    return None;
                }
            }
        }
        Some(slot)
    }

    /// The async twin of [`acquire_blocking`](Self::acquire_blocking); the permit frees the slot.
    pub async fn acquire(
        &self,
        host: &str,
        cancel: &CancelToken,
    ) -> Option<Option<OwnedSemaphorePermit>> {
        let permit = match self.per_host {
            Some(limit) => {
                let semaphore = {
                    let mut semaphores = self.semaphores.lock().ok()?;
                    Arc::clone(
                        semaphores
                            .entry(host.to_string())
                            .or_insert_with(|| Arc::new(Semaphore::new(limit))),
                    )
                };
                Some(semaphore.acquire_owned().await.ok()?)
            }
            None => None,
        };
        if let Some(rate) = &self.rate {
            while let Err(not_until) = rate.check() {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                if !cancel.sleep_async(wait).await {
                    return None;
                }
            }
        }
        Some(permit)
    }
}

/// `host:port` of a URL, the key of the per-host limit.
pub fn host_key(uri: &ureq::http::Uri) -> String {
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
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Instant;

    #[test]
    fn per_host_slots_are_capped_and_freed() {
        let limits = Arc::new(Limits::new(None, Some(2)));
        let cancel = CancelToken::new();
        let peak = Arc::new(AtomicUsize::new(0));
        let now = Arc::new(AtomicUsize::new(0));
        std::thread::scope(|scope| {
            for _ in 0..6 {
                scope.spawn(|| {
                    let _slot = limits.acquire_blocking("h:80", &cancel).unwrap();
                    let current = now.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(current, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(20));
                    now.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        assert_eq!(peak.load(Ordering::SeqCst), 2);
        // Another host has its own slots.
        let a = limits.acquire_blocking("a:80", &cancel).unwrap();
        let b = limits.acquire_blocking("b:80", &cancel).unwrap();
        drop((a, b));
    }

    #[test]
    fn the_rate_spaces_requests_evenly() {
        let limits = Limits::new(NonZeroU32::new(50), None);
        let cancel = CancelToken::new();
        let started = Instant::now();
        for _ in 0..11 {
            limits.acquire_blocking("h:80", &cancel).unwrap();
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
        let uri: ureq::http::Uri = "http://u:p@Example.COM:8080/x".parse().unwrap();
        assert_eq!(host_key(&uri), "example.com:8080");
    }
}
