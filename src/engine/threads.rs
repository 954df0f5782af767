//! The thread engine: blocking `ureq` calls on a dedicated `rayon` pool of exactly `pool`
//! threads, jobs spawned FIFO so dispatch order is start order.

use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Instant;

use crate::config::{Config, ConfigError};
use crate::fetch::{Client, Outcome};
use crate::record::{ErrorKind, FetchError};
use crate::run::{Engine, Ticket};

/// Blocking `ureq` calls on a dedicated `rayon` pool of exactly `pool` threads.
pub struct ThreadEngine {
    pool: rayon::ThreadPool,
    client: Arc<Client>,
}

impl ThreadEngine {
    /// A pool of `config.pool` threads named `poolfetch-worker-N`, sharing `client`.
    pub fn new(config: &Config, client: Client) -> Result<Self, ConfigError> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(config.pool)
            .thread_name(|i| format!("poolfetch-worker-{i}"))
            .build()
            .map_err(|e| ConfigError::Pool(e.to_string()))?;
        Ok(ThreadEngine {
            pool,
            client: Arc::new(client),
        })
    }
}

impl Engine for ThreadEngine {
    fn start(&self, ticket: Ticket) {
        let client = Arc::clone(&self.client);
        // FIFO so that dispatch order is start order.
        self.pool.spawn_fifo(move || run_blocking(&client, ticket));
    }
}

fn run_blocking(client: &Client, ticket: Ticket) {
    if ticket.is_cancelled() {
        ticket.cancelled();
        return;
    }
    let started = Instant::now();
    // A panic in a spawned rayon job aborts the process: turn it into a record instead.
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        client.fetch(ticket.index, &ticket.request, ticket.cancel_token())
    }))
    .unwrap_or_else(|panic| Outcome {
        attempts: 1,
        error: Some(FetchError::new(
            ErrorKind::Internal,
            format!("worker panicked: {}", panic_message(&*panic)),
        )),
        ..Outcome::default()
    });
    ticket.finish(outcome, rayon::current_thread_index(), started);
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("unknown panic")
}
