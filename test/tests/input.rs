//! Bad input, untrusted certificates and unknown runs get clear errors, distinct exit codes,
//! and change nothing on the daemon.

use std::time::Duration;

use byok8s_tests::{Daemon, Scratch, run};

fn runs_on(daemon: &Daemon, dir: &std::path::Path) -> serde_json::Value {
    let mut list = daemon.client(dir);
    list.args(["--output", "json", "list"]);
    let outcome = run(&mut list, Duration::from_secs(30));
    assert_eq!(outcome.code, 0, "{outcome:?}");
    outcome.json()
}

#[test]
fn missing_and_malformed_inputs_exit_2_and_submit_nothing() {
    let scratch = Scratch::new();
    let daemon = Daemon::start(&scratch, &[]);
    let example = scratch.workflow("example");
    std::fs::write(example.join("params-broken.json"), "{\"name\": ").unwrap();
    std::fs::write(example.join("workflow-none.json"), "{}").unwrap();
    std::fs::create_dir(example.join("params-dir")).unwrap();

    let cases: [(&[&str], &str); 6] = [
        (&["workflow-nope", "params-blue"], "workflow-nope.json"),
        (
            &["workflow-alpha", "params-dir"],
            "params file params-dir is a directory",
        ),
        (
            &["workflow-alpha", "params-blue", "--idempotency-key", ""],
            "--idempotency-key",
        ),
        (&["workflow-alpha", "params-broken"], "params-broken.json"),
        (&["workflow-none", "params-blue"], "workflow_target"),
        (
            &["workflow-alpha", "params-blue", "--snakefile", "Nofile"],
            "Nofile",
        ),
    ];
    for (args, named) in cases {
        let mut submit = daemon.client(&example);
        submit.arg("submit").args(args);
        let outcome = run(&mut submit, Duration::from_secs(30));
        assert_eq!(outcome.code, 2, "{args:?}: {outcome:?}");
        assert!(
            outcome.stderr.contains("error:") && outcome.stderr.contains(named),
            "{args:?}: {outcome:?}"
        );
    }
    assert_eq!(runs_on(&daemon, &example), serde_json::json!([]));
}

#[test]
fn a_target_outside_the_run_directory_is_refused_and_nothing_is_submitted() {
    let scratch = Scratch::new();
    let daemon = Daemon::start(&scratch, &[]);
    let example = scratch.workflow("example");

    let mut submit = daemon.client(&example);
    submit.args([
        "submit",
        "workflow-alpha",
        "params-blue",
        "../../escape.txt",
    ]);
    let outcome = run(&mut submit, Duration::from_secs(30));

    assert_eq!(outcome.code, 2, "{outcome:?}");
    assert!(outcome.stderr.contains("relative path"), "{outcome:?}");
    assert_eq!(runs_on(&daemon, &example), serde_json::json!([]));
}

#[test]
fn watching_after_a_run_s_newest_event_is_refused_as_a_mistake() {
    let scratch = Scratch::new();
    let daemon = Daemon::start(&scratch, &[]);
    let example = scratch.workflow("example");
    let followed =
        byok8s_tests::submit_and_follow(&daemon, &example, &["workflow-alpha", "params-blue"]);
    assert_eq!(followed.code, 0, "{followed:?}");
    let run_id = followed.json_lines()[0]["run_id"]
        .as_str()
        .expect("run id")
        .to_owned();
    let last_seq = byok8s_tests::status(&daemon, &example, &run_id)["last_seq"]
        .as_u64()
        .expect("last_seq");

    let watch_after = |after_seq: u64| {
        let mut watch = daemon.client(&example);
        watch.args(["watch", &run_id, "--after-seq", &after_seq.to_string()]);
        run(&mut watch, Duration::from_secs(30))
    };
    let at_the_end = watch_after(last_seq);
    assert_eq!(
        (at_the_end.code, at_the_end.stdout.as_str()),
        (0, ""),
        "{at_the_end:?}"
    );
    let past_the_end = watch_after(last_seq + 1);
    assert_eq!(past_the_end.code, 2, "{past_the_end:?}");
    assert!(
        past_the_end
            .stderr
            .contains(&format!("has {last_seq} events")),
        "{past_the_end:?}"
    );
}

#[test]
fn a_client_that_does_not_trust_the_certificate_cannot_connect() {
    let scratch = Scratch::new();
    let daemon = Daemon::start(&scratch, &[]);

    let mut status = daemon.client(scratch.path());
    status
        .env_remove("BYOK8S_CA_CERT")
        .args(["status", "run-x"]);
    let outcome = run(&mut status, Duration::from_secs(30));

    assert_eq!(outcome.code, 4, "{outcome:?}");
    assert!(
        outcome.stderr.contains("--ca-cert"),
        "a hint names the fix: {outcome:?}"
    );
}

#[test]
fn an_unknown_run_exits_5() {
    let scratch = Scratch::new();
    let daemon = Daemon::start(&scratch, &[]);
    for command in ["status", "watch", "logs", "cancel"] {
        let mut client = daemon.client(scratch.path());
        client.args([command, "run-does-not-exist"]);
        let outcome = run(&mut client, Duration::from_secs(30));
        assert_eq!(outcome.code, 5, "{command}: {outcome:?}");
        assert!(
            outcome.stderr.contains("not found"),
            "{command}: {outcome:?}"
        );
    }
}

#[test]
fn a_repeated_idempotency_key_returns_the_first_run() {
    let scratch = Scratch::new();
    let daemon = Daemon::start(&scratch, &[]);
    let example = scratch.workflow("example");
    let args = [
        "workflow-alpha",
        "params-blue",
        "--idempotency-key",
        "batch-7-item-1",
    ];

    let first = byok8s_tests::submit(&daemon, &example, &args);
    let second = byok8s_tests::submit(&daemon, &example, &args);

    assert_eq!(first, second);
    assert_eq!(runs_on(&daemon, &example).as_array().map(Vec::len), Some(1));

    // The same key with other inputs is a mistake worth stopping, not a retry.
    let mut reused = daemon.client(&example);
    reused.args([
        "submit",
        "workflow-alpha",
        "params-red",
        "--idempotency-key",
        "batch-7-item-1",
    ]);
    let outcome = run(&mut reused, Duration::from_secs(30));
    assert_eq!(outcome.code, 6, "{outcome:?}");
    assert!(
        outcome.stderr.contains("idempotency key already used"),
        "{outcome:?}"
    );
    assert_eq!(runs_on(&daemon, &example).as_array().map(Vec::len), Some(1));
}

#[test]
fn a_daemon_without_a_usable_snakemake_refuses_to_start() {
    let scratch = Scratch::new();
    let output = std::process::Command::new(byok8s_tests::binary("byok8sd"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--snakemake",
            "/nonexistent/snakemake",
        ])
        .arg("--data-dir")
        .arg(scratch.path().join("data"))
        .output()
        .expect("run byok8sd");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("/nonexistent/snakemake"), "{stderr}");
}
