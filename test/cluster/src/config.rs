//! The command line of `byok8s-test-cluster`.

use std::net::SocketAddr;
use std::path::PathBuf;

/// How to run the test cluster.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "byok8s-test-cluster",
    about = "A strict Kubernetes API server for tests; pods run as local processes"
)]
pub struct Config {
    /// Where the CA, kubeconfig, pod directories and logs go.
    #[arg(long)]
    pub state_dir: PathBuf,

    /// Address to serve HTTPS on; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,

    /// Directory put first on PATH in every pod (emulates the runner image). If it ends in
    /// `bin`, its parent (a venv or prefix) is made visible in pods too. Repeatable.
    #[arg(long = "runner-path", value_name = "DIR")]
    pub runner_paths: Vec<PathBuf>,

    /// Directory made visible, read-only at its own path, in every pod (more emulated image
    /// contents, such as Python packages on PYTHONPATH). Repeatable.
    #[arg(long = "runner-dir", value_name = "DIR")]
    pub runner_dirs: Vec<PathBuf>,

    /// Environment variable set in every pod, as KEY=VALUE. Repeatable.
    #[arg(long = "runner-env", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    pub runner_env: Vec<(String, String)>,

    /// Longest a deleted pod's processes get between SIGTERM and SIGKILL, whatever their
    /// terminationGracePeriodSeconds says.
    #[arg(long, default_value_t = 5)]
    pub grace_cap_seconds: u64,
}

fn parse_key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
        _ => Err(format!("expected KEY=VALUE, got {text:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn runner_env_takes_key_value_pairs() {
        let config = Config::try_parse_from([
            "byok8s-test-cluster",
            "--state-dir",
            "/tmp/x",
            "--runner-env",
            "PIP_NO_INDEX=1",
            "--runner-path",
            "/opt/venv/bin",
        ])
        .unwrap();
        assert_eq!(config.runner_env, vec![("PIP_NO_INDEX".into(), "1".into())]);
        assert_eq!(config.grace_cap_seconds, 5);
        assert!(
            Config::try_parse_from(["x", "--state-dir", "/", "--runner-env", "novalue"]).is_err()
        );
    }
}
