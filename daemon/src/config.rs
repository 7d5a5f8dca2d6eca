//! Command-line configuration of byok8sd.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

use crate::telemetry::LogFormat;

/// The smallest bundle size cap: below it not even a one-line Snakefile would fit.
const MIN_BUNDLE_CAP: u64 = 1024;

/// byok8sd runs Snakemake workflows submitted by byok8s clients over TLS gRPC.
#[derive(Debug, Parser)]
#[command(name = "byok8sd", version)]
pub struct Config {
    /// Address to listen on; port 0 picks a free port (the chosen address is logged).
    #[arg(
        long,
        env = "BYOK8SD_LISTEN",
        value_name = "ADDR",
        default_value = "127.0.0.1:50051"
    )]
    pub listen: SocketAddr,

    /// Where runs, their files and the database live [default: $XDG_DATA_HOME/byok8sd or
    /// ~/.local/share/byok8sd].
    #[arg(long, env = "BYOK8SD_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// PEM certificate to serve; without it a self-signed pair is generated in DATA_DIR/tls.
    #[arg(
        long,
        env = "BYOK8SD_TLS_CERT",
        value_name = "FILE",
        requires = "tls_key"
    )]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key of --tls-cert.
    #[arg(
        long,
        env = "BYOK8SD_TLS_KEY",
        value_name = "FILE",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,

    /// The Snakemake executable.
    #[arg(
        long,
        env = "BYOK8SD_SNAKEMAKE",
        value_name = "PATH",
        default_value = "snakemake"
    )]
    pub snakemake: PathBuf,

    /// Runs executing at once; more wait in a queue, first come first served.
    #[arg(long, env = "BYOK8SD_MAX_CONCURRENT_RUNS", value_name = "N", default_value_t = 4,
          value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub max_concurrent_runs: u32,

    /// Cores each local run's Snakemake may use [default: all of this machine's].
    #[arg(long, env = "BYOK8SD_CORES", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub cores: Option<u32>,

    /// Seconds Snakemake gets to clean up after a cancel before its processes are killed.
    #[arg(
        long,
        env = "BYOK8SD_CANCEL_GRACE_SECONDS",
        value_name = "SECONDS",
        default_value_t = 10
    )]
    pub cancel_grace_seconds: u64,

    /// Largest accepted bundle, compressed, in bytes (at least 1024).
    #[arg(long, env = "BYOK8SD_MAX_BUNDLE_BYTES", value_name = "BYTES", default_value_t = 64 * 1024 * 1024,
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(MIN_BUNDLE_CAP..))]
    pub max_bundle_bytes: usize,

    /// Largest accepted bundle once unpacked, in bytes (at least 1024).
    #[arg(long, env = "BYOK8SD_MAX_UNPACKED_BYTES", value_name = "BYTES", default_value_t = 256 * 1024 * 1024,
          value_parser = clap::value_parser!(u64).range(MIN_BUNDLE_CAP..))]
    pub max_unpacked_bytes: u64,

    /// Where runs execute: Snakemake processes on this machine, or Jobs in a Kubernetes cluster.
    #[arg(long, env = "BYOK8SD_BACKEND", value_enum, default_value_t = BackendKind::Local)]
    pub backend: BackendKind,

    #[command(flatten)]
    pub kubernetes: KubernetesArgs,

    /// Log format on stderr.
    #[arg(long, env = "BYOK8SD_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// The backends a daemon can use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendKind {
    Local,
    Kubernetes,
}

/// Settings of the Kubernetes backend.
#[derive(Debug, clap::Args)]
#[command(next_help_heading = "Kubernetes backend")]
pub struct KubernetesArgs {
    /// Kubeconfig to use instead of the in-cluster service account (for development).
    #[arg(long, env = "BYOK8SD_KUBECONFIG", value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,

