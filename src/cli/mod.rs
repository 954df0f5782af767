//! The command line: clap types, turning flags into a [`crate::Config`] and inputs, and exit codes.
//!
//! Exit codes are decided here and only here: 0 all ok, 1 some record not ok, 2 usage or
//! input error, 3 records could not be written, 128 + signal when interrupted.

mod bench;
mod fetch;
mod limits;
mod parse;
mod progress;
mod signals;
mod values;

use std::io::{self, Write};
use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::server::{Server, ServerConfig};
pub use parse::{parse_duration, parse_size};

/// Every record was ok.
pub const EXIT_OK: i32 = 0;
/// At least one record was not ok.
pub const EXIT_FAILED: i32 = 1;
/// A usage or input error; nothing (more) was sent.
pub const EXIT_USAGE: i32 = 2;
/// Records could not be written (a full disk, a closed pipe): curl's 23, in our numbering.
pub const EXIT_WRITE: i32 = 3;
// Stopped by a signal: 128 + its number (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP); every input
// read still has a record.

/// Fetch many URLs on a fixed-size thread pool, in order, and measure it.
#[derive(Debug, Parser)]
#[command(name = "poolfetch", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Fetch URLs and print one JSON record per URL (JSON Lines) on stdout.
    Fetch(fetch::FetchArgs),
    /// Measure pool sizes (and engines, and batches) on one workload: table, plot, exports.
    Bench(bench::BenchArgs),
    /// Run the embedded test server (/todos/{id}, /delay/{ms}, /bytes/{n}, /status/{code}, POST /post, /stats).
    Serve(ServeArgs),
}

/// Flags of `poolfetch serve`.
#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Delay added to every response (e.g. 100ms).
    #[arg(long, value_name = "DUR", default_value = "0ms", value_parser = parse_duration)]
    latency: Duration,
}

/// Parse `std::env::args`, run the command, and return the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            if !e.use_stderr() {
                // --help and --version print to stdout and succeed.
                let _ = e.print();
                return EXIT_OK;
            }
            return usage_error(first_line(&e.to_string()));
        }
    };
    match cli.command {
        Command::Fetch(args) => fetch::fetch(args),
        Command::Bench(args) => bench::bench(args),
        Command::Serve(args) => serve(args),
    }
}

fn first_line(message: &str) -> &str {
    let line = message
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(message);
    line.trim().trim_start_matches("error: ")
}

fn usage_error(message: impl std::fmt::Display) -> i32 {
    eprintln!("poolfetch: {message}");
    EXIT_USAGE
}

fn serve(args: ServeArgs) -> i32 {
    let config = ServerConfig {
        addr: args.addr,
        latency: args.latency,
        ..ServerConfig::default()
    };
    let server = match Server::start(config) {
        Ok(server) => server,
        Err(e) => return usage_error(format!("cannot listen on {}: {e}", args.addr)),
    };
    let mut stdout = io::stdout();
    let _ = writeln!(stdout, "listening on http://{}", server.addr());
    let _ = writeln!(stdout, "faults on http://{}", server.fault_addr());
    let _ = stdout.flush();
    loop {
        std::thread::park();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clap_errors_shrink_to_one_line() {
        let message =
            "error: invalid value 'x' for '--pool <N>'\n\nFor more information, try '--help'.\n";
        assert_eq!(first_line(message), "invalid value 'x' for '--pool <N>'");
    }
}
