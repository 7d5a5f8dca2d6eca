//! What every integration test needs: a running cluster and a kube-rs client for it.

#![allow(
    clippy::unwrap_used,
    reason = "a panic in a test is a failed test, with a backtrace"
)]
#![allow(dead_code, reason = "each test file uses a different part")]

use std::future::Future;
use std::time::Duration;

use byok8s_test_cluster::{Harness, HarnessOptions};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use tempfile::TempDir;

/// A started cluster, its state directory and a client.
pub struct TestCluster {
    pub harness: Harness,
    pub client: Client,
    pub dir: TempDir,
}

pub async fn start() -> TestCluster {
    start_with(HarnessOptions::default()).await
}

pub async fn start_with(mut options: HarnessOptions) -> TestCluster {
    let dir = tempfile::tempdir().expect("a temporary directory");
    options.binary = Some(env!("CARGO_BIN_EXE_byok8s-test-cluster").into());
    options.grace_cap_seconds.get_or_insert(2);
    let harness = Harness::start(dir.path(), options)
        .await
        .expect("the test cluster starts");
    let client = client_for(&harness, None).await;
    TestCluster {
        harness,
        client,
        dir,
    }
}

/// A kube-rs client from the harness's kubeconfig, optionally with another token.
pub async fn client_for(harness: &Harness, token: Option<&str>) -> Client {
    let kubeconfig = Kubeconfig::read_from(harness.kubeconfig()).expect("a readable kubeconfig");
    let mut config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .expect("a usable kubeconfig");
    if let Some(token) = token {
        config.auth_info.token = Some(token.to_string().into());
    }
    Client::try_from(config).expect("a client")
}

/// Polls `check` until it yields a value, failing the test after `seconds`.
pub async fn eventually<T, F, Fut>(seconds: u64, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// True while some process on the host has `marker` in its command line.
pub fn process_running(marker: &str) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    entries.filter_map(Result::ok).any(|entry| {
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        text.contains(marker) && !text.contains("bwrap")
    })
}
