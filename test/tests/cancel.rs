//! Cancelling a running workflow stops it promptly and leaves no process behind.

use std::time::{Duration, Instant};

use byok8s_tests::{Daemon, Follower, Scratch, processes_under, run, status, submit};

#[test]
fn cancelling_a_running_workflow_ends_it_cancelled_without_leftover_processes() {
    let scratch = Scratch::new();
    let daemon = Daemon::start(&scratch, &[]);
    let example = scratch.workflow("example");
    let (run_id, follower) =
        Follower::submit_under_way(&daemon, &example, &["workflow-zeta", "params-blue"]);

    let asked = Instant::now();
    let mut cancel = daemon.client(&example);
    cancel.args(["cancel", &run_id, "--reason", "changed my mind"]);
    let outcome = run(&mut cancel, Duration::from_secs(60));
    let took = asked.elapsed();

    assert_eq!(outcome.code, 0, "{outcome:?}");
    assert!(outcome.stdout.contains("cancelled"), "{outcome:?}");
    assert!(took < Duration::from_secs(10), "cancelling took {took:?}");
    let run = status(&daemon, &example, &run_id);
    assert_eq!(run["phase"], "cancelled");
    assert_eq!(run["reason"], "changed my mind");

    let (code, events) = follower.finish();
    assert_eq!(
        code, 3,
        "a follower of a cancelled run exits with the stopped code"
    );
    assert_eq!(
        events.phases().last().map(String::as_str),
        Some("cancelled")
    );
    let run_dir = daemon.data_dir().join("runs").join(&run_id);
    assert_eq!(
        processes_under(&run_dir),
        Vec::<i32>::new(),
        "processes left in {}",
        run_dir.display()
    );
}

#[test]
fn cancelling_a_queued_run_ends_it_before_it_starts() {
    let scratch = Scratch::new();
    let daemon = Daemon::start(&scratch, &["--max-concurrent-runs", "1"]);
    let example = scratch.workflow("example");
    let first = submit(&daemon, &example, &["workflow-zeta", "params-blue"]);
    let queued = submit(&daemon, &example, &["workflow-alpha", "params-blue"]);
    assert_eq!(
        status(&daemon, &example, &queued)["phase"],
        "queued",
        "one slot: the second waits"
    );

    let mut cancel = daemon.client(&example);
    cancel.args(["cancel", &queued]);
    assert_eq!(run(&mut cancel, Duration::from_secs(30)).code, 0);

    let run = status(&daemon, &example, &queued);
    assert_eq!(run["phase"], "cancelled");
    assert_eq!(
        run["started_at"],
        serde_json::Value::Null,
        "it never started"
    );
    assert_eq!(status(&daemon, &example, &first)["phase"], "running");
}
