//! Running the `byok8s` binary against the stand-in daemon and reading what it printed.

use std::path::Path;
use std::process::Output;

use byok8s::proto::RunPhase;
use serde_json::Value;

use crate::daemon::FakeDaemon;
use crate::script::{Script, failing_run_events, run};

/// Runs `byok8s` against `daemon` (trusting its certificate) in `dir`, with times in UTC.
pub async fn byok8s(daemon: &FakeDaemon, dir: &Path, args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_byok8s"))
        .args(args)
        .current_dir(dir)
        .env("BYOK8S_SERVER", &daemon.url)
        .env("BYOK8S_CA_CERT", &daemon.ca_file)
        .env_remove("BYOK8S_OUTPUT")
        .env("TZ", "UTC")
        .output()
        .await
        .unwrap()
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

pub fn json_lines(output: &Output) -> Vec<Value> {
    stdout(output)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

pub fn seqs(events: &[Value]) -> Vec<u64> {
    events
        .iter()
        .map(|event| event["seq"].as_u64().unwrap())
        .collect()
}

pub async fn daemon_with_failed_run() -> FakeDaemon {
    let script = Script {
        runs: vec![run("run-1", RunPhase::Failed, 8)],
        events: failing_run_events("run-1", RunPhase::Failed),
        ..Script::default()
    };
    FakeDaemon::start(script).await
}

pub fn workflow_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let files = [
        ("Snakefile", "rule all:\n"),
        ("workflow-fail.json", r#"{"workflow_target": "all"}"#),
        ("params.json", r#"{"name": "x"}"#),
        (".snakemake/log", "old"),
    ];
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}
