//! The library's single calls against the stand-in daemon: deadlines and first connections.

use std::time::Duration;

use byok8s::proto::RunPhase;
use byok8s::{ConnectOptions, Error, ServerUrl, connect};

use crate::daemon::{FakeDaemon, InMemoryDaemon};
use crate::script::{Script, run};

#[tokio::test(start_paused = true)]
async fn a_daemon_that_never_answers_get_run_fails_it_at_the_deadline() {
    let script = Script {
        runs: vec![run("run-1", RunPhase::Running, 0)],
        stall_get_run: true,
        ..Script::default()
    };
    let (_daemon, client) = InMemoryDaemon::start(script);
    let started = tokio::time::Instant::now();
    let err = client.get_run("run-1").await.unwrap_err();
    assert_eq!(started.elapsed(), Duration::from_secs(60));
    assert!(matches!(err, Error::Unreachable { .. }), "{err:?}");
    assert_eq!(err.exit_code().as_u8(), 4);
    let cause = std::error::Error::source(&err).unwrap().to_string();
    assert_eq!(cause, "no answer to GetRun within 60s");
}

#[tokio::test]
async fn a_call_to_a_daemon_that_dropped_the_connection_fails_and_the_next_one_connects() {
    let script = Script {
        runs: vec![run("run-1", RunPhase::Running, 0)],
        dropped_connections: 1,
        ..Script::default()
    };
    let daemon = FakeDaemon::start(script).await;
    let mut options = ConnectOptions::new(ServerUrl::parse(&daemon.url).unwrap());
    options.ca_cert = Some(daemon.ca_file.clone());
    let client = connect(&options).unwrap();
    let first = client.get_run("run-1").await.unwrap_err();
    assert!(first.is_transient(), "{first:?}");
    assert_eq!(client.get_run("run-1").await.unwrap().id, "run-1");
}
