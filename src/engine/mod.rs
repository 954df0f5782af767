//! The executors: each runs tickets with bounded concurrency through the fetch core, and
//! supplies only the transport (how one request travels) and how tasks are run.

mod buffers;
#[cfg(feature = "async")]
mod client;
mod stack;
mod tcp;
pub(crate) mod threads;
#[cfg(feature = "async")]
pub(crate) mod tokio;
#[cfg(feature = "async")]
mod tokio_tls;
