//! Tests of the human event lines, one per event kind.

use byok8s::proto::{JobFailed, JobFinished, RunPhase};

use super::*;

fn event(kind: Kind) -> RunEvent {
    let time = prost_types::Timestamp {
        seconds: 1_740_830_401,
        nanos: 0,
    };
    RunEvent {
        run_id: "run-01abc".into(),
        seq: 7,
        time: Some(time),
        kind: Some(kind),
    }
}

fn line(kind: Kind) -> String {
    event_line(&event(kind), &TimeZone::UTC).unwrap()
}

fn phase(phase: RunPhase, reason: &str) -> Kind {
    Kind::Phase(PhaseChanged {
        phase: phase as i32,
        reason: reason.into(),
    })
}

#[test]
fn a_phase_change_names_the_run_and_the_phase() {
    assert_eq!(
        line(phase(RunPhase::Queued, "")),
        "12:00:01 run run-01abc queued"
    );
    assert_eq!(
        line(phase(RunPhase::Running, "")),
        "12:00:01 run run-01abc running"
    );
}

#[test]
fn a_failure_carries_its_reason() {
    let text = line(phase(RunPhase::Failed, "job doomed failed"));
    assert_eq!(text, "12:00:01 run run-01abc failed: job doomed failed");
}

#[test]
fn a_started_job_lists_its_outputs() {
    let job = JobStarted {
        jobid: 3,
        rule: "zeta_a1".into(),
        outputs: vec!["zetaA1.txt".into()],
        ..JobStarted::default()
    };
    assert_eq!(
        line(Kind::JobStarted(job)),
        "12:00:01 job 3 zeta_a1 started (zetaA1.txt)"
    );
}

#[test]
fn a_started_job_without_outputs_has_no_parentheses() {
    let job = JobStarted {
        jobid: 1,
        rule: "all".into(),
        ..JobStarted::default()
    };
    assert_eq!(line(Kind::JobStarted(job)), "12:00:01 job 1 all started");
}

#[test]
fn a_finished_job_is_one_short_line() {
    let job = JobFinished {
        jobid: 3,
        rule: "zeta_a1".into(),
    };
    assert_eq!(
        line(Kind::JobFinished(job)),
        "12:00:01 job 3 zeta_a1 finished"
    );
}

#[test]
fn a_failed_job_shouts_and_gives_the_message() {
    let job = JobFailed {
        jobid: 3,
        rule: "doomed".into(),
        message: "exit status 3".into(),
    };
    assert_eq!(
        line(Kind::JobFailed(job)),
        "12:00:01 job 3 doomed FAILED: exit status 3"
    );
}

#[test]
fn progress_rounds_its_percentage_as_snakemake_does() {
    let cases = [
        (1, 6, 17),
        (2, 7, 29),
        (1, 8, 12),
        (3, 8, 38),
        (3, 6, 50),
        (6, 6, 100),
    ];
    for (done, total, shown) in cases {
        assert_eq!(
            progress_fraction(&Progress { done, total }),
            format!("{done}/{total} ({shown}%)")
        );
    }
}

#[test]
fn progress_shows_100_percent_only_when_every_job_is_done() {
    let nearly = Progress {
        done: 999,
        total: 1000,
    };
    assert_eq!(progress_fraction(&nearly), "999/1000 (99%)");
}

#[test]
fn progress_shows_0_percent_only_before_the_first_job_is_done() {
    let started = Progress {
        done: 1,
        total: 1000,
    };
    assert_eq!(progress_fraction(&started), "1/1000 (1%)");
}

#[test]
fn huge_counts_do_not_overflow_the_percentage() {
    let huge = Progress {
        done: u64::MAX,
        total: u64::MAX,
    };
    assert_eq!(
        progress_fraction(&huge),
        format!("{0}/{0} (100%)", u64::MAX)
    );
}

#[test]
fn progress_of_nothing_is_zero_percent() {
    let progress = Progress { done: 0, total: 0 };
    assert_eq!(line(Kind::Progress(progress)), "12:00:01 progress 0/0 (0%)");
}

#[test]
fn a_log_line_shows_its_source_in_brackets() {
    let log = LogLine {
        source: "snakemake".into(),
        line: "Building DAG of jobs...\n".into(),
        stream: LogStream::Stderr as i32,
        pod: String::new(),
    };
    assert_eq!(
        line(Kind::Log(log)),
        "12:00:01 [snakemake] Building DAG of jobs..."
    );
}

#[test]
fn a_daemon_line_without_source_is_attributed_to_byok8sd() {
    let log = LogLine {
        line: "run queued".into(),
        stream: LogStream::Daemon as i32,
        ..LogLine::default()
    };
    assert_eq!(line(Kind::Log(log)), "12:00:01 [byok8sd] run queued");
}

#[test]
fn an_event_of_unknown_kind_prints_nothing() {
    let unknown = RunEvent {
        kind: None,
        ..event(phase(RunPhase::Queued, ""))
    };
    assert_eq!(event_line(&unknown, &TimeZone::UTC), None);
}

#[test]
fn escape_sequences_in_a_log_line_are_shown_not_sent_to_the_terminal() {
    let log = LogLine {
        source: "evil".into(),
        line: "\u{1b}[2Jgone\ttabbed\nfake line\n".into(),
        stream: LogStream::Stdout as i32,
        pod: String::new(),
    };
    assert_eq!(
        line(Kind::Log(log)),
        "12:00:01 [evil] \\u{1b}[2Jgone\ttabbed\\nfake line"
    );
}

#[test]
fn escape_sequences_in_a_failure_message_are_shown() {
    let failed = Kind::JobFailed(JobFailed {
        jobid: 1,
        rule: "doomed".into(),
        message: "exit 3\u{1b}]0;title\u{7}".into(),
    });
    assert_eq!(
        line(failed),
        "12:00:01 job 1 doomed FAILED: exit 3\\u{1b}]0;title\\u{7}"
    );
}
