//! Following a run to its end, resuming after lost connections with no gap and no repeat.

use std::time::Duration;

use byok8s_proto::v1::run_event::Kind;
use byok8s_proto::v1::{EventKind, RunEvent, RunPhase, WatchRunRequest};
use tokio::time::Instant;
use tonic::codec::Streaming;

use crate::retry::Backoff;
use crate::{Client, Error, is_terminal};

/// After the final phase change, how long to wait for trailing events before treating a
/// quiet stream as closed.
const TRAILING_EVENTS_GRACE: Duration = Duration::from_secs(3);

/// How long following goes on trying while no stream opens, counting the attempts as well as
/// the waits between them: a daemon that accepts connections but never answers costs a whole
/// call deadline per attempt, which the backoff's own budget does not see.
const PATIENCE: Duration = Duration::from_secs(125);

/// Which run to follow, from where, and which events to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowRequest {
    /// The run.
    pub run_id: String,
    /// Deliver events after this sequence number; 0 means from the start.
    pub after_seq: u64,
    /// Only these kinds of event; empty means all.
    pub kinds: Vec<EventKind>,
}

/// Receives what happens while a run is followed.
pub trait FollowObserver {
    /// Called once for each event of a known kind, in sequence order.
    fn on_event(&mut self, event: &RunEvent) -> Result<(), Error>;

    /// Called before reconnecting; `after_seq` is the last event delivered.
    fn on_resume(&mut self, after_seq: u64);
}

/// The stream closed while the run still went on, as a daemon shutting down would do.
#[derive(Debug, thiserror::Error)]
#[error("the server closed the event stream before the run finished")]
struct ClosedEarly;

/// How one stream ended, short of an error that ends the follow.
enum StreamEnd {
    /// The server closed it normally.
    Closed,
    /// The connection broke or the server was unavailable.
    Broken(Error),
}

/// Follows the run until it has finished and returns its final phase.
///
/// Every event is handed to `observer` exactly once, even across reconnections: a broken or
/// early-closed stream is reopened after the last sequence number seen, with backoff. Each
/// stream that opens renews the retry budget, so following gives up only when the server
/// stays out of reach for about two minutes in a row, with [`Error::FollowGaveUp`] saying
/// where to resume.
pub async fn follow(
    client: &Client,
    request: FollowRequest,
    observer: &mut impl FollowObserver,
) -> Result<RunPhase, Error> {
    let backoff = Backoff::for_follow();
    let mut follower = Follower {
        client,
        request,
        observer,
        finished: None,
        backoff,
        outage_since: None,
    };
    loop {
        let end = follower.stream_once().await?;
        if let Some(phase) = follower.settle(end).await? {
            return Ok(phase);
        }
    }
}

/// A transport failure ends only this stream; anything else ends the follow.
fn broken_or_fatal(error: Error) -> Result<StreamEnd, Error> {
    if error.is_transient() {
        Ok(StreamEnd::Broken(error))
    } else {
        Err(error)
    }
}

struct Follower<'a, O> {
    client: &'a Client,
    request: FollowRequest,
    observer: &'a mut O,
    /// The final phase, once known; the run is over but trailing events may still come.
    finished: Option<RunPhase>,
    backoff: Backoff,
    /// When the daemon was last found out of reach, after it had last been reached.
    outage_since: Option<Instant>,
}

impl<O: FollowObserver> Follower<'_, O> {
    async fn stream_once(&mut self) -> Result<StreamEnd, Error> {
        let mut stream = match self.client.watch_run(self.watch_request()).await {
            Ok(stream) => stream,
            Err(error) => return broken_or_fatal(error),
        };
        // The server answered, so a proxy that cuts quiet streams must not use the budget up.
        self.backoff.renew_budget();
        self.outage_since = None;
        loop {
            match self.next_event(&mut stream).await {
                Ok(Some(event)) => self.accept(event)?,
                Ok(None) => return Ok(StreamEnd::Closed),
                Err(status) => {
                    return broken_or_fatal(Error::from_status(status, self.client.server()));
                }
            }
        }
    }

    fn watch_request(&self) -> WatchRunRequest {
        WatchRunRequest {
            run_id: self.request.run_id.clone(),
            after_seq: self.request.after_seq,
            follow: true,
            kinds: self.request.kinds.iter().map(|kind| *kind as i32).collect(),
        }
    }

    async fn next_event(
        &self,
        stream: &mut Streaming<RunEvent>,
    ) -> Result<Option<RunEvent>, tonic::Status> {
        if self.finished.is_none() {
            return stream.message().await;
        }
        let waited = tokio::time::timeout(TRAILING_EVENTS_GRACE, stream.message()).await;
        waited.unwrap_or(Ok(None))
    }

    fn accept(&mut self, event: RunEvent) -> Result<(), Error> {
        // A resumed stream starts after the last event seen; anything older is a repeat.
        if event.seq <= self.request.after_seq {
            return Ok(());
        }
        self.request.after_seq = event.seq;
        self.backoff.reset();
        self.outage_since = None;
        if let Some(Kind::Phase(change)) = &event.kind
            && is_terminal(change.phase)
        {
            self.finished = RunPhase::try_from(change.phase).ok();
        }
        match event.kind {
            Some(_) => self.observer.on_event(&event),
            None => Ok(()),
        }
    }

    /// Decides after a stream ended: the final phase, or `None` to open another stream.
    async fn settle(&mut self, end: StreamEnd) -> Result<Option<RunPhase>, Error> {
        if let Some(phase) = self.finished {
            return Ok(Some(phase));
        }
        match end {
            StreamEnd::Closed => self.check_run().await,
            StreamEnd::Broken(error) => self.pause(error).await.map(|()| None),
        }
    }

    /// Asks for the run after a normal close; needed when the final phase change was not
    /// among the events asked for.
    async fn check_run(&mut self) -> Result<Option<RunPhase>, Error> {
        let run = match self.client.get_run(&self.request.run_id).await {
            Ok(run) => run,
            Err(error) if error.is_transient() => return self.pause(error).await.map(|()| None),
            Err(error) => return Err(error),
        };
        if !is_terminal(run.phase) {
            let error = self.closed_early();
            return self.pause(error).await.map(|()| None);
        }
        let phase = RunPhase::try_from(run.phase).unwrap_or(RunPhase::Unspecified);
        self.finished = Some(phase);
        // One more stream picks up any events that happened after the last one seen.
        let caught_up = run.last_seq <= self.request.after_seq;
        Ok(caught_up.then_some(phase))
    }

    fn closed_early(&self) -> Error {
        let server = self.client.server().clone();
        Error::Unreachable {
            server,
            source: Box::new(ClosedEarly),
        }
    }

    async fn pause(&mut self, error: Error) -> Result<(), Error> {
        let since = *self.outage_since.get_or_insert_with(Instant::now);
        let delay = self
            .backoff
            .next_delay()
            .filter(|_| since.elapsed() < PATIENCE);
        let Some(delay) = delay else {
            return Err(Error::FollowGaveUp {
                run_id: self.request.run_id.clone(),
                after_seq: self.request.after_seq,
                source: Box::new(error),
            });
        };
        self.observer.on_resume(self.request.after_seq);
        tokio::time::sleep(delay).await;
        Ok(())
    }
}
