//! byok8sd: parse the configuration, set up logging and signals, run the daemon.

mod api;
mod backend;
mod bundle;
mod config;
mod daemon;
mod data_dir;
mod error;
mod events;
mod run;
mod scheduler;
mod store;
mod submission;
mod telemetry;
mod timestamps;
mod tls;

use std::process::ExitCode;

use clap::Parser;
use tokio::signal::unix::{SignalKind, signal};

#[tokio::main]
async fn main() -> ExitCode {
    let config = config::Config::parse();
    telemetry::init(config.log_format);
    // Every TLS user in this process uses ring; choosing it explicitly keeps that true when a
    // dependency links in a second implementation. An error means one is already chosen.
    let _ = rustls::crypto::ring::default_provider().install_default();

    // Handling SIGINT here also matters for Snakemake: a handled signal is reset to its default
    // in child processes, while an ignored one (as under `byok8sd &` in a script) would stay
    // ignored in them, and cancelling would then silently do nothing.
    let (Ok(mut interrupt), Ok(mut terminate)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        eprintln!("error: could not install signal handlers");
        return ExitCode::FAILURE;
    };
    let shutdown = async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    };

    match daemon::run(config, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = %error::chain(&error), "byok8sd stopped");
            ExitCode::FAILURE
        }
    }
}
