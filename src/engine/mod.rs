//! The executors: each runs tickets with bounded concurrency and nothing else.

pub mod threads;
pub mod tokio;
