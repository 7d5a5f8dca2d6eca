//! Wiring: builds the store, backend, scheduler and gRPC server from the configuration and
//! serves until a shutdown signal.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use byok8s_proto::v1::runs_server::RunsServer;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::server::NamedService;
use tonic::transport::{Server, ServerTlsConfig};
use tonic_health::ServingStatus;

use crate::api::RunsService;
use crate::backend::kubernetes::KubernetesBackend;
use crate::backend::kubernetes::settings::{ClusterSettings, S3Settings};
use crate::backend::{Backend, local::LocalBackend, snakemake};
use crate::bundle::BundleLimits;
use crate::config::{BackendKind, Config, KubernetesArgs};
use crate::data_dir::{DataDir, DataDirError, create_private};
use crate::events::EventLog;
use crate::scheduler::{Scheduler, SchedulerConfig};
use crate::store::{Store, StoreError};
use crate::submission::SubmissionLimits;
use crate::tls::{TlsError, TlsSource};

/// Why the daemon could not start or keep serving.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    #[error("could not set up TLS")]
    Tls(#[from] TlsError),
    #[error("could not open the database")]
    Store(#[from] StoreError),
    #[error("could not recover runs from before the restart")]
    Recover(#[source] crate::error::Error),
    #[error("Snakemake is not usable")]
    Snakemake(#[from] crate::backend::snakemake::SnakemakeError),
    #[error("--s3-bucket is required with --backend kubernetes")]
    MissingBucket,
    #[error("could not set up the Kubernetes backend")]
    Kubernetes(#[from] crate::backend::kubernetes::SetupError),
    #[error("could not install the Snakemake logger plugin")]
    Plugin(#[source] std::io::Error),
    #[error("could not listen on {address}")]
    Listen {
        address: String,
        source: std::io::Error,
    },
    #[error("the gRPC server failed")]
    Serve(#[from] tonic::transport::Error),
    #[error("could not set up gRPC server reflection")]
    Reflection(#[from] tonic_reflection::server::Error),
}

/// The longest CancelRun waits for a run to stop before answering with its state then: well
/// inside the minute a client gives a call, so a long grace period never makes a cancel that
/// is being carried out look like a daemon out of reach.
const MAX_CANCEL_WAIT: Duration = Duration::from_secs(30);

/// How long CancelRun waits: the grace period and a little more, up to `MAX_CANCEL_WAIT`.
fn cancel_wait(grace: Duration) -> Duration {
    (grace + Duration::from_secs(5)).min(MAX_CANCEL_WAIT)
}

/// Room for a maximal bundle plus the workflow and params documents in one Submit message.
const MESSAGE_OVERHEAD: usize = 4 * 1024 * 1024;

/// Serves until `shutdown` resolves, then stops every run and returns.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> Result<(), StartError> {
    let data_dir = DataDir::open(&config.data_dir())?;
    let runs_dir = data_dir.path().join("runs");
    create_private(&runs_dir).map_err(|source| DataDirError::Create {
        path: runs_dir.display().to_string(),
        source,
    })?;
    let store = Store::open(&data_dir.path().join("byok8sd.db"))?;
    let events = EventLog::new(store.clone());

    let grace = Duration::from_secs(config.cancel_grace_seconds);
    let limits = SubmissionLimits {
        max_bundle_bytes: config.max_bundle_bytes,
        bundle: BundleLimits {
            max_unpacked_bytes: config.max_unpacked_bytes,
            max_entries: 10_000,
        },
    };
    let backend = build_backend(&config, data_dir.path(), &runs_dir, grace, limits.bundle).await?;
    // After the backend, so that a daemon that cannot run anything writes no certificate.
    let tls = crate::tls::server_config(&tls_source(&config, data_dir.path()))?;
    let backend_name = backend.name();
    let scheduler_config = SchedulerConfig {
        max_concurrent_runs: config.max_concurrent_runs as usize,
        runs_dir,
        limits,
        cancel_wait: cancel_wait(grace),
    };
    let scheduler = Scheduler::new(store, events, backend, scheduler_config);

    // Listening comes before recovering, so that a daemon that cannot serve (the port is
    // taken) stops before it touches, starts or re-attaches to any run.
    let listener = listen(config.listen).await?;
    scheduler.recover().await.map_err(StartError::Recover)?;
    tracing::info!(addr = %local_addr(&listener, config.listen)?, data_dir = %data_dir.path().display(), backend = backend_name, "listening");

    let max_message = config.max_bundle_bytes.saturating_add(MESSAGE_OVERHEAD);
    serve(
        listener,
        tls,
        scheduler,
        max_message,
        shutdown_wait(grace),
        shutdown,
    )
    .await?;
    tracing::info!("stopped");
    Ok(())
}

/// Serves the run service, with gRPC health checking (`grpc.health.v1`, SERVING until a
/// shutdown begins) and server reflection beside it, until `shutdown` resolves.
async fn serve(
    listener: TcpListener,
    tls: ServerTlsConfig,
    scheduler: Scheduler,
    max_message: usize,
    stop_wait: Duration,
    shutdown: impl Future<Output = ()>,
) -> Result<(), StartError> {
    let runs =
        RunsServer::new(RunsService::new(scheduler.clone())).max_decoding_message_size(max_message);
    let (mut health, health_service) = tonic_health::server::health_reporter();
    health.set_serving::<RunsServer<RunsService>>().await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(byok8s_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()?;

    let stopping = async {
        shutdown.await;
        tracing::info!("shutting down: stopping runs");
        // Load balancers and probes stop sending work before the runs are stopped.
        health.set_not_serving::<RunsServer<RunsService>>().await;
        health
            .set_service_status("", ServingStatus::NotServing)
            .await;
        scheduler.shutdown(stop_wait).await;
        scheduler.events().close();
        // A health watch is a stream that never ends by itself, and the server waits for open
        // streams before it stops: forgetting the statuses ends them.
        health.clear_service_status("").await;
        health
            .clear_service_status(<RunsServer<RunsService> as NamedService>::NAME)
            .await;
    };
    Server::builder()
        .tls_config(tls)?
        .add_service(health_service)
        .add_service(reflection)
        .add_service(runs)
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), stopping)
        .await?;
    Ok(())
}

fn tls_source(config: &Config, data_dir: &Path) -> TlsSource {
    match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => TlsSource::Files {
            cert: cert.clone(),
            key: key.clone(),
        },
        _ => TlsSource::SelfSigned {
            dir: data_dir.join("tls"),
        },
    }
}

async fn listen(address: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(address)
        .await
        .map_err(|source| StartError::Listen {
            address: address.to_string(),
            source,
        })
}

fn local_addr(listener: &TcpListener, asked: SocketAddr) -> Result<SocketAddr, StartError> {
    listener.local_addr().map_err(|source| StartError::Listen {
        address: asked.to_string(),
        source,
    })
}

/// How long a shutdown waits for executing runs to stop: the grace Snakemake gets after
/// SIGINT, then the kill, the draining of its output and the recording of the end.
fn shutdown_wait(grace: Duration) -> Duration {
    grace + crate::backend::local::DRAIN_TIMEOUT + Duration::from_secs(10)
}

/// The backend the configuration asks for, checked so that a wrong setting fails the start and
/// not every run.
async fn build_backend(
    config: &Config,
    data_dir: &Path,
    runs_dir: &Path,
    grace: Duration,
    bundle_limits: BundleLimits,
) -> Result<Backend, StartError> {
    if config.backend == BackendKind::Kubernetes {
        let settings = cluster_settings(&config.kubernetes)?;
        let kubeconfig = config.kubernetes.kubeconfig.clone();
        let backend = KubernetesBackend::new(settings, kubeconfig, runs_dir.to_owned()).await?;
        return Ok(Backend::Kubernetes(Box::new(backend)));
    }

    let snakemake = snakemake::resolve(&config.snakemake)?;
    let version = snakemake::version(&snakemake).await?;
    tracing::info!(path = %snakemake.display(), version, "found Snakemake");
    let local = LocalBackend {
        snakemake,
        cores: config.cores(),
        runs_dir: runs_dir.to_owned(),
        python_path: data_dir.join("python"),
        grace,
        bundle_limits,
    };
    local.install_plugin().map_err(StartError::Plugin)?;
    Ok(Backend::Local(local))
}

fn cluster_settings(args: &KubernetesArgs) -> Result<ClusterSettings, StartError> {
    let bucket = args.s3_bucket.clone().ok_or(StartError::MissingBucket)?;
    Ok(ClusterSettings {
        namespace: args.namespace.clone(),
        runner_image: args.runner_image.clone(),
        runner_service_account: args.runner_service_account.clone(),
        rule_service_account: args.rule_service_account.clone(),
        s3: S3Settings {
            bucket,
            prefix: args.s3_prefix.clone(),
            endpoint_url: args.s3_endpoint_url.clone(),
            region: args.s3_region.clone(),
            credentials_secret: args.s3_credentials_secret.clone(),
        },
        driver_cpu: args.driver_cpu.clone(),
        driver_memory: args.driver_memory.clone(),
        status_check_seconds: args.status_check_seconds,
        max_rule_jobs: args.max_rule_jobs,
        watchdog_seconds: args.watchdog_seconds,
        stuck_seconds: args.stuck_seconds,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cancel_answers_within_half_a_minute_however_long_the_grace() {
        assert_eq!(
            cancel_wait(Duration::from_secs(10)),
            Duration::from_secs(15)
        );
        assert_eq!(cancel_wait(Duration::from_secs(70)), MAX_CANCEL_WAIT);
    }
}
