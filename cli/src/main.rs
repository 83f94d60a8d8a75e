//! The `importctl` binary: parses the command line and exits with what [`importctl::run`] returns.

use clap::Parser;

fn main() {
    let cli = importctl::Cli::parse();
    std::process::exit(importctl::run(cli));
}
