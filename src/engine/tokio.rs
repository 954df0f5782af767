//! The async contrast engine: one tokio runtime and hyper's client (see [`super::client`]), with
//! at most `pool` requests in flight (a semaphore), or no limit at all with `pool = 0` — the
//! bare `gather` of every request.
//!
//! It runs the same fetch core as the thread engine through its own [`Transport`], behind the
//! same [`Engine`] seam, so ordering, windows, batches, retries, limits, redirects,
//! cancellation, error kinds and records are shared; only how one request travels differs.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};

use super::client::HyperTransport;
use super::tokio_tls::rustls_config;
use crate::config::{Config, ConfigError};
use crate::fetch::resolver::CachingResolver;
use crate::fetch::{Core, Live};
use crate::run::{Engine, Ticket};

/// Requests as tokio tasks on a runtime of its own, sharing one client.
pub(crate) struct AsyncEngine {
    runtime: Option<tokio::runtime::Runtime>,
    tickets: mpsc::UnboundedSender<Ticket>,
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
            rustls_config(config)?,
            config.http,
            resolver,
            config.timeout,
            config.pool.max(1),
            live,
        );
        let shared = Arc::new(Shared { core, transport });
        let limit = (config.pool > 0).then(|| Arc::new(Semaphore::new(config.pool)));
        let (tickets, queue) = mpsc::unbounded_channel();
        runtime.spawn(dispatch(queue, shared, limit));
        Ok(AsyncEngine {
            runtime: Some(runtime),
            tickets,
        })
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
        if let Err(mpsc::error::SendError(ticket)) = self.tickets.send(ticket) {
            // The runtime is gone (shutting down): the request is never sent.
            ticket.cancelled();
        }
    }
}

/// Hands out permits in ticket order, so requests start in index order (as the thread
/// pool's FIFO queue does) instead of in whatever order the runtime polls tasks.
async fn dispatch(
    mut queue: mpsc::UnboundedReceiver<Ticket>,
    shared: Arc<Shared>,
    limit: Option<Arc<Semaphore>>,
) {
    while let Some(ticket) = queue.recv().await {
        // Held until the request is done: at most `pool` run at once.
        let permit = match &limit {
            Some(limit) => Arc::clone(limit).acquire_owned().await.ok(),
            None => None,
        };
        tokio::spawn(run(ticket, Arc::clone(&shared), permit));
    }
}

async fn run(ticket: Ticket, shared: Arc<Shared>, permit: Option<OwnedSemaphorePermit>) {
    let Shared { core, transport } = &*shared;
    // hyper hands a finished connection back to its pool from the connection's own task;
    // one yield lets that happen before the next request takes the permit and looks for an
    // idle connection (without it a debug build opened a 6th connection for a pool of 5).
    let release = async move {
        tokio::task::yield_now().await;
        drop(permit);
    };
    ticket.run(core, transport, None, release).await;
}
