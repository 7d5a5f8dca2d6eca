//! `submit` through the binary: what is sent, retries, and what is printed.

use std::process::Output;

use byok8s::proto::RunPhase;

use crate::binary::{
    byok8s, daemon_with_failed_run, json_lines, seqs, stderr, stdout, workflow_dir,
};
use crate::daemon::FakeDaemon;
use crate::script::{Script, failing_run_events};

#[tokio::test]
async fn submit_sends_the_documents_bundle_labels_and_a_fresh_key() {
    let daemon = daemon_with_failed_run().await;
    let dir = workflow_dir();
    let args = [
        "submit",
        "workflow-fail",
        "params",
        "--label",
        "team=blue",
        "--dry-run",
    ];
    let output = byok8s(&daemon, dir.path(), &args).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output), "submitted run run-2\n");
    assert!(stderr(&output).contains("hint: follow it with `byok8s watch run-2`"));
    let packing = "packing 3 files (49 B) from .\n";
    assert!(stderr(&output).starts_with(packing), "{}", stderr(&output));
    let request = daemon.script().submits[0].clone();
    assert_eq!(request.workflow.unwrap().name, "workflow-fail");
    assert_eq!(request.params.unwrap().json, r#"{"name": "x"}"#);
    assert_eq!(request.targets, ["all"]);
    assert_eq!(request.labels["team"], "blue");
    assert!(request.dry_run);
    assert_eq!(request.bundle.unwrap().snakefile, "Snakefile");
    assert_eq!(request.idempotency_key.len(), 26, "a ULID");
}

/// Submits to a stand-in daemon that misbehaves as `script` says, and checks that the submit
/// still succeeded.
async fn submit_succeeding_despite(script: Script) -> (FakeDaemon, Output) {
    let daemon = FakeDaemon::start(script).await;
    let dir = workflow_dir();
    let output = byok8s(&daemon, dir.path(), &["submit", "workflow-fail", "params"]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    (daemon, output)
}

#[tokio::test]
async fn submit_retries_an_unavailable_daemon_with_the_same_key() {
    let (daemon, _) = submit_succeeding_despite(Script {
        submit_failures: 2,
        ..Script::default()
    })
    .await;
    let keys: Vec<_> = daemon
        .script()
        .submits
        .iter()
        .map(|s| s.idempotency_key.clone())
        .collect();
    assert_eq!(keys.len(), 3);
    assert!(keys.iter().all(|key| *key == keys[0]));
}

#[tokio::test]
async fn submit_with_a_known_key_reports_the_existing_run() {
    let daemon = daemon_with_failed_run().await;
    let dir = workflow_dir();
    let args = [
        "submit",
        "workflow-fail",
        "params",
        "--idempotency-key",
        "k1",
    ];
    byok8s(&daemon, dir.path(), &args).await;
    let output = byok8s(&daemon, dir.path(), &args).await;
    let expected = "submitted run run-2 (existing run for this idempotency key)\n";
    assert_eq!(stdout(&output), expected);
}

#[tokio::test]
async fn submit_with_bad_inputs_exits_2_without_connecting() {
    let daemon = daemon_with_failed_run().await;
    let dir = workflow_dir();
    let output = byok8s(&daemon, dir.path(), &["submit", "missing", "params"]).await;
    assert_eq!(output.status.code(), Some(2));
    let expected = "error: workflow file not found: tried missing and missing.json\n";
    assert_eq!(stderr(&output), expected);
    assert_eq!(daemon.connections(), 0);
}

#[tokio::test]
async fn submit_follow_watches_the_new_run() {
    let script = Script {
        events: failing_run_events("run-1", RunPhase::Succeeded),
        ..Script::default()
    };
    let daemon = FakeDaemon::start(script).await;
    let dir = workflow_dir();
    let args = [
        "submit",
        "workflow-fail",
        "params",
        "--follow",
        "--output",
        "json",
    ];
    let output = byok8s(&daemon, dir.path(), &args).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(seqs(&json_lines(&output)), [1, 2, 3, 4, 5, 6, 7, 8]);
}

#[tokio::test]
async fn submit_reaches_a_daemon_that_drops_its_first_connections() {
    let (daemon, output) = submit_succeeding_despite(Script {
        dropped_connections: 2,
        ..Script::default()
    })
    .await;
    assert_eq!(stdout(&output), "submitted run run-1\n");
    assert_eq!(daemon.script().submits.len(), 1);
    assert_eq!(daemon.connections(), 3);
}

#[tokio::test]
async fn submit_with_nothing_listening_exits_4_after_its_retries() {
    let port = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = workflow_dir();
    let started = std::time::Instant::now();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_byok8s"))
        .args(["submit", "workflow-fail", "params"])
        .current_dir(dir.path())
        .env("BYOK8S_SERVER", format!("https://127.0.0.1:{port}"))
        .env_remove("BYOK8S_CA_CERT")
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    let text = stderr(&output);
    let headline = format!("error: cannot reach byok8sd at https://127.0.0.1:{port}\n");
    assert!(text.contains(&headline), "{text}");
    assert!(text.contains("hint: is byok8sd running?"), "{text}");
    // Three retries wait half a second, one second and two seconds.
    assert!(started.elapsed() >= std::time::Duration::from_millis(3500));
}

#[tokio::test]
async fn submit_as_json_says_whether_the_key_found_an_existing_run() {
    let daemon = daemon_with_failed_run().await;
    let dir = workflow_dir();
    let args = [
        "submit",
        "workflow-fail",
        "params",
        "--idempotency-key",
        "k1",
        "--output",
        "json",
    ];
    let first = byok8s(&daemon, dir.path(), &args).await;
    let second = byok8s(&daemon, dir.path(), &args).await;
    assert_eq!(stderr(&first), "", "JSON mode adds nothing for people");
    let first: serde_json::Value = serde_json::from_str(&stdout(&first)).unwrap();
    let second: serde_json::Value = serde_json::from_str(&stdout(&second)).unwrap();
    assert_eq!(
        (&first["id"], &first["existing"]),
        (&"run-2".into(), &false.into())
    );
    assert_eq!(
        (&second["id"], &second["existing"]),
        (&"run-2".into(), &true.into())
    );
}
