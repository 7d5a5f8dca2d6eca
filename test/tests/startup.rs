//! How byok8sd takes its data directory: any path works, and only one daemon may use it.

use std::process::Stdio;
use std::time::Duration;

use byok8s_tests::{Daemon, Follower, Scratch, run, submit, submit_and_follow};

#[test]
fn a_daemon_given_a_relative_data_directory_runs_workflows() {
    let scratch = Scratch::new();
    let daemon = Daemon::start_relative(&scratch, &[]);
    let example = scratch.workflow("example");

    let outcome = submit_and_follow(&daemon, &example, &["workflow-alpha", "params-blue"]);

    assert_eq!(outcome.code, 0, "{outcome:?}");
    let run_id = byok8s_tests::Events::of(&outcome).run_id();
    let output = daemon
        .data_dir()
        .join("runs")
        .join(run_id)
        .join("work/alpha.txt");
    assert_eq!(std::fs::read_to_string(output).unwrap(), "alpha blue\n");
}

#[test]
fn a_second_daemon_on_a_data_directory_in_use_refuses_to_start_and_leaves_its_runs_alone() {
    let scratch = Scratch::new();
    let daemon = Daemon::start(&scratch, &[]);
    let example = scratch.workflow("example");
    let run_id = submit(&daemon, &example, &["workflow-zeta", "params-blue"]);
    let mut follower = Follower::start(&daemon, &example, &run_id);
    follower.wait_for("job_started");

    let mut second = daemon.command();
    second
        .args(["--listen", "127.0.0.1:0"])
        .stdin(Stdio::null());
    let refused = run(&mut second, Duration::from_secs(30));

    assert_ne!(refused.code, 0, "{refused:?}");
    assert!(
        refused.stderr.contains("already using the data directory"),
        "{refused:?}"
    );
    let (code, events) = follower.finish();
    assert_eq!(code, 0, "the first daemon's run goes on undisturbed");
    assert_eq!(events.phases(), ["queued", "running", "succeeded"]);
}
