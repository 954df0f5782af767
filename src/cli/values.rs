//! The command line's own value enums, mapped onto the library's plain `Config` types (which
//! carry no clap derives, so the library builds without clap).

use clap::ValueEnum;

use crate::config::{BodyMode, EngineKind, Order};

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
