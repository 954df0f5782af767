//! The async contrast engine: one tokio runtime and hyper's client (see [`super::client`]), with
//! at most `pool` requests in flight (that many worker tasks at most), or no limit at all with
//! `pool = 0` — the bare `gather` of every request.
//!
//! It runs the same fetch core as the thread engine through its own [`Transport`], behind the
//! same [`Engine`] seam, so ordering, windows, batches, retries, limits, redirects,
//! cancellation, error kinds and records are shared; only how one request travels differs.

use std::sync::Arc;

use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::mpsc;

use super::client::HyperTransport;
use super::tokio_tls;
use crate::config::{Config, ConfigError};
use crate::fetch::resolver::CachingResolver;
use crate::fetch::tls::LazyTls;
use crate::fetch::{Core, Live};
use crate::run::{Engine, Ticket};

/// Requests as tokio tasks on a runtime of its own, sharing one client.
pub(crate) struct AsyncEngine {
    runtime: Option<tokio::runtime::Runtime>,
    tickets: mpsc::UnboundedSender<Ticket>,
    /// The workers of a bounded pool (`None`: a task per ticket).
    workers: Option<Workers>,
}

/// The fetch core and the client, shared by every task.
struct Shared {
    core: Arc<Core>,
    transport: HyperTransport,
}

impl AsyncEngine {
    /// A runtime and client for `config`; `pool = 0` means no concurrency limit.
    pub(crate) fn new(
        config: &Config,
        resolver: CachingResolver,
        live: Arc<Live>,
    ) -> Result<Self, ConfigError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .thread_name("poolfetch-async")
            .enable_all()
            .build()
            .map_err(|e| ConfigError::Pool(e.to_string()))?;
        let core = Core::new(config, Arc::clone(&live))?;
        let transport = HyperTransport::new(
            LazyTls::new(config, tokio_tls::connectors)?,
            config.http,
            resolver,
            config.timeout,
            config.connect_deadline(),
            config.pool.max(1),
            live,
        );
        let shared = Arc::new(Shared { core, transport });
        let (tickets, queue) = mpsc::unbounded_channel();
        let workers = match config.pool {
            // Unbounded: every ticket is a task of its own, at once (the bare `gather`).
            0 => {
                runtime.spawn(spawn_each(queue, shared));
                None
            }
            pool => Some(Workers {
                queue: Arc::new(tokio::sync::Mutex::new(queue)),
                shared,
                started: AtomicUsize::new(0),
                idle: Arc::new(AtomicUsize::new(0)),
                waiting: Arc::new(AtomicUsize::new(0)),
                pool,
                handle: runtime.handle().clone(),
            }),
        };
        Ok(AsyncEngine {
            runtime: Some(runtime),
            tickets,
            workers,
        })
    }
}

/// At most `pool` long-lived worker tasks, started as tickets wait, each taking the next
/// ticket from one FIFO queue and running it to the end — the way oha drives hyper: no task
/// spawned, no permit taken per request, and start order is dispatch order.
struct Workers {
    queue: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<Ticket>>>,
    shared: Arc<Shared>,
    /// Workers started.
    started: AtomicUsize,
    /// Workers waiting for a ticket.
    idle: Arc<AtomicUsize>,
    /// Tickets queued and not yet taken by a worker.
    waiting: Arc<AtomicUsize>,
    pool: usize,
    handle: tokio::runtime::Handle,
}

impl Workers {
    /// A ticket was queued: start workers while more tickets wait than workers are free,
    /// up to the pool.
    fn grow(&self) {
        while self.waiting.load(Ordering::SeqCst) > self.idle.load(Ordering::SeqCst) {
            let started = self.started.load(Ordering::SeqCst);
            if started >= self.pool {
                return;
            }
            if self
                .started
                .compare_exchange(started, started + 1, Ordering::SeqCst, Ordering::SeqCst)
                .is_err()
            {
                continue;
            }
            self.idle.fetch_add(1, Ordering::SeqCst);
            let (queue, shared) = (Arc::clone(&self.queue), Arc::clone(&self.shared));
            let (idle, waiting) = (Arc::clone(&self.idle), Arc::clone(&self.waiting));
            self.handle.spawn(async move {
                loop {
                    let ticket = queue.lock().await.recv().await;
                    let Some(ticket) = ticket else { return };
                    waiting.fetch_sub(1, Ordering::SeqCst);
                    idle.fetch_sub(1, Ordering::SeqCst);
                    let Shared { core, transport } = &*shared;
                    ticket.run(core, transport, Some(started), async {}).await;
                    idle.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
    }
}

impl Drop for AsyncEngine {
    fn drop(&mut self) {
        // Never block: the engine may be dropped from inside another runtime.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Engine for AsyncEngine {
    fn start(&self, ticket: Ticket) {
        if let Some(workers) = &self.workers {
            workers.waiting.fetch_add(1, Ordering::SeqCst);
        }
        if let Err(mpsc::error::SendError(ticket)) = self.tickets.send(ticket) {
            // The runtime is gone (shutting down): the request is never sent.
            return ticket.cancelled();
        }
        if let Some(workers) = &self.workers {
            workers.grow();
        }
    }
}

/// `pool = 0`: every ticket runs at once as a task of its own, spawned in ticket order.
async fn spawn_each(mut queue: mpsc::UnboundedReceiver<Ticket>, shared: Arc<Shared>) {
    while let Some(ticket) = queue.recv().await {
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let Shared { core, transport } = &*shared;
            ticket.run(core, transport, None, async {}).await;
        });
    }
}
