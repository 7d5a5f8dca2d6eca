//! The official Python client against the cluster: the Snakemake executor's call sequence from
//! the host, and in-cluster configuration from inside a pod.
//!
//! Needs a Python with the `kubernetes` package: `$BYOK8S_TEST_PYTHON` or the repository's
//! `.venv` (test/setup-python.sh makes it). Without one the tests fail: a test that passes
//! without running proves nothing.

#![allow(
    clippy::unwrap_used,
    reason = "a panic in a test is a failed test, with a backtrace"
)]

mod common;

use std::path::PathBuf;
use std::process::Command;

use byok8s_test_cluster::HarnessOptions;
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::{LogParams, PostParams};
use serde_json::{Value, json};

fn python() -> PathBuf {
    let repository = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
    let candidates = [
        std::env::var_os("BYOK8S_TEST_PYTHON").map(PathBuf::from),
        Some(repository),
    ];
    let found = candidates.into_iter().flatten().find(|python| {
        Command::new(python)
            .args(["-c", "import kubernetes"])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    found.expect("no Python with the kubernetes package: run test/setup-python.sh")
}

fn steps(output: &str) -> Vec<Value> {
    output
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect()
}

#[tokio::test]
async fn the_python_client_runs_the_snakemake_executor_calls() {
    let python = python();
    let cluster = common::start().await;
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/executor_calls.py");
    let output = tokio::process::Command::new(&python)
        .arg(&script)
        .arg(cluster.harness.kubeconfig())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let steps = steps(&stdout);
    let step = |name: &str| {
        steps
            .iter()
            .find(|s| s["step"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no step {name} in {stdout}"))
    };
    assert_eq!(
        step("failed"),
        json!({"step": "failed", "failed": 1, "pods": 1, "exit_code": 2})
    );
    assert_eq!(step("log")["log"], "AKIAEXAMPLE in /workdir\n");
    // A real kubelet has no previous instance of a container that never restarted.
    assert_eq!(step("previous")["status"], 400);
    // The body hides the query's propagationPolicy, so the Job is deleted with the batch/v1
    // default: orphan.
    assert_eq!(step("deleted")["finalizers"], json!(["orphan"]));
    assert_eq!(
        step("gone"),
        json!({"step": "gone", "jobs": 0, "secrets": 0})
    );
}

#[tokio::test]
async fn a_pod_reaches_the_api_with_in_cluster_configuration() {
    let python = python();
    let bin = python.parent().unwrap().to_path_buf();
    let options = HarnessOptions {
        runner_paths: vec![bin],
        ..HarnessOptions::default()
    };
    let cluster = common::start_with(options).await;
    let code = "import kubernetes\n\
                kubernetes.config.load_incluster_config()\n\
                pods = kubernetes.client.CoreV1Api().list_namespaced_pod('default').items\n\
                print('pods:', [p.metadata.name for p in pods])";
    let pod: Pod = serde_json::from_value(
        json!({"metadata": {"name": "inside"}, "spec": {"restartPolicy": "Never",
        "containers": [{"name": "c", "image": "runner", "command": ["python", "-c", code]}]}}),
    )
    .unwrap();
    let pods: Api<Pod> = Api::default_namespaced(cluster.client.clone());
    pods.create(&PostParams::default(), &pod).await.unwrap();
    let phase = common::eventually(60, "the pod to finish", || async {
        let phase = pods.get("inside").await.ok()?.status?.phase?;
        matches!(phase.as_str(), "Succeeded" | "Failed").then_some(phase)
    })
    .await;
    let log = pods.logs("inside", &LogParams::default()).await.unwrap();
    assert_eq!(phase, "Succeeded", "log: {log}");
    assert_eq!(log, "pods: ['inside']\n");
}
