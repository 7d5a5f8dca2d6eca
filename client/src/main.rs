//! The `byok8s` command: parses the command line, runs the command, reports the outcome.

mod cli;
mod commands;
mod label;
mod render;
mod report;

use clap::Parser;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    match commands::run(cli).await {
        Ok(code) => code.into(),
        Err(error) => {
            if let Some(text) = report::report(&error) {
                eprint!("{text}");
            }
            error.exit_code().into()
        }
    }
}
