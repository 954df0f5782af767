//! The cancel flag of a run, shared by the dispatcher, the workers and a signal handler.
//!
//! Setting it wakes every waiter at once — a blocking sleep, an async sleep, a request waiting
//! for a per-host slot — so nothing polls for it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use event_listener::{Event, EventListener, Listener};

/// A flag that stops a run: nothing more is sent, and every input not yet sent gets a
/// `cancelled` record. Cheap to clone; safe to set from a signal handler thread.
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<Inner>);

#[derive(Debug, Default)]
struct Inner {
    cancelled: AtomicBool,
    at: OnceLock<Instant>,
    wake: Event,
}

/// How long requests in flight may go on after a cancel before they are abandoned as
/// `cancelled` ("interrupted mid-transfer"), whatever the servers do.
pub const GRACE: Duration = Duration::from_secs(1);

impl CancelToken {
    /// A token that is not cancelled.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stop dispatching, and wake everything that waits on this token.
    pub fn cancel(&self) {
        self.0.at.get_or_init(Instant::now);
        self.0.cancelled.store(true, Ordering::SeqCst);
        self.0.wake.notify(usize::MAX);
    }

    /// Whether [`cancel`](Self::cancel) was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.cancelled.load(Ordering::SeqCst)
    }

    /// Once cancelled: how much of the [`GRACE`] is left for requests in flight.
    pub(crate) fn grace_left(&self) -> Option<Duration> {
        let at = self.0.at.get()?;
        Some(GRACE.saturating_sub(at.elapsed()))
    }

    /// Whether the grace after a cancel has run out: requests still going are abandoned.
    pub(crate) fn past_grace(&self) -> bool {
        self.grace_left().is_some_and(|left| left.is_zero())
    }

    /// A listener that fires when the token is cancelled (check the flag after creating it).
    pub(crate) fn listen(&self) -> EventListener {
        self.0.wake.listen()
    }

    /// Block for `duration`; returns false (early, at once) if cancelled meanwhile.
    pub fn sleep(&self, duration: Duration) -> bool {
        let deadline = Instant::now() + duration;
        loop {
            let listener = self.listen();
            if self.is_cancelled() {
                return false;
            }
            if listener.wait_deadline(deadline).is_none() {
                return !self.is_cancelled();
            }
        }
    }

    /// Resolves once the token is cancelled.
    #[cfg(feature = "async")]
    pub(crate) async fn cancelled(&self) {
        loop {
            let listener = self.listen();
            if self.is_cancelled() {
                return;
            }
            listener.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cancel_wakes_a_sleeper_at_once() {
        let token = CancelToken::new();
        assert!(token.sleep(Duration::from_millis(5)));
        let sleeper = {
            let token = token.clone();
            std::thread::spawn(move || {
                let started = Instant::now();
                (token.sleep(Duration::from_secs(60)), started.elapsed())
            })
        };
        token.cancel();
        let (completed, slept) = sleeper.join().unwrap();
        assert!(!completed);
        assert!(slept < Duration::from_secs(30), "{slept:?}");
    }
}
