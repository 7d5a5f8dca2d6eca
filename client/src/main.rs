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
    // Every TLS user in this process uses ring; choosing it explicitly keeps that true when the
    // binary is built together with crates that link in a second implementation.
    let _ = rustls::crypto::ring::default_provider().install_default();
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
