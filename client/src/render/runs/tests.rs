//! Tests of the run block and the run table.

use byok8s::proto::{Progress, RunPhase};
use prost_types::Timestamp;

use super::*;

const NOW: i64 = 1_740_830_401;

fn view() -> Viewpoint {
    Viewpoint {
        zone: TimeZone::UTC,
        now: jiff::Timestamp::from_second(NOW).unwrap(),
    }
}

fn sample_run() -> Run {
    Run {
        id: "run-01abc".into(),
        user: "alice".into(),
        phase: RunPhase::Failed as i32,
        reason: "job doomed failed".into(),
        workflow: "workflow-fail".into(),
        params: "params".into(),
        targets: vec!["all".into()],
        backend: "local".into(),
        labels: HashMap::from([("team".into(), "blue".into()), ("env".into(), "ci".into())]),
        created_at: Some(Timestamp {
            seconds: NOW - 180,
            nanos: 0,
        }),
        started_at: Some(Timestamp {
            seconds: NOW - 170,
            nanos: 0,
        }),
        progress: Some(Progress { done: 2, total: 7 }),
        dry_run: true,
        ..Run::default()
    }
}

#[test]
fn a_run_block_aligns_its_values() {
    let expected = "\
id:       run-01abc
phase:    failed
reason:   job doomed failed
workflow: workflow-fail
params:   params
targets:  all
user:     alice
created:  2025-03-01 11:57:01 (3m ago)
started:  2025-03-01 11:57:11
finished: -
progress: 2/7 (29%)
backend:  local
labels:   env=ci, team=blue
details:  -
dry run:  yes
";
    assert_eq!(view().run_block(&sample_run()), expected);
}

#[test]
fn a_run_table_has_a_header_and_aligned_columns() {
    let second = Run {
        id: "run-2".into(),
        phase: RunPhase::Queued as i32,
        workflow: "workflow-alpha".into(),
        params: "params-blue".into(),
        targets: vec!["target1".into(), "target2".into()],
        ..Run::default()
    };
    let expected = "\
ID         PHASE   WORKFLOW        PARAMS       TARGETS          PROGRESS  CREATED
run-01abc  failed  workflow-fail   params       all              2/7       3m ago
run-2      queued  workflow-alpha  params-blue  target1,target2  -         -
";
    assert_eq!(view().run_table(&[sample_run(), second]), expected);
}

#[test]
fn escape_sequences_in_a_reason_are_shown_in_the_block_and_the_table() {
    let mut run = sample_run();
    run.reason = "failed\u{1b}[31m".into();
    run.workflow = "wf\u{1b}[2J".into();
    let block = view().run_block(&run);
    assert!(block.contains("reason:   failed\\u{1b}[31m\n"), "{block}");
    let table = view().run_table(&[run]);
    assert!(table.contains("wf\\u{1b}[2J"), "{table}");
    assert!(!table.contains('\u{1b}'), "{table}");
}
