//! `byok8s-test-cluster`: serves the test cluster until SIGTERM or SIGINT.

use std::io::Write;
use std::process::ExitCode;

use byok8s_test_cluster::{Config, server};
use clap::Parser;
use tokio::signal::unix::{SignalKind, signal};
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let config = Config::parse();
    let filter = EnvFilter::try_from_env("BYOK8S_TEST_CLUSTER_LOG")
        .unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(config))
}

async fn run(config: Config) -> ExitCode {
    let started = match server::start(config).await {
        Ok(started) => started,
        Err(error) => {
            tracing::error!(error = %error_chain(&error), "cannot start the test cluster");
            return ExitCode::FAILURE;
        }
    };
    let line = format!(
        "{{\"listening\":{},\"kubeconfig\":{}}}",
        serde_json::json!(started.cluster.address.to_string()),
        serde_json::json!(started.kubeconfig.to_string_lossy()),
    );
    let mut stdout = std::io::stdout();
    if writeln!(stdout, "{line}")
        .and_then(|()| stdout.flush())
        .is_err()
    {
        tracing::warn!("stdout is closed; continuing");
    }
    tracing::info!(address = %started.cluster.address, "test cluster listening");
    server::serve(started, shutdown_signal()).await;
    tracing::info!("test cluster stopped");
    ExitCode::SUCCESS
}

/// Resolves on SIGTERM or SIGINT.
async fn shutdown_signal() {
    let (Ok(mut terminate), Ok(mut interrupt)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("cannot listen for signals; stopping");
        return;
    };
    tokio::select! {
        _ = terminate.recv() => {}
        _ = interrupt.recv() => {}
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
