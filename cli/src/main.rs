use clap::Parser;

fn main() {
    let cli = importctl::Cli::parse();
    std::process::exit(importctl::run(cli));
}
