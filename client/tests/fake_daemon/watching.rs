//! `watch` and `logs` through the binary: lines printed, resuming and exit codes.

use std::path::Path;
use std::process::{Output, Stdio};

use byok8s::proto::{EventKind, RunPhase};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

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
        text.contains("lost the connection to byok8sd; reconnecting to resume after event 3\n"),
        "{text}"
    );
    assert!(
        text.contains("lost the connection to byok8sd; reconnecting to resume after event 5\n"),
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

/// A daemon whose run-1 is running and whose first stream stops after event `after` but stays
/// open.
async fn daemon_with_a_quiet_running_run(after: u64) -> FakeDaemon {
    let script = Script {
        runs: vec![run("run-1", RunPhase::Running, after)],
        events: failing_run_events("run-1", RunPhase::Failed),
        interruptions: [Interruption::Hold { after }].into(),
        ..Script::default()
    };
    FakeDaemon::start(script).await
}

/// Starts `byok8s ARGS` against `daemon`, waits for `lines` lines on standard output (by then
/// it is following), then presses Ctrl-C and returns what it printed in all and how it ended.
async fn interrupt_after(daemon: &FakeDaemon, args: &[&str], lines: usize) -> Output {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_byok8s"))
        .args(args)
        .env("BYOK8S_SERVER", &daemon.url)
        .env("BYOK8S_CA_CERT", &daemon.ca_file)
        .env_remove("BYOK8S_OUTPUT")
        .env("TZ", "UTC")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    for _ in 0..lines {
        stdout.read_line(&mut seen).await.unwrap();
    }
    let pid = Pid::from_raw(child.id().unwrap() as i32);
    kill(pid, Signal::SIGINT).unwrap();
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).await.unwrap();
    let mut output = child.wait_with_output().await.unwrap();
    output.stdout = format!("{seen}{rest}").into_bytes();
    output
}

#[tokio::test]
async fn ctrl_c_stops_watching_with_130_and_says_how_to_resume_or_cancel() {
    let daemon = daemon_with_a_quiet_running_run(3).await;
    let args = ["watch", "run-1", "--output", "json"];
    let output = interrupt_after(&daemon, &args, 3).await;
    assert_eq!(output.status.code(), Some(130), "{}", stderr(&output));
    assert_eq!(seqs(&json_lines(&output)), [1, 2, 3]);
    let text = stderr(&output);
    assert!(
        text.contains("stopped following run run-1 after event 3; the run goes on\n"),
        "{text}"
    );
    assert!(
        text.contains("resume with `byok8s watch run-1 --after-seq 3`"),
        "{text}"
    );
    assert!(text.contains("`byok8s cancel run-1`"), "{text}");
    assert!(daemon.script().cancels.is_empty());
}

#[tokio::test]
async fn ctrl_c_stops_following_logs_with_130() {
    let daemon = daemon_with_a_quiet_running_run(4).await;
    let output = interrupt_after(&daemon, &["logs", "run-1", "-f"], 1).await;
    assert_eq!(output.status.code(), Some(130), "{}", stderr(&output));
    assert_eq!(
        stdout(&output),
        "12:00:04 [doomed] doomed is about to fail\n"
    );
    assert!(stderr(&output).contains("resume with `byok8s logs -f run-1 --after-seq 4`"));
}

#[tokio::test]
async fn logs_follow_ends_by_saying_how_the_run_ended() {
    let mut failed = run("run-1", RunPhase::Failed, 8);
    failed.reason = "job doomed failed".into();
    let script = Script {
        runs: vec![failed],
        events: failing_run_events("run-1", RunPhase::Failed),
        ..Script::default()
    };
    let daemon = FakeDaemon::start(script).await;
    let output = byok8s(&daemon, Path::new("."), &["logs", "run-1", "-f"]).await;
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert_eq!(stderr(&output), "run run-1 failed: job doomed failed\n");
}

#[tokio::test]
async fn a_closed_standard_output_ends_watch_quietly_with_0() {
    let daemon = daemon_with_failed_run().await;
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_byok8s"))
        .args(["watch", "run-1"])
        .env("BYOK8S_SERVER", &daemon.url)
        .env("BYOK8S_CA_CERT", &daemon.ca_file)
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let output = child.wait_with_output().await.unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stderr(&output), "");
}
