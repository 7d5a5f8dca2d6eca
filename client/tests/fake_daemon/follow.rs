//! The library's `follow` against the stand-in daemon: resume paths, retry budget, outcome.

use std::time::Duration;

use byok8s::proto::{EventKind, RunEvent, RunPhase};
use byok8s::{
    Client, ConnectOptions, Error, FollowObserver, FollowRequest, ServerUrl, connect, follow,
};

use crate::daemon::{FakeDaemon, InMemoryDaemon};
use crate::script::{Interruption, Script, failing_run_events, run};

/// Remembers what `follow` reported.
#[derive(Default)]
struct Recorder {
    seqs: Vec<u64>,
    resumed_after: Vec<u64>,
}

impl FollowObserver for Recorder {
    fn on_event(&mut self, event: &RunEvent) -> Result<(), Error> {
        self.seqs.push(event.seq);
        Ok(())
    }

    fn on_resume(&mut self, after_seq: u64) {
        self.resumed_after.push(after_seq);
    }
}

async fn follow_all(
    daemon: &FakeDaemon,
    kinds: Vec<EventKind>,
) -> (Result<RunPhase, Error>, Recorder) {
    let mut options = ConnectOptions::new(ServerUrl::parse(&daemon.url).unwrap());
    options.ca_cert = Some(daemon.ca_file.clone());
    let client = connect(&options).unwrap();
    follow_with(&client, kinds).await
}

async fn follow_with(
    client: &Client,
    kinds: Vec<EventKind>,
) -> (Result<RunPhase, Error>, Recorder) {
    let request = FollowRequest {
        run_id: "run-1".into(),
        after_seq: 0,
        kinds,
    };
    let mut recorder = Recorder::default();
    let outcome = follow(client, request, &mut recorder).await;
    (outcome, recorder)
}

fn script(phase_now: RunPhase, interruptions: &[Interruption]) -> Script {
    Script {
        runs: vec![run("run-1", phase_now, 8)],
        events: failing_run_events("run-1", RunPhase::Failed),
        interruptions: interruptions.iter().copied().collect(),
        ..Script::default()
    }
}

