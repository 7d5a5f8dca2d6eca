//! Tests of the JSON shapes of runs and of each event kind.

use byok8s::proto::{JobFailed, JobFinished, JobStarted, LogLine, PhaseChanged, RunPhase};
use prost_types::Timestamp;

use super::*;

fn event(kind: Kind) -> RunEvent {
    let time = Timestamp {
        seconds: 1_740_830_401,
        nanos: 0,
    };
    RunEvent {
        run_id: "run-1".into(),
        seq: 4,
        time: Some(time),
        kind: Some(kind),
    }
}

fn event_value(kind: Kind) -> Value {
    event_json(&event(kind)).unwrap()
}

#[test]
fn a_run_maps_every_field_with_lowercase_phase_and_rfc3339_times() {
    let run = Run {
        id: "run-1".into(),
        user: "alice".into(),
        phase: RunPhase::Running as i32,
        workflow: "workflow-alpha".into(),
        params: "params-blue".into(),
        targets: vec!["target1".into()],
        labels: HashMap::from([("team".into(), "blue".into())]),
        backend: "local".into(),
        created_at: Some(Timestamp {
            seconds: 1_740_830_401,
            nanos: 0,
        }),
        progress: Some(Progress { done: 1, total: 3 }),
        last_seq: 9,
        ..Run::default()
    };
    let expected = json!({
        "id": "run-1", "user": "alice", "phase": "running", "reason": "",
        "workflow": "workflow-alpha", "params": "params-blue", "targets": ["target1"],
        "dry_run": false, "force": false, "labels": {"team": "blue"},
        "idempotency_key": "", "backend": "local", "namespace": "",
        "created_at": "2025-03-01T12:00:01Z", "started_at": null, "finished_at": null,
        "progress": {"done": 1, "total": 3}, "last_seq": 9, "details": {},
    });
    assert_eq!(run_json(&run), expected);
}

#[test]
fn every_terminal_phase_has_its_lowercase_name() {
    let names: Vec<_> = [
        RunPhase::Succeeded,
        RunPhase::Failed,
        RunPhase::Cancelled,
        RunPhase::Interrupted,
    ]
    .into_iter()
    .map(|phase| {
        run_json(&Run {
            phase: phase as i32,
            ..Run::default()
        })["phase"]
            .clone()
    })
    .collect();
    assert_eq!(
        names,
        [
            json!("succeeded"),
            json!("failed"),
            json!("cancelled"),
            json!("interrupted")
        ]
    );
}

#[test]
fn a_phase_event_is_flat_with_kind_phase() {
    let change = PhaseChanged {
        phase: RunPhase::Failed as i32,
        reason: "boom".into(),
    };
    let expected = json!({
        "run_id": "run-1", "seq": 4, "time": "2025-03-01T12:00:01Z",
        "kind": "phase", "phase": "failed", "reason": "boom",
    });
    assert_eq!(event_value(Kind::Phase(change)), expected);
}

#[test]
fn a_job_started_event_carries_outputs_wildcards_and_details() {
    let job = JobStarted {
        jobid: 3,
        rule: "part".into(),
        outputs: vec!["parts/1.txt".into()],
        wildcards: HashMap::from([("i".into(), "1".into())]),
        details: HashMap::from([("pod".into(), "run-1-part-3".into())]),
    };
    let value = event_value(Kind::JobStarted(job));
    assert_eq!(value["kind"], "job_started");
    assert_eq!(value["jobid"], 3);
    assert_eq!(value["rule"], "part");
    assert_eq!(value["outputs"], json!(["parts/1.txt"]));
    assert_eq!(value["wildcards"], json!({"i": "1"}));
    assert_eq!(value["details"], json!({"pod": "run-1-part-3"}));
}

#[test]
fn a_job_finished_event_names_job_and_rule() {
    let value = event_value(Kind::JobFinished(JobFinished {
        jobid: 3,
        rule: "part".into(),
    }));
    assert_eq!(value["kind"], "job_finished");
    assert_eq!(
        (value["jobid"].clone(), value["rule"].clone()),
        (json!(3), json!("part"))
    );
}

#[test]
fn a_job_failed_event_carries_the_message() {
    let job = JobFailed {
        jobid: 5,
        rule: "doomed".into(),
        message: "exit 3".into(),
    };
    let value = event_value(Kind::JobFailed(job));
    assert_eq!(value["kind"], "job_failed");
    assert_eq!(value["message"], "exit 3");
}

#[test]
fn a_progress_event_has_done_and_total() {
    let value = event_value(Kind::Progress(Progress { done: 2, total: 7 }));
    assert_eq!(value["kind"], "progress");
    assert_eq!(
        (value["done"].clone(), value["total"].clone()),
        (json!(2), json!(7))
    );
}

#[test]
fn a_log_event_names_its_stream() {
    let log = LogLine {
        source: "part".into(),
        line: "hello".into(),
        stream: LogStream::Stdout as i32,
        pod: "p-1".into(),
    };
    let value = event_value(Kind::Log(log));
    let expected = json!({
        "run_id": "run-1", "seq": 4, "time": "2025-03-01T12:00:01Z", "kind": "log",
        "source": "part", "line": "hello", "stream": "stdout", "pod": "p-1",
    });
    assert_eq!(value, expected);
}

#[test]
fn an_event_without_time_has_null_time() {
    let mut without_time = event(Kind::Progress(Progress::default()));
    without_time.time = None;
    assert_eq!(event_json(&without_time).unwrap()["time"], Value::Null);
}

#[test]
fn an_event_of_unknown_kind_has_no_json() {
    let unknown = RunEvent {
        kind: None,
        ..event(Kind::Progress(Progress::default()))
    };
    assert_eq!(event_json(&unknown), None);
}

#[test]
fn a_submitted_run_says_whether_it_existed_before() {
    let run = Run {
        id: "run-1".into(),
        ..Run::default()
    };
    assert_eq!(submitted_json(&run, true)["existing"], true);
    assert_eq!(submitted_json(&run, false)["existing"], false);
    assert_eq!(submitted_json(&run, false)["id"], "run-1");
}

#[test]
fn only_a_submitted_run_carries_existing() {
    assert!(run_json(&Run::default()).get("existing").is_none());
}
