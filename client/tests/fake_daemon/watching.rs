//! `watch` and `logs` through the binary: lines printed, resuming and exit codes.

use std::path::Path;

use byok8s::proto::{EventKind, RunPhase};

use crate::binary::{byok8s, daemon_with_failed_run, json_lines, seqs, stderr, stdout};
use crate::daemon::FakeDaemon;
use crate::script::{Interruption, Script, failing_run_events, run};

#[tokio::test]
async fn watch_prints_every_event_and_exits_with_the_failure_code() {
    let daemon = daemon_with_failed_run().await;
    let output = byok8s(&daemon, Path::new("."), &["watch", "run-1"]).await;
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let expected = "\
12:00:01 run run-1 queued
12:00:02 run run-1 running
12:00:03 job 1 doomed started (doomed.txt)
12:00:04 [doomed] doomed is about to fail
12:00:05 job 1 doomed FAILED: exit 3
12:00:06 job 2 fine finished
12:00:07 progress 1/2 (50%)
12:00:08 run run-1 failed: job doomed failed
";
    assert_eq!(stdout(&output), expected);
}

#[tokio::test]
async fn watch_resumes_after_the_daemon_drops_out_with_no_gap_and_no_repeat() {
    let mut script = Script {
        runs: vec![run("run-1", RunPhase::Failed, 8)],
        events: failing_run_events("run-1", RunPhase::Failed),
        ..Script::default()
    };
    script
        .interruptions
        .push_back(Interruption::Unavailable { after: 3 });
    script
        .interruptions
        .push_back(Interruption::Unavailable { after: 5 });
    let daemon = FakeDaemon::start(script).await;
    let output = byok8s(
        &daemon,
        Path::new("."),
        &["watch", "run-1", "--output", "json"],
    )
    .await;
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(seqs(&json_lines(&output)), [1, 2, 3, 4, 5, 6, 7, 8]);
    let text = stderr(&output);
    assert!(
        text.contains("connection lost, resuming after event 3\n"),
        "{text}"
    );
    assert!(
        text.contains("connection lost, resuming after event 5\n"),
        "{text}"
    );
    let after: Vec<_> = daemon
        .script()
        .watches
        .iter()
        .map(|w| w.after_seq)
        .collect();
    assert_eq!(after, [0, 3, 5]);
}

#[tokio::test]
async fn watch_of_a_cancelled_run_exits_3() {
    let script = Script {
        runs: vec![run("run-1", RunPhase::Cancelled, 8)],
        events: failing_run_events("run-1", RunPhase::Cancelled),
        ..Script::default()
    };
    let daemon = FakeDaemon::start(script).await;
    let output = byok8s(
        &daemon,
        Path::new("."),
        &["watch", "run-1", "--after-seq", "6"],
    )
    .await;
    assert_eq!(output.status.code(), Some(3));
    assert_eq!(stdout(&output).lines().count(), 2, "{}", stdout(&output));
}

#[tokio::test]
async fn logs_prints_only_stored_log_lines_and_exits_0() {
    let daemon = daemon_with_failed_run().await;
    let output = byok8s(&daemon, Path::new("."), &["logs", "run-1"]).await;
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        stdout(&output),
        "12:00:04 [doomed] doomed is about to fail\n"
    );
    let watch = daemon.script().watches[0].clone();
    assert!(!watch.follow);
    assert_eq!(watch.kinds, [EventKind::Log as i32]);
}

#[tokio::test]
async fn logs_follow_exits_with_the_run_outcome() {
    let daemon = daemon_with_failed_run().await;
    let output = byok8s(&daemon, Path::new("."), &["logs", "run-1", "-f"]).await;
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(
        stdout(&output),
        "12:00:04 [doomed] doomed is about to fail\n"
    );
    assert!(daemon.script().watches.iter().all(|w| w.follow));
}

#[tokio::test]
async fn watch_started_while_the_daemon_drops_connections_follows_once_it_answers() {
    let script = Script {
        runs: vec![run("run-1", RunPhase::Failed, 8)],
        events: failing_run_events("run-1", RunPhase::Failed),
        dropped_connections: 2,
        ..Script::default()
    };
    let daemon = FakeDaemon::start(script).await;
    let args = ["watch", "run-1", "--output", "json"];
    let output = byok8s(&daemon, Path::new("."), &args).await;
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(seqs(&json_lines(&output)), [1, 2, 3, 4, 5, 6, 7, 8]);
}

#[tokio::test]
async fn watch_with_an_untrusted_certificate_exits_4_without_retrying() {
    let daemon = daemon_with_failed_run().await;
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_byok8s"))
        .args(["--server", &daemon.url, "watch", "run-1"])
        .env_remove("BYOK8S_CA_CERT")
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(4), "{}", stderr(&output));
    assert!(stderr(&output).contains("hint: pass the daemon's certificate with --ca-cert"));
    assert_eq!(daemon.connections(), 1);
}
