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

use clap::{Args, CommandFactory, Parser, Subcommand};

use crate::replace::{Output, ReplaceError};
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
#[command(
    name = "poolfetch",
    version,
    about,
    propagate_version = true,
    arg_required_else_help = true
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Fetch URLs and print one JSON record per URL (JSON Lines) on stdout.
    Fetch(Box<fetch::FetchArgs>),
    /// Measure pool sizes (and engines, and batches) on one workload: table, plot, exports.
    Bench(Box<bench::BenchArgs>),
    /// Run the embedded test server (/todos/ID, /delay/MS, /bytes/N, /drip/N/MS, /status/CODE, POST /post, /echo, /stats).
    Serve(ServeArgs),
    /// Merge shard outputs (each in input order) into one file in input order; reports missing
    /// and duplicate indices (exit 1).
    Merge {
        /// The outputs of `fetch --shard K/N -o FILE`.
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
        /// Write the merged records to FILE instead of stdout.
        #[arg(short, long, value_name = "FILE")]
        output: Option<std::path::PathBuf>,
    },
    /// Draw the finish time of every request by index from a `fetch` output (the waves).
    Plot {
        /// Records of a `poolfetch fetch` run (JSON Lines).
        records: std::path::PathBuf,
        /// Where to write the SVG.
        #[arg(
            short,
            long,
            value_name = "FILE.svg",
            default_value = "poolfetch-plot.svg"
        )]
        output: std::path::PathBuf,
    },
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish) on stdout.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) on stdout.
    Man,
}

/// Flags of `poolfetch serve`.
#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on (an IP, or a name such as localhost); port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8080", value_parser = parse_listen_addr)]
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
            // clap's whole message: the usage, "a similar argument exists", the possible
            // values. Help and version go to stdout and succeed; everything else is exit 2.
            let _ = e.print();
            return if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
        }
    };
    match cli.command {
        Command::Fetch(args) => fetch::fetch(*args),
        Command::Bench(args) => bench::bench(*args),
        Command::Serve(args) => serve(args),
        Command::Plot { records, output } => plot(&records, &output),
        Command::Merge { files, output } => merge(&files, output.as_deref()),
        Command::Completions { shell } => {
            // Rendered into memory first: clap_complete panics on a closed stdout.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "poolfetch", &mut script);
            print_out(&script)
        }
        Command::Man => {
            let mut page = Vec::new();
            match clap_mangen::Man::new(Cli::command()).render(&mut page) {
                Ok(()) => print_out(&page),
                Err(e) => usage_error(format!("cannot render the manual: {e}")),
            }
        }
    }
}

/// `poolfetch merge`: shard outputs in, one file in input order out, and what was amiss.
fn merge(files: &[std::path::PathBuf], output: Option<&std::path::Path>) -> i32 {
    if let Some(out) = output
        && let Some(input) = files.iter().find(|f| crate::input::same_file(f, out))
    {
        return usage_error(format!(
            "-o {}: that is an input ({}); refusing to overwrite it",
            out.display(),
            input.display()
        ));
    }
    // A file is replaced only once the merge is complete: a corrupt input leaves it as it was.
    let merged = match output {
        Some(path) => {
            let mut file = match Output::create(path) {
                Ok(file) => file,
                Err(e) => return replace_error(&e),
            };
            match crate::resume::merge(files, Some(path), &mut file) {
                Ok(report) => match file.finish() {
                    Ok(()) => Ok(report),
                    Err(e) => return replace_error(&e),
                },
                Err(e) => Err(e),
            }
        }
        None => crate::resume::merge(files, None, &mut io::BufWriter::new(io::stdout())),
    };
    let report = match merged {
        Ok(report) => report,
        Err(e) if e.is_write_error() => {
            let quiet = matches!(&e, crate::resume::ResumeError::Write { source, .. }
                if source.kind() == io::ErrorKind::BrokenPipe);
            if !quiet {
                eprintln!("poolfetch: {e}");
            }
            return EXIT_WRITE;
        }
        Err(e) => return usage_error(e),
    };
    let examples = |list: &[u64], count: u64| {
        let shown: Vec<String> = list.iter().map(u64::to_string).collect();
        let more = if count > list.len() as u64 {
            ", …"
        } else {
            ""
        };
        format!("{count} ({}{more})", shown.join(", "))
    };
    eprintln!(
        "poolfetch merge: {} records from {} files",
        report.written,
        files.len()
    );
    for torn in &report.torn {
        eprintln!(
            "poolfetch merge: {}: its last line was cut off (a killed run) and is left out",
            torn.display()
        );
    }
    let mut code = EXIT_OK;
    if report.missing_count > 0 {
        eprintln!(
            "poolfetch merge: missing indices: {}",
            examples(&report.missing, report.missing_count)
        );
        code = EXIT_FAILED;
    }
    if report.duplicate_count > 0 {
        eprintln!(
            "poolfetch merge: duplicate indices (first kept): {}",
            examples(&report.duplicates, report.duplicate_count)
        );
        code = EXIT_FAILED;
    }
    code
}