#[tokio::test]
async fn a_stream_closed_early_on_a_live_run_is_resumed() {
    let daemon = FakeDaemon::start(script(
        RunPhase::Running,
        &[Interruption::Close { after: 4 }],
    ))
    .await;
    let (outcome, recorder) = follow_all(&daemon, Vec::new()).await;
    assert_eq!(outcome.unwrap(), RunPhase::Failed);
    assert_eq!(recorder.seqs, [1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(recorder.resumed_after, [4]);
}

#[tokio::test]
async fn a_stream_closed_early_on_a_finished_run_is_drained_without_waiting() {
    let daemon = FakeDaemon::start(script(
        RunPhase::Failed,
        &[Interruption::Close { after: 2 }],
    ))
    .await;
    let (outcome, recorder) = follow_all(&daemon, Vec::new()).await;
    assert_eq!(outcome.unwrap(), RunPhase::Failed);
    assert_eq!(recorder.seqs, [1, 2, 3, 4, 5, 6, 7, 8]);
    assert!(recorder.resumed_after.is_empty());
}

#[tokio::test]
async fn with_a_kind_filter_the_outcome_comes_from_the_run() {
    let daemon = FakeDaemon::start(script(RunPhase::Failed, &[])).await;
    let (outcome, recorder) = follow_all(&daemon, vec![EventKind::Log]).await;
    assert_eq!(outcome.unwrap(), RunPhase::Failed);
    assert_eq!(recorder.seqs, [4]);
}

#[tokio::test]
async fn an_unknown_run_is_not_retried() {
    let mut script = script(RunPhase::Failed, &[]);
    script.runs.clear();
    let daemon = FakeDaemon::start(script).await;
    let (outcome, recorder) = follow_all(&daemon, Vec::new()).await;
    assert_eq!(outcome.unwrap_err().exit_code().as_u8(), 5);
    assert!(recorder.resumed_after.is_empty());
}

#[tokio::test]
async fn repeated_events_from_the_server_are_delivered_once() {
    let mut script = script(RunPhase::Failed, &[]);
    let repeats = script.events[..3].to_vec();
    script.events.splice(3..3, repeats);
    let daemon = FakeDaemon::start(script).await;
    let (outcome, recorder) = follow_all(&daemon, Vec::new()).await;
    assert_eq!(outcome.unwrap(), RunPhase::Failed);
    assert_eq!(recorder.seqs, [1, 2, 3, 4, 5, 6, 7, 8]);
}

#[tokio::test]
async fn a_daemon_that_drops_the_first_connections_is_followed_once_it_answers() {
    let mut script = script(RunPhase::Failed, &[]);
    script.dropped_connections = 2;
    let daemon = FakeDaemon::start(script).await;
    let (outcome, recorder) = follow_all(&daemon, Vec::new()).await;
    assert_eq!(outcome.unwrap(), RunPhase::Failed);
    assert_eq!(recorder.seqs, [1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(recorder.resumed_after, [0, 0]);
    assert_eq!(daemon.connections(), 3);
}

#[tokio::test(start_paused = true)]
async fn quiet_streams_cut_again_and_again_never_use_up_the_retry_budget() {
    // Forty streams that open and close with nothing new, as behind a proxy that cuts idle
    // streams: far more waiting in all than the budget allows for one outage.
    let cuts = [Interruption::Close { after: 2 }; 40];
    let (_daemon, client) = InMemoryDaemon::start(script(RunPhase::Running, &cuts));
    let (outcome, recorder) = follow_with(&client, Vec::new()).await;
    assert_eq!(outcome.unwrap(), RunPhase::Failed);
    assert_eq!(recorder.seqs, [1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(recorder.resumed_after, [2; 40]);
}

/// Follows a run whose daemon delivers three events, then meets every later WatchRun call
/// with `outage`; checks that following gave up saying where to resume, and returns how long
/// it went on, how many WatchRun calls it made, and how many outage answers were left unused.
async fn follow_into_an_outage(outage: Interruption) -> (Duration, usize, usize) {
    let mut interruptions = vec![Interruption::Unavailable { after: 3 }];
    interruptions.extend([outage; 100]);
    let (daemon, client) = InMemoryDaemon::start(script(RunPhase::Running, &interruptions));
    let started = tokio::time::Instant::now();
    let (outcome, recorder) = follow_with(&client, Vec::new()).await;
    let waited = started.elapsed();
    assert_eq!(recorder.seqs, [1, 2, 3]);
    let err = outcome.unwrap_err();
    assert!(
        matches!(&err, Error::FollowGaveUp { run_id, after_seq: 3, .. } if run_id == "run-1"),
        "{err:?}"
    );
    assert_eq!(err.exit_code().as_u8(), 4);
    let script = daemon.script();
    (waited, script.watches.len(), script.interruptions.len())
}

#[tokio::test(start_paused = true)]
async fn a_daemon_that_stops_answering_ends_the_follow_after_about_two_minutes_too() {
    // Each attempt waits out the whole call deadline, so the time goes on attempts, not on the
    // waits between them.
    let (waited, watches, _) = follow_into_an_outage(Interruption::Stall).await;
    // Two minutes, plus at most the attempt under way when they ran out.
    let range = Duration::from_secs(125)..Duration::from_secs(195);
    assert!(range.contains(&waited), "{waited:?}");
    assert!(watches <= 5, "{watches} attempts");
}

#[tokio::test(start_paused = true)]
async fn a_daemon_out_of_reach_for_two_minutes_ends_the_follow_saying_where_to_resume() {
    let (waited, _, unused) = follow_into_an_outage(Interruption::Refuse).await;
    // About two minutes: jittered delays may stop the budget up to one ceiling short.
    let range = Duration::from_secs(115)..Duration::from_secs(126);
    assert!(range.contains(&waited), "{waited:?}");
    assert!(unused > 50, "budget spent early");
}
