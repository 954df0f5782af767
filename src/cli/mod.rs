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
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, CommandFactory, Parser, Subcommand};

use crate::input::FileId;
use crate::job::JobError;
use crate::replace::{Output, ReplaceError};
use crate::resume::ResumeError;
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
    /// Print the manual page poolfetch(1) (roff) on stdout, or write a page per subcommand.
    Man {
        /// Write poolfetch.1 and poolfetch-fetch.1, poolfetch-bench.1, … into this directory
        /// (e.g. ~/.local/share/man/man1).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
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

/// Why a command could not do its work. Each kind has one exit code, decided in
/// `CliError::exit_code`, and one message, printed in [`main`].
#[derive(Debug)]
pub enum CliError {
    /// Bad flags or inputs, or an output that may not be replaced: nothing (more) was sent.
    Usage(String),
    /// Records or a file could not be written (a full disk, a closed pipe).
    Write(String),
    /// A closed pipe: the reader's choice (`| head`), said nothing about.
    BrokenPipe,
}

impl CliError {
    fn exit_code(&self) -> i32 {
        match self {
            CliError::Usage(_) => EXIT_USAGE,
            CliError::Write(_) | CliError::BrokenPipe => EXIT_WRITE,
        }
    }
}

/// A usage error with `message`.
fn usage(message: impl std::fmt::Display) -> CliError {
    CliError::Usage(message.to_string())
}

impl From<JobError> for CliError {
    fn from(error: JobError) -> Self {
        if error.is_broken_pipe() {
            CliError::BrokenPipe
        } else if error.is_write_error() {
            CliError::Write(error.to_string())
        } else {
            CliError::Usage(error.to_string())
        }
    }
}

impl From<ReplaceError> for CliError {
    fn from(error: ReplaceError) -> Self {
        match error {
            ReplaceError::Refused { .. } => CliError::Usage(error.to_string()),
            ReplaceError::Write { .. } => CliError::Write(error.to_string()),
        }
    }
}

impl From<ResumeError> for CliError {
    fn from(error: ResumeError) -> Self {
        match &error {
            ResumeError::Write { source, .. } if source.kind() == io::ErrorKind::BrokenPipe => {
                CliError::BrokenPipe
            }
            _ if error.is_write_error() => CliError::Write(error.to_string()),
            _ => CliError::Usage(error.to_string()),
        }
    }
}

/// Parse `std::env::args`, run the command, and turn its outcome into the exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap's whole message: the usage, "a similar argument exists", the possible
            // values. Help and version go to stdout and succeed; everything else is exit 2.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_USAGE } else { EXIT_OK } as u8);
        }
    };
    let code = match run(cli.command) {
        Ok(code) => code,
        Err(error) => {
            match &error {
                CliError::Usage(message) | CliError::Write(message) => {
                    eprintln!("poolfetch: {message}");
                }
                CliError::BrokenPipe => {}
            }
            error.exit_code()
        }
    };
    ExitCode::from(u8::try_from(code).unwrap_or(u8::MAX))
}

fn run(command: Command) -> Result<i32, CliError> {
    match command {
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
        Command::Man { dir: None } => print_out(&man_pages()?[0].1),
        Command::Man { dir: Some(dir) } => {
            for (name, page) in man_pages()? {
                let path = dir.join(&name);
                let mut file = Output::create(&path)?;
                file.write_all(&page)
                    .map_err(|source| ReplaceError::Write { path, source })?;
                file.finish()?;
            }
            Ok(EXIT_OK)
        }
    }
}

/// The manual: poolfetch(1) first, then a page per subcommand (`poolfetch-fetch.1`, …), each
/// with every option of its `--help`.
fn man_pages() -> Result<Vec<(String, Vec<u8>)>, CliError> {
    let mut command = Cli::command().disable_help_subcommand(true);
    command.build();
    let mut commands = vec![command.clone()];
    commands.extend(
        command
            .get_subcommands()
            .filter(|s| !s.is_hide_set())
            .cloned(),
    );
    commands
        .into_iter()
        .map(|command| {
            let man = clap_mangen::Man::new(command);
            let mut page = Vec::new();
            man.render(&mut page)
                .map_err(|e| usage(format!("cannot render the manual: {e}")))?;
            Ok((man.get_filename(), page))
        })
        .collect()
}

/// `poolfetch merge`: shard outputs in, one file in input order out, and what was amiss.
fn merge(files: &[PathBuf], output: Option<&Path>) -> Result<i32, CliError> {
    if let Some(out) = output {
        let named = files
            .iter()
            .map(|f| (f.display().to_string(), FileId::of(f)));
        crate::input::refuse_overwriting(out, named).map_err(usage)?;
    }
    // A file is replaced only once the merge is complete: a corrupt input leaves it as it was.
    let report = match output {
        Some(path) => {
            let mut file = Output::create(path)?;
            let report = crate::resume::merge(files, Some(path), &mut file)?;
            file.finish()?;
            report
        }
        None => crate::resume::merge(files, None, &mut io::BufWriter::new(io::stdout()))?,
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
    Ok(code)
}

/// `poolfetch plot`: records in, the finish-time picture out.
fn plot(records: &Path, output: &Path) -> Result<i32, CliError> {
    if FileId::of(records).is_some_and(|id| FileId::of(output) == Some(id)) {
        return Err(usage(format!(
            "-o {}: that is the records file; refusing to overwrite it",
            output.display()
        )));
    }
    // One record at a time into a bounded picture: any number of records, any index.
    let file = std::fs::File::open(records)
        .map_err(|e| usage(format!("cannot read {}: {e}", records.display())))?;
    let mut picture = crate::bench::plot::RecordsPlot::default();
    for (number, line) in io::BufRead::lines(io::BufReader::new(file)).enumerate() {
        let line = line.map_err(|e| usage(format!("cannot read {}: {e}", records.display())))?;
        if line.trim().is_empty() {
            continue;
        }
        let record = serde_json::from_str::<crate::Record>(&line).map_err(|e| {
            usage(format!(
                "{} line {}: not a poolfetch record: {e}",
                records.display(),
                number + 1
            ))
        })?;
        picture.add(&record);
    }
    if picture.records == 0 {
        return Err(usage(format!("{}: no records", records.display())));
    }
    let title = format!(
        "{}: {} requests ({} ok), last finished at {:.2} s",
        records.display(),
        picture.records,
        picture.ok,
        picture.last_finish_s()
    );
    let svg = picture.svg(&title).map_err(usage)?;
    let mut file = Output::create(output)?;
    file.write_all(svg.as_bytes())
        .map_err(|source| ReplaceError::Write {
            path: output.to_path_buf(),
            source,
        })?;
    file.finish()?;
    eprintln!("poolfetch: plot written to {}", output.display());
    Ok(EXIT_OK)
}

/// Write `bytes` to stdout.
fn print_out(bytes: &[u8]) -> Result<i32, CliError> {
    let mut stdout = io::stdout();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(EXIT_OK),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Err(CliError::BrokenPipe),
        Err(e) => Err(CliError::Write(format!("cannot write to stdout: {e}"))),
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

fn serve(args: ServeArgs) -> Result<i32, CliError> {
    let config = ServerConfig {
        addr: args.addr,
        latency: args.latency,
        ..ServerConfig::default()
    };
    let server =
        Server::start(config).map_err(|e| usage(format!("cannot listen on {}: {e}", args.addr)))?;
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
