//! The `poolfetch` command line: a client of the `poolfetch` library's public API (clap types
//! in, `JobSpec` and bench plans to the library, reports back out as text and an exit code).

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
