//! The daemon keeps what it recorded across restarts, and never loses a run it was executing.

use std::time::Duration;

use byok8s_tests::{
    Daemon, Events, Follower, Scratch, processes_under, run, status, submit, submit_and_follow,
    watch,
};

#[test]
fn a_finished_run_is_served_whole_after_a_restart() {
    let scratch = Scratch::new();
    let mut daemon = Daemon::start(&scratch, &[]);
    let example = scratch.workflow("example");
    let before = submit_and_follow(&daemon, &example, &["workflow-alpha", "params-blue"]);
    assert_eq!(before.code, 0, "{before:?}");
    let before = Events::of(&before);
    let run_id = before.run_id();

    daemon.stop();
    daemon.restart();

    let after = watch(&daemon, &example, &run_id, 0);
    assert_eq!(after.code, 0, "{after:?}");
    assert_eq!(Events::of(&after).0, before.0, "every event, unchanged");
    let mut logs = daemon.client(&example);
    logs.args(["logs", &run_id]);
    let logs = run(&mut logs, Duration::from_secs(30));
    assert!(logs.stdout.contains("building alpha for blue"), "{logs:?}");
    assert_eq!(logs.stdout.lines().count(), before.log_lines().len());
    assert_eq!(status(&daemon, &example, &run_id)["phase"], "succeeded");
}

#[test]
fn a_run_killed_with_the_daemon_is_marked_interrupted_after_restart() {
    let scratch = Scratch::new();
    let mut daemon = Daemon::start(&scratch, &[]);
    let example = scratch.workflow("example");
    let (run_id, follower) =
        Follower::submit_under_way(&daemon, &example, &["workflow-zeta", "params-blue"]);
    drop(follower);

    daemon.kill();
    daemon.restart();

    let run = status(&daemon, &example, &run_id);
    assert_eq!(run["phase"], "interrupted", "{run}");
    assert!(
        run["reason"]
            .as_str()
            .is_some_and(|r| r.contains("byok8sd stopped")),
        "{run}"
    );
    let run_dir = daemon.data_dir().join("runs").join(&run_id);
    assert_eq!(
        processes_under(&run_dir),
        Vec::<i32>::new(),
        "the old Snakemake was killed"
    );
    let events = Events::of(&watch(&daemon, &example, &run_id, 0));
    assert_eq!(
        events.phases().last().map(String::as_str),
        Some("interrupted")
    );
}

/// Leaves one run executing and one queued behind it, then stops the daemon with `stop`.
fn queued_run_across_restart(stop: fn(&mut Daemon)) {
    let scratch = Scratch::new();
    let mut daemon = Daemon::start(&scratch, &["--max-concurrent-runs", "1"]);
    let example = scratch.workflow("example");
    let first = submit(&daemon, &example, &["workflow-zeta", "params-blue"]);
    let queued = submit(&daemon, &example, &["workflow-alpha", "params-red"]);
    assert_eq!(status(&daemon, &example, &queued)["phase"], "queued");

    stop(&mut daemon);
    daemon.restart();

    assert_eq!(status(&daemon, &example, &first)["phase"], "interrupted");
    let events = Events::of(&watch(&daemon, &example, &queued, 0));
    assert_eq!(events.phases(), ["queued", "running", "succeeded"]);
}

#[test]
fn a_run_queued_when_the_daemon_was_killed_runs_after_restart() {
    queued_run_across_restart(Daemon::kill);
}

#[test]
fn a_run_queued_when_the_daemon_was_stopped_runs_after_restart() {
    queued_run_across_restart(Daemon::stop);
}

#[test]
fn a_follower_resumes_across_a_daemon_restart_with_no_gap_and_no_repeat() {
    let scratch = Scratch::new();
    let mut daemon = Daemon::start(&scratch, &["--max-concurrent-runs", "1"]);
    let example = scratch.workflow("example");
    submit(&daemon, &example, &["workflow-zeta", "params-blue"]);
    let queued = submit(&daemon, &example, &["workflow-gamma", "params-blue"]);
    let mut follower = Follower::start(&daemon, &example, &queued);
    follower.wait_for("phase");

    // The follower loses its stream and reconnects, with backoff, to the next daemon.
    daemon.stop();
    daemon.restart();

    let (code, events) = follower.finish();
    assert_eq!(code, 0, "the followed run succeeded after the restart");
    assert_eq!(events.phases(), ["queued", "running", "succeeded"]);
    let expected: Vec<u64> = (1..=events.seqs().len() as u64).collect();
    assert_eq!(events.seqs(), expected, "every event once, in order");
}