    /// Namespace of every run's Jobs.
    #[arg(
        long,
        env = "BYOK8SD_NAMESPACE",
        value_name = "NAME",
        default_value = "byok8s-runs"
    )]
    pub namespace: String,

    /// Image of driver and rule pods (Snakemake, its plugins, the byok8s driver).
    #[arg(
        long,
        env = "BYOK8SD_RUNNER_IMAGE",
        value_name = "IMAGE",
        default_value = "byok8s/runner:0.1.0"
    )]
    pub runner_image: String,

    /// Service account of driver pods: may manage rule Jobs in the namespace, nothing else.
    #[arg(
        long,
        env = "BYOK8SD_RUNNER_SERVICE_ACCOUNT",
        value_name = "NAME",
        default_value = "byok8s-runner"
    )]
    pub runner_service_account: String,

    /// Service account of rule pods, which run the workflow's own code: should have no
    /// permissions at all.
    #[arg(
        long,
        env = "BYOK8SD_RULE_SERVICE_ACCOUNT",
        value_name = "NAME",
        default_value = "byok8s-rule"
    )]
    pub rule_service_account: String,

    /// S3 bucket of runs' files (required with --backend kubernetes).
    #[arg(long, env = "BYOK8SD_S3_BUCKET", value_name = "NAME")]
    pub s3_bucket: Option<String>,

    /// Key prefix under which each run gets USER/RUN/.
    #[arg(
        long,
        env = "BYOK8SD_S3_PREFIX",
        value_name = "PREFIX",
        default_value = "byok8s"
    )]
    pub s3_prefix: String,

    /// Endpoint of an S3-compatible store such as MinIO.
    #[arg(long, env = "BYOK8SD_S3_ENDPOINT_URL", value_name = "URL")]
    pub s3_endpoint_url: Option<String>,

    #[arg(long, env = "BYOK8SD_S3_REGION", value_name = "REGION")]
    pub s3_region: Option<String>,

    /// Secret in the runs' namespace with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, passed
    /// to pods by reference.
    #[arg(
        long,
        env = "BYOK8SD_S3_CREDENTIALS_SECRET",
        value_name = "NAME",
        default_value = "byok8s-s3"
    )]
    pub s3_credentials_secret: String,

    #[arg(
        long,
        env = "BYOK8SD_DRIVER_CPU",
        value_name = "QUANTITY",
        default_value = "500m"
    )]
    pub driver_cpu: String,

    #[arg(
        long,
        env = "BYOK8SD_DRIVER_MEMORY",
        value_name = "QUANTITY",
        default_value = "1Gi"
    )]
    pub driver_memory: String,

    /// Snakemake's --seconds-between-status-checks for rule Jobs.
    #[arg(
        long,
        env = "BYOK8SD_STATUS_CHECK_SECONDS",
        value_name = "SECONDS",
        default_value_t = 10
    )]
    pub status_check_seconds: u32,

    /// Rule Jobs of one run at once (Snakemake's --jobs).
    #[arg(
        long,
        env = "BYOK8SD_MAX_RULE_JOBS",
        value_name = "N",
        default_value_t = 100
    )]
    pub max_rule_jobs: u32,

    /// Fail a run whose rule Jobs have all ended while Snakemake reports nothing for this long.
    #[arg(
        long,
        env = "BYOK8SD_WATCHDOG_SECONDS",
        value_name = "SECONDS",
        default_value_t = 300
    )]
    pub watchdog_seconds: u64,

    /// Fail a run once its driver or a rule pod has been unable to start (image pull
    /// failures, a missing Secret, no node that fits) for this long.
    #[arg(
        long,
        env = "BYOK8SD_STUCK_SECONDS",
        value_name = "SECONDS",
        default_value_t = 600
    )]
    pub stuck_seconds: u64,
}

impl Config {
    /// The data directory, falling back to the XDG location.
    pub fn data_dir(&self) -> PathBuf {
        if let Some(dir) = &self.data_dir {
            return dir.clone();
        }
        let base = std::env::var_os("XDG_DATA_HOME")
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".local/share"))
            })
            .unwrap_or_else(|| PathBuf::from("."));
        base.join("byok8sd")
    }

    pub fn cores(&self) -> usize {
        match self.cores {
            Some(cores) => cores as usize,
            None => std::thread::available_parallelism().map_or(1, usize::from),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_without_its_key_is_a_usage_error() {
        let result = Config::try_parse_from(["byok8sd", "--tls-cert", "c.pem"]);
        assert!(result.is_err());
    }

    #[test]
    fn defaults_listen_on_loopback() {
        let config = Config::try_parse_from(["byok8sd"]).expect("defaults parse");
        assert_eq!(config.listen.to_string(), "127.0.0.1:50051");
        assert_eq!(config.max_concurrent_runs, 4);
    }

    #[test]
    fn zero_concurrent_runs_is_refused() {
        assert!(Config::try_parse_from(["byok8sd", "--max-concurrent-runs", "0"]).is_err());
    }

    #[test]
    fn bundle_caps_that_no_bundle_fits_are_refused() {
        for option in ["--max-bundle-bytes", "--max-unpacked-bytes"] {
            assert!(
                Config::try_parse_from(["byok8sd", option, "0"]).is_err(),
                "{option}"
            );
            let config = Config::try_parse_from(["byok8sd", option, "1024"]).expect(option);
            assert!(config.max_bundle_bytes >= 1024 && config.max_unpacked_bytes >= 1024);
        }
    }
}
