//! The integration tests, as one test binary of modules (one link, one set of helpers in
//! `common`). `threads` and `crews` stay binaries of their own: they count the process's
//! threads, which other tests would add to.

#[path = "../common/mod.rs"]
mod common;

mod bench;
mod bodies;
mod cli;
mod continued;
mod docs;
mod faults;
mod hostile;
mod http2;
mod invariants;
mod outputs;
mod proxies;
mod python;
mod readme;
mod redirects;
mod requests;
mod resume;
mod schema;
mod server;
mod shards;
mod signals;
mod streaming;
mod tls;
