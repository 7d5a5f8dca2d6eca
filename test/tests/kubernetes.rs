//! The Kubernetes backend end to end: byok8sd drives real Snakemake with its Kubernetes
//! executor on the strict test-cluster harness, with a real S3-compatible server.

use std::time::Duration;

use byok8s_tests::cluster::{self, Cluster, NAMESPACE, S3};
use byok8s_tests::{
    Events, Follower, RUN_TIMEOUT, Scratch, run, status, submit, submit_and_follow,
};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Pod, Secret};

/// What each example workflow must produce for a params `name`: (file, content).
fn expected_output(workflow: &str, name: &str) -> (&'static str, String) {
    match workflow {
        "workflow-alpha" => ("alpha.txt", format!("alpha {name}\n")),
        "workflow-gamma" => ("gamma.txt", format!("gamma {name}\n")),
        _ => (
            "zeta.txt",
            (["A1", "A2", "A3", "B1", "B2"].map(|s| format!("zeta_{s} {name}\n"))).concat(),
        ),
    }
}

#[test]
fn example_workflows_run_as_rule_jobs_and_write_their_outputs_to_s3() {
    let scratch = Scratch::new();
    let (s3, cluster, daemon) = stack(&scratch, &["--max-concurrent-runs", "6"]);
    let example = scratch.workflow("example");

    let pairs = ["workflow-alpha", "workflow-gamma", "workflow-zeta"]
        .into_iter()
        .flat_map(|workflow| ["blue", "red"].map(|name| (workflow, name)));
    let outcomes = std::thread::scope(|scope| {
        let handles: Vec<_> = pairs
            .map(|(workflow, name)| {
                let (daemon, example) = (&daemon, &example);
                scope.spawn(move || {
                    let params = format!("params-{name}");
                    (
                        workflow,
                        name,
                        submit_and_follow(daemon, example, &[workflow, &params]),
                    )
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("client thread"))
            .collect::<Vec<_>>()
    });

    for (workflow, name, outcome) in outcomes {
        let context = format!("{workflow} params-{name}: {outcome:?}");
        assert_eq!(outcome.code, 0, "{context}");
        let events = Events::of(&outcome);
        let run = status(&daemon, &example, &events.run_id());
        let (file, content) = expected_output(workflow, name);
        let stored = s3.object(&cluster::output_key(&run, file));
        assert_eq!(stored.as_deref(), Some(content.as_str()), "{context}");
        let bundle = cluster::output_key(&run, ".byok8s/bundle.tar.gz");
        assert!(
            !s3.exists(&bundle),
            "the uploaded bundle is removed: {context}"
        );
        assert_eq!(
            events.jobids("job_started"),
            events.jobids("job_finished"),
            "{context}"
        );

        // Every rule's own output reaches the client, labelled with the rule.
        let rule = match workflow {
            "workflow-alpha" => "target1",
            "workflow-gamma" => "target2",
            _ => "zeta_a1",
        };
        let own_line = |e: &&serde_json::Value| {
            e["source"] == rule
                && e["line"]
                    .as_str()
                    .is_some_and(|l| l.starts_with("building"))
        };
        assert!(events.kind("log").iter().any(own_line), "{context}");
    }
    assert_nothing_left(&cluster);
}

#[test]
fn a_workflow_profile_in_the_bundle_sets_no_option() {
    let scratch = Scratch::new();
    let (s3, cluster, daemon) = stack(&scratch, &[]);
    let example = scratch.workflow("example");
    // Snakemake 9 would read this on its own; `config` stands for any option (privileged rule
    // pods, volumes, storage settings) because its effect shows in the output.
    let profile = example.join("profiles/default");
    std::fs::create_dir_all(&profile).expect("create the profile directory");
    std::fs::write(
        profile.join("config.yaml"),
        "config:\n  - name=from-profile\n",
    )
    .expect("write the profile");

    let outcome = submit_and_follow(&daemon, &example, &["workflow-alpha", "params-blue"]);

    assert_eq!(outcome.code, 0, "{outcome:?}");
    let run = status(&daemon, &example, &Events::of(&outcome).run_id());
    let stored = s3.object(&cluster::output_key(&run, "alpha.txt"));
    assert_eq!(stored.as_deref(), Some("alpha blue\n"));
    assert_nothing_left(&cluster);
}

#[test]
fn cancelling_a_kubernetes_run_leaves_no_job_pod_or_secret_behind() {
    let scratch = Scratch::new();
    let s3 = S3::start(&scratch);
    let cluster = Cluster::start(&scratch, &s3);
    let daemon = cluster::daemon(&scratch, &cluster, &s3, &[]);
    let example = scratch.workflow("example");
    let secrets_before = cluster.names::<Secret>();

    let (run_id, follower) =
        Follower::submit_under_way(&daemon, &example, &["workflow-zeta", "params-blue"]);
    let mut cancel = daemon.client(&example);
    cancel.args(["cancel", &run_id]);
    assert_eq!(run(&mut cancel, Duration::from_secs(120)).code, 0);

    let (code, _) = follower.finish();
    assert_eq!(code, 3);
    let run = status(&daemon, &example, &run_id);
    assert_eq!(run["phase"], "cancelled");
    let bundle = cluster::output_key(&run, ".byok8s/bundle.tar.gz");
    assert!(!s3.exists(&bundle), "the uploaded bundle is removed");
    assert!(
        cluster.names::<Job>().is_empty(),
        "{:?}",
        cluster.names::<Job>()
    );
    assert!(
        cluster.names::<Pod>().is_empty(),
        "{:?}",
        cluster.names::<Pod>()
    );
    assert_eq!(cluster.names::<Secret>(), secrets_before, "in {NAMESPACE}");
}

#[test]
fn the_executors_secret_goes_with_a_driver_that_ends_before_any_rule_job() {
    let scratch = Scratch::new();
    let (_s3, cluster, daemon) = stack(&scratch, &[]);
    let workflows = scratch.workflow("cluster");
    let before = cluster.names::<Secret>();
    // Both start with a local rule in the driver, after the executor has made its Secret.
    let killed = submit(&daemon, &workflows, &["workflow-wait", "params-long"]);
    let cancelled = submit(&daemon, &workflows, &["workflow-wait", "params-long"]);
    byok8s_tests::eventually(RUN_TIMEOUT, "a Secret from each executor", || {
        (cluster.names::<Secret>().len() == before.len() + 2).then_some(())
    });
    let jobs = cluster.names::<Job>();
    assert!(jobs.iter().all(|j| j.starts_with("byok8s-")), "{jobs:?}");

    let driver = cluster
        .names::<Pod>()
        .into_iter()
        .find(|p| p.starts_with(&format!("byok8s-{killed}-")))
        .expect("the driver pod");
    cluster.oom(&driver);
    let mut cancel = daemon.client(&workflows);
    cancel.args(["cancel", &cancelled]);
    assert_eq!(run(&mut cancel, Duration::from_secs(120)).code, 0);

    assert_eq!(byok8s_tests::watch(&daemon, &workflows, &killed, 0).code, 1);
    assert_eq!(
        byok8s_tests::watch(&daemon, &workflows, &cancelled, 0).code,
        3
    );
    // Garbage collection removes the Secrets after their pods, on its own schedule.
    byok8s_tests::eventually(Duration::from_secs(60), "no executor Secret left", || {
        (cluster.names::<Secret>() == before).then_some(())
    });
    assert_nothing_left(&cluster);
}

/// The harness, S3 and a daemon that fails stalled runs quickly.
fn stack(scratch: &Scratch, extra: &[&str]) -> (S3, Cluster, byok8s_tests::Daemon) {
    let s3 = S3::start(scratch);
    let cluster = Cluster::start(scratch, &s3);
    let daemon = cluster::daemon(scratch, &cluster, &s3, extra);
    (s3, cluster, daemon)
}

/// Nothing of any run is left, and every request byok8sd and the executor made was one their
/// Roles in `deploy/` allow.
/// Each rule of workflow-zeta printed its one line for `name`, and the client saw it once.
fn assert_every_zeta_rule_line_once(events: &Events, name: &str) {
    let lines = events.log_lines();
    for step in ["A1", "A2", "A3", "B1", "B2"] {
        let rule_line = format!("building zeta{step} for {name}");
        let count = lines.iter().filter(|line| **line == rule_line).count();
        assert_eq!(count, 1, "{rule_line:?} appears exactly once");
    }
}

fn assert_nothing_left(cluster: &Cluster) {
    let denied = byok8s_tests::rbac::denied(&cluster.requests(), NAMESPACE);
    assert!(
        denied.is_empty(),
        "requests their Role does not allow: {denied:#?}"
    );
    assert!(
        cluster.names::<Job>().is_empty(),
        "jobs left: {:?}",
        cluster.names::<Job>()
    );
    assert!(
        cluster.names::<Pod>().is_empty(),
        "pods left: {:?}",
        cluster.names::<Pod>()
    );
}

#[test]
fn killing_byok8sd_mid_run_loses_and_repeats_no_line() {
    let scratch = Scratch::new();
    let (s3, cluster, mut daemon) = stack(&scratch, &[]);
    let example = scratch.workflow("example");
    let (run_id, follower) =
        Follower::submit_under_way(&daemon, &example, &["workflow-zeta", "params-blue"]);

    daemon.kill();
    daemon.restart();

    let (code, events) = follower.finish();
    assert_eq!(code, 0, "the run completes after the restart");
    assert_eq!(events.phases(), ["queued", "running", "succeeded"]);
    let expected: Vec<u64> = (1..=events.seqs().len() as u64).collect();
    assert_eq!(events.seqs(), expected, "the follower saw every event once");
    assert_every_zeta_rule_line_once(&events, "blue");
    let run = status(&daemon, &example, &run_id);
    let (file, content) = expected_output("workflow-zeta", "blue");
    assert_eq!(s3.object(&cluster::output_key(&run, file)), Some(content));
    // The run's pods are watched by its label, not one watch per rule Job.
    let per_job_watches = cluster.requests().into_iter().filter(|r| {
        r.user_agent.starts_with("byok8sd/")
            && r.verb == "watch"
            && r.path.ends_with("/pods")
            && r.query.contains("job-name")
    });
    assert_eq!(per_job_watches.count(), 0);
    assert_nothing_left(&cluster);
}

#[test]
fn a_run_that_finished_while_byok8sd_was_down_keeps_every_rule_line() {
    let scratch = Scratch::new();
    let (_s3, cluster, mut daemon) = stack(&scratch, &[]);
    let example = scratch.workflow("example");
    let (run_id, follower) =
        Follower::submit_under_way(&daemon, &example, &["workflow-zeta", "params-blue"]);

    daemon.kill();
    let driver = format!("byok8s-{run_id}");
    byok8s_tests::eventually(byok8s_tests::RUN_TIMEOUT, "the driver Job to end", || {
        cluster.job_ended(&driver).then_some(())
    });
    drop(follower);
    daemon.restart();

    let outcome = byok8s_tests::watch(&daemon, &example, &run_id, 0);
    assert_eq!(
        outcome.code, 0,
        "the run is judged after the restart: {outcome:?}"
    );
    let events = Events::of(&outcome);
    assert_every_zeta_rule_line_once(&events, "blue");
    assert_nothing_left(&cluster);
}

#[test]
fn an_api_outage_as_byok8sd_restarts_does_not_fail_a_live_run() {
    let scratch = Scratch::new();
    let (_s3, cluster, mut daemon) = stack(&scratch, &[]);
    let example = scratch.workflow("example");
    let (run_id, follower) =
        Follower::submit_under_way(&daemon, &example, &["workflow-zeta", "params-blue"]);

    daemon.kill();
    // More failed lookups of the driver Job than a new run would wait for; 500 as a
    // Kubernetes client does not retry it (unlike 503), like a refused connection.
    let driver = format!("byok8s-{run_id}");
    cluster.inject(
        cluster::Fault::new("get", "jobs")
            .name(&driver)
            .count(7)
            .code(500),
    );
    daemon.restart();

    let (code, events) = follower.finish();
    assert_eq!(code, 0, "the run completes after the outage");
    assert_eq!(events.phases(), ["queued", "running", "succeeded"]);
    assert_nothing_left(&cluster);
}

#[test]
fn a_restart_during_cleanup_keeps_the_outcome_of_the_run() {
    let scratch = Scratch::new();
    let (_s3, cluster, mut daemon) = stack(&scratch, &[]);
    let example = scratch.workflow("example");
    let run_id = submit(&daemon, &example, &["workflow-alpha", "params-blue"]);
    // Holds the driver Job's foreground deletion, and so the cleanup, until it is removed.
    let pod = cluster.driver_pod(&run_id);
    cluster.set_pod_finalizers(&pod, &["byok8s.test/hold"]);
    let driver = format!("byok8s-{run_id}");
    byok8s_tests::eventually(RUN_TIMEOUT, "the cleanup to delete the driver", || {
        cluster.job_deleting(&driver).then_some(())
    });

    daemon.kill();
    cluster.set_pod_finalizers(&pod, &[]);
    byok8s_tests::eventually(Duration::from_secs(60), "the driver Job to go", || {
        (!cluster.names::<Job>().contains(&driver)).then_some(())
    });
    daemon.restart();

    let outcome = byok8s_tests::watch(&daemon, &example, &run_id, 0);
    assert_eq!(outcome.code, 0, "the run still succeeded: {outcome:?}");
    assert_nothing_left(&cluster);
}

#[test]
fn a_failed_status_call_that_loses_a_job_is_stopped_by_the_watchdog() {
    let scratch = Scratch::new();
    let (_s3, cluster, daemon) = stack(&scratch, &["--watchdog-seconds", "10"]);
    let example = scratch.workflow("example");
    // Snakemake's executor stops tracking a job after one failed status read.
    cluster.inject(
        cluster::Fault::new("get", "jobs")
            .subresource("status")
            .count(1)
            .code(500),
    );

    let outcome = submit_and_follow(&daemon, &example, &["workflow-alpha", "params-blue"]);

    assert_eq!(outcome.code, 1, "{outcome:?}");
    let run = status(&daemon, &example, &Events::of(&outcome).run_id());
    assert!(
        run["reason"]
            .as_str()
            .is_some_and(|r| r.contains("lost track")),
        "{run}"
    );
    assert_nothing_left(&cluster);
}

#[test]
fn a_driver_pod_that_cannot_start_fails_the_run_naming_it_and_why() {
    let scratch = Scratch::new();
    // The driver's credentials come from a Secret nobody created: its container cannot be
    // configured, which Kubernetes retries forever.
    let flags = [
        "--s3-credentials-secret",
        "no-such-secret",
        "--stuck-seconds",
        "5",
    ];
    let (_s3, cluster, daemon) = stack(&scratch, &flags);
    let example = scratch.workflow("example");

    let outcome = submit_and_follow(&daemon, &example, &["workflow-alpha", "params-blue"]);

    assert_eq!(outcome.code, 1, "{outcome:?}");
    let run = status(&daemon, &example, &Events::of(&outcome).run_id());
    let reason = run["reason"].as_str().unwrap_or_default();
    assert!(reason.starts_with("pod/byok8s-run-"), "{run}");
    assert!(reason.contains("CreateContainerConfigError"), "{run}");
    assert!(reason.contains("no-such-secret"), "{run}");
    assert_nothing_left(&cluster);
}

#[test]
fn a_rule_pod_that_cannot_be_scheduled_fails_the_run_naming_its_rule() {
    let scratch = Scratch::new();
    let (_s3, cluster, daemon) = stack(&scratch, &["--stuck-seconds", "5"]);
    let workflows = scratch.workflow("cluster");

    let outcome = submit_and_follow(
        &daemon,
        &workflows,
        &["workflow-unschedulable", "params-short"],
    );

    assert_eq!(outcome.code, 1, "{outcome:?}");
    let run = status(&daemon, &workflows, &Events::of(&outcome).run_id());
    let reason = run["reason"].as_str().unwrap_or_default();
    assert!(reason.starts_with("pod/snakejob-"), "{run}");
    assert!(
        reason.contains("(unschedulable) stayed Unschedulable"),
        "{run}"
    );
    assert_nothing_left(&cluster);
}

#[test]
fn a_long_quiet_local_rule_after_every_rule_job_is_not_taken_for_a_lost_job() {
    let scratch = Scratch::new();
    let (_s3, cluster, daemon) = stack(&scratch, &["--watchdog-seconds", "5"]);
    let workflows = scratch.workflow("cluster");

    // The local rule stays silent for 15s after the only rule Job has ended.
    let outcome = submit_and_follow(&daemon, &workflows, &["workflow-quiet", "params-short"]);

    assert_eq!(outcome.code, 0, "{outcome:?}");
    assert_nothing_left(&cluster);
}

#[test]
fn an_oom_killed_driver_fails_the_run_saying_so() {
    let scratch = Scratch::new();
    let (_s3, cluster, daemon) = stack(&scratch, &[]);
    let example = scratch.workflow("example");
    let (run_id, follower) =
        Follower::submit_under_way(&daemon, &example, &["workflow-zeta", "params-blue"]);

    let driver = cluster
        .names::<Pod>()
        .into_iter()
        .find(|p| p.starts_with("byok8s-"))
        .expect("driver pod");
    cluster.oom(&driver);

    let (code, events) = follower.finish();
    assert_eq!(code, 1);
    let warned = events
        .kind("cluster")
        .iter()
        .any(|e| e["reason"] == "OOMKilled" && e["warning"] == true);
    assert!(warned, "an OOMKilled warning reaches the client");
    let run = status(&daemon, &example, &run_id);
    assert!(
        run["reason"]
            .as_str()
            .is_some_and(|r| r.contains("OOMKilled")),
        "{run}"
    );
    assert_nothing_left(&cluster);
}

#[test]
fn closed_watches_are_resumed_without_losing_the_run() {
    let scratch = Scratch::new();
    let (_s3, cluster, daemon) = stack(&scratch, &[]);
    let example = scratch.workflow("example");
    let (_, follower) =
        Follower::submit_under_way(&daemon, &example, &["workflow-zeta", "params-red"]);

    cluster.close_watches();

    let (code, events) = follower.finish();
    assert_eq!(code, 0);
    assert_eq!(events.jobids("job_started"), events.jobids("job_finished"));
    assert_nothing_left(&cluster);
}

#[test]
fn a_restarted_daemon_deletes_jobs_of_runs_that_are_over() {
    let scratch = Scratch::new();
    let s3 = S3::start(&scratch);
    let cluster = Cluster::start(&scratch, &s3);
    // As if byok8sd had stopped between a run's end and its cleanup.
    cluster.create_job(serde_json::json!({
        "metadata": { "name": "byok8s-run-gone", "labels": {
            "app.kubernetes.io/managed-by": "byok8sd", "byok8s.io/run": "run-gone" } },
        "spec": { "template": { "spec": { "restartPolicy": "Never", "containers": [
            { "name": "driver", "image": "byok8s/runner", "command": ["sleep", "600"] }
        ] } } },
    }));
    assert_eq!(cluster.names::<Job>(), ["byok8s-run-gone"]);

    let _daemon = cluster::daemon(&scratch, &cluster, &s3, &[]);

    assert_nothing_left(&cluster);
}
