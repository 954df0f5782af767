//! A precise timer for the server's delays.
//!
//! tokio's timer has millisecond granularity and rounds deadlines up, which made every
//! `/delay/100` take about 101.8 ms and bent the stepwise curve by ~2% per wave. One thread
//! sleeping on a heap of deadlines (parking with a nanosecond timeout) is accurate to tens of
//! microseconds and still costs no thread per waiting request.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use tokio::sync::oneshot;

/// Handle to the timer thread; the thread ends when every handle is dropped.
#[derive(Debug, Clone)]
pub struct Timer {
    requests: Sender<Entry>,
}

#[derive(Debug)]
struct Entry {
    deadline: Instant,
    seq: u64,
    wake: oneshot::Sender<()>,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        (self.deadline, self.seq) == (other.deadline, other.seq)
    }
}

impl Eq for Entry {}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Entry {
    // Reversed: BinaryHeap is a max-heap and we want the earliest deadline on top.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.deadline, other.seq).cmp(&(self.deadline, self.seq))
    }
}

impl Timer {
    /// Start the timer thread.
    pub fn start() -> std::io::Result<Timer> {
        let (requests, incoming) = crossbeam_channel::unbounded();
        std::thread::Builder::new()
            .name("poolfetch-server-timer".into())
            .spawn(move || run(incoming))?;
        Ok(Timer { requests })
    }

    /// Wait `duration` from now.
    pub async fn sleep(&self, duration: Duration) {
        if duration.is_zero() {
            return;
        }
        let deadline = Instant::now() + duration;
        let (wake, woken) = oneshot::channel();
        let entry = Entry {
            deadline,
            seq: 0,
            wake,
        };
        if self.requests.send(entry).is_err() || woken.await.is_err() {
            // The timer thread is gone (shutting down): fall back to tokio's timer.
            tokio::time::sleep_until(deadline.into()).await;
        }
    }
}

fn run(incoming: Receiver<Entry>) {
    let mut heap = BinaryHeap::new();
    let mut seq = 0u64;
    loop {
        let received = match heap.peek() {
            Some(Entry { deadline, .. }) => incoming.recv_deadline(*deadline),
            None => incoming.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match received {
            Ok(mut entry) => {
                seq += 1;
                entry.seq = seq;
                heap.push(entry);
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        let now = Instant::now();
        while heap.peek().is_some_and(|e| e.deadline <= now) {
            if let Some(entry) = heap.pop() {
                // The request may have been abandoned; nobody to wake then.
                let _ = entry.wake.send(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sleeps_wake_in_deadline_order_and_never_early() {
        let timer = Timer::start().unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let order = runtime.block_on(async {
            let started = Instant::now();
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            for ms in [30u64, 10, 20] {
                let timer = timer.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    timer.sleep(Duration::from_millis(ms)).await;
                    assert!(started.elapsed() >= Duration::from_millis(ms));
                    let _ = tx.send(ms);
                });
            }
            drop(tx);
            let mut order = Vec::new();
            while let Some(ms) = rx.recv().await {
                order.push(ms);
            }
            order
        });
        assert_eq!(order, [10, 20, 30]);
    }
}
