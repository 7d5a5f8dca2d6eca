//! What the stand-in daemon knows and does, set up by each test and read back afterwards.

use std::collections::VecDeque;

use byok8s::proto::run_event::Kind;
use byok8s::proto::{
    CancelRunRequest, EventKind, JobFailed, JobFinished, JobStarted, ListRunsRequest, LogLine,
    LogStream, PhaseChanged, Progress, Run, RunEvent, RunPhase, SubmitRequest, WatchRunRequest,
};
use prost_types::Timestamp;
use tonic::Status;

/// How one WatchRun stream ends before it has sent everything.
#[derive(Debug, Clone, Copy)]
pub enum Interruption {
    /// Send events up to this sequence number, then fail with UNAVAILABLE.
    Unavailable { after: u64 },
    /// Send events up to this sequence number, then close the stream normally.
    Close { after: u64 },
    /// Send events up to this sequence number, then keep the stream open and quiet.
    Hold { after: u64 },
    /// Fail the WatchRun call itself with UNAVAILABLE, before any stream opens.
    Refuse,
    /// Never answer the WatchRun call, as a daemon that is stopped but still holds its port.
    Stall,
}

/// The daemon's state and the requests it received.
#[derive(Debug, Default)]
pub struct Script {
    pub runs: Vec<Run>,
    pub events: Vec<RunEvent>,
    /// Consumed one per WatchRun call; when empty, streams send everything and close.
    pub interruptions: VecDeque<Interruption>,
    /// This many Submit calls fail with UNAVAILABLE before one succeeds.
    pub submit_failures: u32,
    /// This many TCP connections are closed as soon as they are accepted, as while the daemon
    /// restarts.
    pub dropped_connections: usize,
    /// GetRun never answers.
    pub stall_get_run: bool,
    pub submits: Vec<SubmitRequest>,
    pub watches: Vec<WatchRunRequest>,
    pub lists: Vec<ListRunsRequest>,
    pub cancels: Vec<CancelRunRequest>,
}

pub const START: i64 = 1_740_830_400;

/// A run in `phase` whose newest event is `last_seq`.
pub fn run(id: &str, phase: RunPhase, last_seq: u64) -> Run {
    Run {
        id: id.into(),
        user: "tester".into(),
        phase: phase as i32,
        workflow: "workflow-fail".into(),
        params: "params".into(),
        targets: vec!["all".into()],
        backend: "local".into(),
        created_at: Some(Timestamp {
            seconds: START,
            nanos: 0,
        }),
        progress: Some(Progress { done: 1, total: 2 }),
        last_seq,
        ..Run::default()
    }
}

/// The events of a run that starts two jobs, one of which fails, ending in `outcome`.
pub fn failing_run_events(run_id: &str, outcome: RunPhase) -> Vec<RunEvent> {
    let kinds = vec![
        Kind::Phase(PhaseChanged {
            phase: RunPhase::Queued as i32,
            reason: String::new(),
        }),
        Kind::Phase(PhaseChanged {
            phase: RunPhase::Running as i32,
            reason: String::new(),
        }),
        Kind::JobStarted(JobStarted {
            jobid: 1,
            rule: "doomed".into(),
            outputs: vec!["doomed.txt".into()],
            ..JobStarted::default()
        }),
        Kind::Log(LogLine {
            source: "doomed".into(),
            line: "doomed is about to fail".into(),
            stream: LogStream::Stdout as i32,
            pod: String::new(),
        }),
        Kind::JobFailed(JobFailed {
            jobid: 1,
            rule: "doomed".into(),
            message: "exit 3".into(),
        }),
        Kind::JobFinished(JobFinished {
            jobid: 2,
            rule: "fine".into(),
        }),
        Kind::Progress(Progress { done: 1, total: 2 }),
        Kind::Phase(PhaseChanged {
            phase: outcome as i32,
            reason: "job doomed failed".into(),
        }),
    ];
    kinds
        .into_iter()
        .zip(1..)
        .map(|(kind, seq)| event(run_id, seq, kind))
        .collect()
}

fn event(run_id: &str, seq: u64, kind: Kind) -> RunEvent {
    let time = Timestamp {
        seconds: START + seq as i64,
        nanos: 0,
    };
    RunEvent {
        run_id: run_id.into(),
        seq,
        time: Some(time),
        kind: Some(kind),
    }
}

/// What one WatchRun stream delivers: the wanted events after `after_seq`, cut short as
/// `interruption` says.
pub fn stream_items(
    events: &[RunEvent],
    request: &WatchRunRequest,
    interruption: Option<Interruption>,
) -> Vec<Result<RunEvent, Status>> {
    let limit = match interruption {
        Some(
            Interruption::Unavailable { after }
            | Interruption::Close { after }
            | Interruption::Hold { after },
        ) => after,
        Some(Interruption::Refuse | Interruption::Stall) => 0,
        None => u64::MAX,
    };
    let wanted =
        |e: &&RunEvent| request.kinds.is_empty() || request.kinds.contains(&(kind_of(e) as i32));
    let selected = events
        .iter()
        .filter(|e| e.run_id == request.run_id && e.seq > request.after_seq);
    let mut items: Vec<_> = selected
        .filter(|e| e.seq <= limit)
        .filter(wanted)
        .cloned()
        .map(Ok)
        .collect();
    if let Some(Interruption::Unavailable { .. }) = interruption {
        items.push(Err(Status::unavailable("daemon is restarting")));
    }
    items
}

/// Which filter kind an event belongs to.
fn kind_of(event: &RunEvent) -> EventKind {
    match event.kind {
        Some(Kind::Phase(_)) => EventKind::Phase,
        Some(Kind::JobStarted(_) | Kind::JobFinished(_) | Kind::JobFailed(_)) => EventKind::Job,
        Some(Kind::Progress(_)) => EventKind::Progress,
        Some(Kind::Log(_)) => EventKind::Log,
        Some(Kind::Cluster(_)) => EventKind::Cluster,
        None => EventKind::Unspecified,
    }
}