/// `poolfetch plot`: records in, the finish-time picture out.
fn plot(records: &std::path::Path, output: &std::path::Path) -> i32 {
    if crate::input::same_file(records, output) {
        return usage_error(format!(
            "-o {}: that is the records file; refusing to overwrite it",
            output.display()
        ));
    }
    let text = match std::fs::read_to_string(records) {
        Ok(text) => text,
        Err(e) => return usage_error(format!("cannot read {}: {e}", records.display())),
    };
    let mut parsed = Vec::new();
    for (number, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        match serde_json::from_str::<crate::Record>(line) {
            Ok(record) => parsed.push(record),
            Err(e) => {
                return usage_error(format!(
                    "{} line {}: not a poolfetch record: {e}",
                    records.display(),
                    number + 1
                ));
            }
        }
    }
    if parsed.is_empty() {
        return usage_error(format!("{}: no records", records.display()));
    }
    let wall = parsed.iter().map(|r| r.finished_ms).fold(0.0, f64::max) / 1000.0;
    let ok = parsed.iter().filter(|r| r.ok).count();
    let title = format!(
        "{}: {} requests ({ok} ok), last finished at {wall:.2} s",
        records.display(),
        parsed.len()
    );
    let svg = match crate::bench::plot::records_svg(&parsed, &title) {
        Ok(svg) => svg,
        Err(e) => return usage_error(e),
    };
    let written = Output::create(output).and_then(|mut file| {
        file.write_all(svg.as_bytes())
            .map_err(|source| ReplaceError::Write {
                path: output.to_path_buf(),
                source,
            })?;
        file.finish()
    });
    match written {
        Ok(()) => {
            eprintln!("poolfetch: plot written to {}", output.display());
            EXIT_OK
        }
        Err(e) => replace_error(&e),
    }
}

/// An output file that may not be replaced is a usage error (2); one that could not be
/// written is a write error (3).
fn replace_error(error: &ReplaceError) -> i32 {
    match error {
        ReplaceError::Refused { .. } => usage_error(error),
        ReplaceError::Write { .. } => {
            eprintln!("poolfetch: {error}");
            EXIT_WRITE
        }
    }
}

/// Write `bytes` to stdout; a closed pipe is quiet, other failures say so (exit 3).
fn print_out(bytes: &[u8]) -> i32 {
    let mut stdout = io::stdout();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => EXIT_OK,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => EXIT_WRITE,
        Err(e) => {
            eprintln!("poolfetch: cannot write to stdout: {e}");
            EXIT_WRITE
        }
    }
}

/// `--addr` of `serve`: `IP:PORT`, or `NAME:PORT` for a name that resolves to a loopback
/// address (`localhost:0`); the first loopback address is used.
fn parse_listen_addr(text: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let addrs: Vec<SocketAddr> = std::net::ToSocketAddrs::to_socket_addrs(text)
        .map_err(|e| format!("{e} (expected e.g. 127.0.0.1:8080 or localhost:0)"))?
        .collect();
    addrs
        .iter()
        .find(|a| a.ip().is_loopback())
        .copied()
        .ok_or_else(|| format!("{text} does not resolve to a loopback address; give an IP"))
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
    fn serve_accepts_ips_and_loopback_names() {
        assert_eq!(
            parse_listen_addr("127.0.0.1:0").unwrap(),
            "127.0.0.1:0".parse::<SocketAddr>().unwrap()
        );
        assert!(parse_listen_addr("localhost:0").unwrap().ip().is_loopback());
        assert!(parse_listen_addr("nonsense").is_err());
    }
}
