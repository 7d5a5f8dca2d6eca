//! Every example workflow with every params file runs to success through the real client and
//! daemon with real Snakemake; failing and fan-out workflows end as they should.

use std::thread;

use byok8s_tests::{Daemon, Events, Scratch, submit_and_follow};

/// The expected content of an output file for a params `name`.
type Expected = fn(&str) -> String;

/// What each example workflow must produce: (workflow, output file, expected content).
const EXAMPLES: [(&str, &str, Expected); 3] = [
    ("workflow-alpha", "alpha.txt", |name| {
        format!("alpha {name}\n")
    }),
    ("workflow-gamma", "gamma.txt", |name| {
        format!("gamma {name}\n")
    }),
    ("workflow-zeta", "zeta.txt", |name| {
        format!("zeta_A1 {name}\nzeta_A2 {name}\nzeta_A3 {name}\nzeta_B1 {name}\nzeta_B2 {name}\n")
    }),
];

#[test]
fn every_example_workflow_succeeds_with_every_params_file() {
    let scratch = Scratch::new();
    let daemon = Daemon::start(&scratch, &["--max-concurrent-runs", "6", "--cores", "2"]);
    let example = scratch.workflow("example");

    let results = thread::scope(|scope| {
        let handles: Vec<_> = EXAMPLES
            .iter()
            .flat_map(|example_case| ["blue", "red"].map(|name| (example_case, name)))
            .map(|((workflow, file, expected), name)| {
                let (daemon, example) = (&daemon, &example);
                scope.spawn(move || {
                    let params = format!("params-{name}");
                    let outcome = submit_and_follow(daemon, example, &[workflow, &params]);
                    (*workflow, name, *file, expected(name), outcome)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("client thread"))
            .collect::<Vec<_>>()
    });

    for (workflow, name, file, expected, outcome) in results {
        let context = format!("{workflow} params-{name}: {outcome:?}");
        assert_eq!(outcome.code, 0, "{context}");
        let events = Events::of(&outcome);
        assert_eq!(
            events.phases(),
            ["queued", "running", "succeeded"],
            "{context}"
        );

        let (done, total) = events.last_progress();
        assert!(
            total > 0 && done == total,
            "progress {done}/{total}: {context}"
        );
        let started = events.jobids("job_started");
        assert_eq!(started.len() as u64, total, "{context}");
        assert_eq!(started, events.jobids("job_finished"), "{context}");

        let output = daemon
            .data_dir()
            .join("runs")
            .join(events.run_id())
            .join("work")
            .join(file);
        let content = std::fs::read_to_string(&output)
            .unwrap_or_else(|e| panic!("{}: {e}", output.display()));
        assert_eq!(content, expected, "{context}");
    }
}

#[test]
fn a_failing_rule_fails_the_run_and_names_the_rule() {
    let scratch = Scratch::new();
    let daemon = Daemon::start(&scratch, &[]);
    let failing = scratch.workflow("failing");

    let outcome = submit_and_follow(&daemon, &failing, &["workflow-fail", "params"]);

    assert_eq!(outcome.code, 1, "the run-failed exit code: {outcome:?}");
    let events = Events::of(&outcome);
    assert_eq!(events.phases().last().map(String::as_str), Some("failed"));
    let failed_rules: Vec<_> = events
        .kind("job_failed")
        .iter()
        .map(|e| e["rule"].clone())
        .collect();
    assert_eq!(failed_rules, ["doomed"], "{outcome:?}");
    let reason = events.kind("phase").last().expect("final phase")["reason"].clone();
    assert!(
        reason.as_str().is_some_and(|r| !r.is_empty()),
        "a failure has a reason: {reason}"
    );
}

#[test]
fn a_fan_out_workflow_runs_every_parallel_job() {
    let scratch = Scratch::new();
    let daemon = Daemon::start(&scratch, &["--cores", "4"]);
    let fanout = scratch.workflow("fanout");

    let outcome = submit_and_follow(&daemon, &fanout, &["workflow-fanout", "params"]);

    assert_eq!(outcome.code, 0, "{outcome:?}");
    let events = Events::of(&outcome);
    let parts = events
        .kind("job_started")
        .iter()
        .filter(|e| e["rule"] == "part")
        .count();
    assert_eq!(parts, 12);
    assert_eq!(events.jobids("job_started"), events.jobids("job_finished"));
    let all = daemon
        .data_dir()
        .join("runs")
        .join(events.run_id())
        .join("work/all.txt");
    let expected: String = (0..12).map(|i| format!("part {i} fan\n")).collect();
    assert_eq!(std::fs::read_to_string(all).expect("all.txt"), expected);
}

#[test]
fn a_workflow_profile_in_the_bundle_cannot_change_how_the_daemon_runs_it() {
    let scratch = Scratch::new();
    let daemon = Daemon::start(&scratch, &[]);
    let example = scratch.workflow("example");
    // Snakemake reads profiles/default/ beside the Snakefile by itself; this one would replace
    // the submitted params.
    let profile = example.join("profiles/default");
    std::fs::create_dir_all(&profile).unwrap();
    std::fs::write(profile.join("config.yaml"), "config:\n  - name=profile\n").unwrap();

    let outcome = submit_and_follow(&daemon, &example, &["workflow-alpha", "params-blue"]);

    assert_eq!(outcome.code, 0, "{outcome:?}");
    let alpha = daemon
        .data_dir()
        .join("runs")
        .join(Events::of(&outcome).run_id())
        .join("work/alpha.txt");
    assert_eq!(std::fs::read_to_string(alpha).unwrap(), "alpha blue\n");
}

#[test]
fn log_lines_keep_the_order_snakemake_and_its_rules_wrote_them_in() {
    let scratch = Scratch::new();
    let daemon = Daemon::start(&scratch, &["--cores", "2"]);
    let example = scratch.workflow("example");

    let outcome = submit_and_follow(&daemon, &example, &["workflow-zeta", "params-blue"]);

    assert_eq!(outcome.code, 0, "{outcome:?}");
    let lines = Events::of(&outcome).log_lines();
    let position = |wanted: &dyn Fn(&str) -> bool| lines.iter().position(|l| wanted(l));
    for step in ["zetaA1", "zetaA2", "zetaA3", "zetaB1", "zetaB2"] {
        // Snakemake prints the command (on stderr) before the rule's shell runs it and the
        // command prints (on stdout).
        let announced =
            position(&|l| l.starts_with(&format!("Shell command: echo building {step}")));
        let printed = position(&|l| l == format!("building {step} for blue"));
        assert!(
            announced.is_some() && announced < printed,
            "{step}: command at {announced:?}, its output at {printed:?}\n{lines:#?}"
        );
    }
}
