//! The command line's own value enums, mapped onto the library's plain `Config` types (which
//! carry no clap derives, so the library builds without clap).

use clap::ValueEnum;

use poolfetch::{BodyMode, EngineKind, Order};

/// `--order`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum OrderArg {
    /// Input order (`gather`): a record leaves once every lower index has left.
    Input,
    /// Completion order (`as_completed`): a record leaves as soon as it is done.
    Completion,
}

impl From<OrderArg> for Order {
    fn from(arg: OrderArg) -> Order {
        match arg {
            OrderArg::Input => Order::Input,
            OrderArg::Completion => Order::Completion,
        }
    }
}

/// `--body`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum BodyArg {
    /// Parsed JSON when the response says JSON and parses, text otherwise.
    Auto,
    /// Parsed JSON, or text when it does not parse.
    Json,
    /// Text (invalid UTF-8 replaced).
    Text,
    /// Nothing: the body is drained and only counted.
    None,
}

impl From<BodyArg> for BodyMode {
    fn from(arg: BodyArg) -> BodyMode {
        match arg {
            BodyArg::Auto => BodyMode::Auto,
            BodyArg::Json => BodyMode::Json,
            BodyArg::Text => BodyMode::Text,
            BodyArg::None => BodyMode::None,
        }
    }
}

/// `bench --engine`: the engines, and the async one over HTTP/2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum ContenderArg {
    /// Blocking `ureq` calls on a `rayon` pool of `pool` threads (HTTP/1.1).
    Threads,
    /// hyper on a tokio runtime, HTTP/1.1.
    Async,
    /// hyper on a tokio runtime, HTTP/2 (h2c on http://, ALPN on https://): one connection.
    AsyncH2,
}

impl From<ContenderArg> for poolfetch::bench::Contender {
    fn from(arg: ContenderArg) -> Self {
        match arg {
            ContenderArg::Threads => Self::Threads,
            ContenderArg::Async => Self::Async,
            ContenderArg::AsyncH2 => Self::AsyncH2,
        }
    }
}

/// `--engine`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(super) enum EngineArg {
    /// Blocking `ureq` calls on a `rayon` pool of `pool` threads.
    Threads,
    /// hyper on a tokio runtime, at most `pool` requests at once (`pool = 0`: no limit).
    Async,
}

impl From<EngineArg> for EngineKind {
    fn from(arg: EngineArg) -> EngineKind {
        match arg {
            EngineArg::Threads => EngineKind::Threads,
            EngineArg::Async => EngineKind::Async,
        }
    }
}
