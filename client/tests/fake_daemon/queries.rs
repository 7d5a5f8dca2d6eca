//! `status`, `list` and `cancel` through the binary, and how it reports errors.

use std::path::Path;

use byok8s::proto::RunPhase;
use serde_json::Value;

use crate::binary::{byok8s, daemon_with_failed_run, stderr, stdout};

#[tokio::test]
async fn status_prints_the_run_as_an_aligned_block() {
    let daemon = daemon_with_failed_run().await;
    let output = byok8s(&daemon, Path::new("."), &["status", "run-1"]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.starts_with("id:       run-1\nphase:    failed\n"),
        "{text}"
    );
    assert!(text.contains("created:  2025-03-01 12:00:00 ("), "{text}");
}

#[tokio::test]
async fn status_as_json_is_the_run_object() {
    let daemon = daemon_with_failed_run().await;
    let output = byok8s(
        &daemon,
        Path::new("."),
        &["status", "run-1", "--output", "json"],
    )
    .await;
    let run: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(run["phase"], "failed");
    assert_eq!(run["created_at"], "2025-03-01T12:00:00Z");
}

#[tokio::test]
async fn an_unknown_run_exits_5_with_the_server_message() {
    let daemon = daemon_with_failed_run().await;
    let output = byok8s(&daemon, Path::new("."), &["status", "nope"]).await;
    assert_eq!(output.status.code(), Some(5));
    let text = stderr(&output);
    assert!(
        text.starts_with("error: run nope not found\n  caused by: gRPC status NOT_FOUND\n"),
        "{text}"
    );
}

#[tokio::test]
async fn an_untrusted_certificate_exits_4_with_the_ca_cert_hint() {
    let daemon = daemon_with_failed_run().await;
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_byok8s"))
        .args(["--server", &daemon.url, "status", "run-1"])
        .env_remove("BYOK8S_CA_CERT")
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(4));
    let text = stderr(&output);
    assert!(
        text.contains(&format!("error: cannot reach byok8sd at {}", daemon.url)),
        "{text}"
    );
    assert!(
        text.contains("hint: pass the daemon's certificate with --ca-cert"),
        "{text}"
    );
}

#[tokio::test]
async fn list_sends_its_filters_and_prints_a_table() {
    let daemon = daemon_with_failed_run().await;
    let args = [
        "list",
        "--phase",
        "failed",
        "--label",
        "team=blue",
        "--limit",
        "3",
    ];
    let output = byok8s(&daemon, Path::new("."), &args).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.starts_with("ID     PHASE   WORKFLOW"), "{text}");
    assert!(text.contains("run-1  failed  workflow-fail"), "{text}");
    let request = daemon.script().lists[0].clone();
    assert_eq!(request.phases, [RunPhase::Failed as i32]);
    assert_eq!(
        (request.limit, request.labels["team"].as_str()),
        (3, "blue")
    );
}

#[tokio::test]
async fn list_as_json_is_an_array() {
    let daemon = daemon_with_failed_run().await;
    let output = byok8s(&daemon, Path::new("."), &["list", "--output", "json"]).await;
    let runs: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn cancel_reports_a_run_that_had_already_finished() {
    let daemon = daemon_with_failed_run().await;
    let output = byok8s(
        &daemon,
        Path::new("."),
        &["cancel", "run-1", "--reason", "enough"],
    )
    .await;
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(stdout(&output), "run run-1 had already finished: failed\n");
    assert_eq!(daemon.script().cancels[0].reason, "enough");
}
