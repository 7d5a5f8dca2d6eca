//! The event log: numbers each run's events, persists them, then fans them out to watchers.
//!
//! An event is broadcast only after it is stored, and a watcher subscribes before it reads the
//! store, so reading the store then the broadcast (skipping numbers already sent) gives every
//! event exactly once, in order.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use byok8s_proto::v1::{EventKind, RunEvent, run_event::Kind};
use tokio::sync::{broadcast, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::Status;

use crate::run::is_terminal;
use crate::store::{LogCursor, Store, StoreError};
use crate::timestamps::to_timestamp;

/// How many events a live watcher may fall behind before it re-reads them from the store.
const BROADCAST_CAPACITY: usize = 1024;

/// Events read from the store per query while catching up.
const PAGE: usize = 512;

/// What a watcher's stream buffers; a slow client stalls only its own feeding task, which
/// catches up from the store when it falls behind the broadcast.
const WATCH_BUFFER: usize = 256;

/// Live state of one run's log: the next number and the channel to watchers.
struct Channel {
    /// Unknown until the first append since start, then read from the store.
    next_seq: tokio::sync::Mutex<Option<u64>>,
    sender: broadcast::Sender<RunEvent>,
}

/// The daemon's event log; cheap to clone.
#[derive(Clone)]
pub struct EventLog {
    store: Store,
    channels: Arc<Mutex<HashMap<String, Arc<Channel>>>>,
    /// Ends every watch, so a shutting-down server is not held open by followers of runs
    /// that will not finish before it stops; they reconnect to the next daemon.
    closing: CancellationToken,
}

/// What a watcher asked for.
pub struct WatchRequest {
    pub run_id: String,
    pub after_seq: u64,
    pub follow: bool,
    pub kinds: Vec<EventKind>,
    /// The run had finished when the watch began, so there is nothing live to wait for.
    pub finished: bool,
}

impl EventLog {
    pub fn new(store: Store) -> EventLog {
        EventLog {
            store,
            channels: Arc::default(),
            closing: CancellationToken::new(),
        }
    }

    /// Ends every open watch; used when the daemon shuts down.
    pub fn close(&self) {
        self.closing.cancel();
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Numbers, stores and broadcasts one event of a run.
    pub async fn append(&self, run_id: &str, kind: Kind) -> Result<RunEvent, StoreError> {
        self.append_at(run_id, kind, None).await
    }

    /// Like [`append`](Self::append), also recording, in the same transaction, how far into a
    /// log the event was read, so that following resumes after it and never repeats it.
    pub async fn append_at(
        &self,
        run_id: &str,
        kind: Kind,
        cursor: Option<LogCursor>,
    ) -> Result<RunEvent, StoreError> {
        // Numbering, storing and broadcasting must finish together even when the caller's
        // future is dropped half-way (a stopped watch task): the store write runs on its own
        // thread and would land while the number it used was handed out again.
        let log = self.clone();
        let run_id = run_id.to_owned();
        tokio::spawn(async move { log.append_now(&run_id, kind, cursor).await })
            .await
            .map_err(StoreError::Worker)?
    }

    async fn append_now(
        &self,
        run_id: &str,
        kind: Kind,
        cursor: Option<LogCursor>,
    ) -> Result<RunEvent, StoreError> {
        let channel = self.channel(run_id);
        let mut next = channel.next_seq.lock().await;
        let seq = match *next {
            Some(seq) => seq,
            None => self.store.last_seq(run_id).await? + 1,
        };
        let event = RunEvent {
            run_id: run_id.to_owned(),
            seq,
            time: Some(to_timestamp(SystemTime::now())),
            kind: Some(kind),
        };
        if let Err(error) = self.store.append_event(event.clone(), cursor).await {
            // A late event may have made a fresh channel for a run that is over; it will
            // never be used again.
            if matches!(error, StoreError::Finished { .. }) {
                self.forget(run_id);
            }
            return Err(error);
        }
        *next = Some(seq + 1);

        let finished = terminal_phase(&event);
        // No receiver is fine: nobody is watching.
        let _ = channel.sender.send(event.clone());
        if finished {
            self.forget(run_id);
        }
        Ok(event)
    }

    fn channel(&self, run_id: &str) -> Arc<Channel> {
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        let channel = channels.entry(run_id.to_owned()).or_insert_with(|| {
            Arc::new(Channel {
                next_seq: tokio::sync::Mutex::new(None),
                sender: broadcast::channel(BROADCAST_CAPACITY).0,
            })
        });
        channel.clone()
    }

    fn forget(&self, run_id: &str) {
        let mut channels = self.channels.lock().unwrap_or_else(|p| p.into_inner());
        channels.remove(run_id);
    }

    /// A stream of the run's events after `after_seq`, fed by a task that stops when the
    /// watcher goes away.
    pub fn watch(&self, request: WatchRequest) -> ReceiverStream<Result<RunEvent, Status>> {
        let (sender, receiver) = mpsc::channel(WATCH_BUFFER);
        let live = (request.follow && !request.finished)
            .then(|| self.channel(&request.run_id).sender.subscribe());
        let feed = Feed {
            store: self.store.clone(),
            sender,
            request,
        };
        let closing = self.closing.clone();
        let events = self.clone();
        tokio::spawn(async move {
            let run_id = feed.request.run_id.clone();
            let ended = tokio::select! {
                ended = feed.run(live) => ended,
                () = closing.cancelled() => false,
            };
            // Subscribing just as the run finished can make a channel after its last event
            // removed the old one; nothing can be appended any more, so it goes too.
            if ended {
                events.forget(&run_id);
            }
        });
        ReceiverStream::new(receiver)
    }
}

fn terminal_phase(event: &RunEvent) -> bool {
    matches!(&event.kind, Some(Kind::Phase(change)) if is_terminal(change.phase()))
}

fn kind_of(event: &RunEvent) -> EventKind {
    match &event.kind {
        Some(Kind::Phase(_)) => EventKind::Phase,
        Some(Kind::JobStarted(_) | Kind::JobFinished(_) | Kind::JobFailed(_)) => EventKind::Job,
        Some(Kind::Progress(_)) => EventKind::Progress,
        Some(Kind::Log(_)) => EventKind::Log,
        Some(Kind::Cluster(_)) => EventKind::Cluster,
        None => EventKind::Unspecified,
    }
}

/// The task behind one watcher.
struct Feed {
    store: Store,
    sender: mpsc::Sender<Result<RunEvent, Status>>,
    request: WatchRequest,
}

/// Why a feed stopped early.
enum Stop {
    WatcherGone,
    RunFinished,
}

impl Feed {
    /// Feeds the watcher; true when it reached the run's terminal phase.
    async fn run(mut self, live: Option<broadcast::Receiver<RunEvent>>) -> bool {
        let mut cursor = self.request.after_seq;
        let mut result = self.catch_up(&mut cursor).await;
        if let (Ok(()), Some(live)) = (&result, live) {
            result = self.follow(live, cursor).await;
        }
        matches!(result, Err(Stop::RunFinished))
    }

    /// Sends everything stored after `cursor`; ends the watch once a terminal phase is sent.
    async fn catch_up(&mut self, cursor: &mut u64) -> Result<(), Stop> {
        loop {
            let page = match self
                .store
                .events_after(&self.request.run_id, *cursor, PAGE)
                .await
            {
                Ok(page) => page,
                Err(error) => return self.fail(error).await,
            };
            let full = page.len() == PAGE;
            for event in page {
                *cursor = event.seq;
                self.send(event).await?;
            }
            if !full {
                return Ok(());
            }
        }
    }

    async fn follow(
        &mut self,
        mut live: broadcast::Receiver<RunEvent>,
        mut cursor: u64,
    ) -> Result<(), Stop> {
        loop {
            match live.recv().await {
                Ok(event) if event.seq <= cursor => {}
                Ok(event) if event.seq == cursor + 1 => {
                    cursor = event.seq;
                    self.send(event).await?;
                }
                // Fell behind the broadcast, or it closed: the store has everything.
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {
                    self.catch_up(&mut cursor).await?
                }
                Err(broadcast::error::RecvError::Closed) => {
                    self.catch_up(&mut cursor).await?;
                    return Ok(());
                }
            }
        }
    }

    async fn send(&mut self, event: RunEvent) -> Result<(), Stop> {
        let finished = terminal_phase(&event);
        let wanted = self.request.kinds.is_empty() || self.request.kinds.contains(&kind_of(&event));
        if wanted && self.sender.send(Ok(event)).await.is_err() {
            return Err(Stop::WatcherGone);
        }
        if finished {
            Err(Stop::RunFinished)
        } else {
            Ok(())
        }
    }

    async fn fail(&mut self, error: StoreError) -> Result<(), Stop> {
        // Turned into a status in the one place that does so, which also logs the cause.
        let status = Status::from(crate::error::Error::Store(error));
        let _ = self.sender.send(Err(status)).await;
        Err(Stop::WatcherGone)
    }
}

#[cfg(test)]
mod tests {
    use byok8s_proto::v1::{LogLine, PhaseChanged, RunPhase};
    use tokio_stream::StreamExt;

    use super::*;
    use crate::store::tests::{open_temp, record};

    fn log(n: u64) -> Kind {
        Kind::Log(LogLine {
            source: "test".into(),
            line: format!("line {n}"),
            ..Default::default()
        })
    }

    fn finished() -> Kind {
        Kind::Phase(PhaseChanged {
            phase: RunPhase::Succeeded as i32,
            reason: String::new(),
        })
    }

    fn request(after_seq: u64, follow: bool) -> WatchRequest {
        WatchRequest {
            run_id: "run-a".into(),
            after_seq,
            follow,
            kinds: vec![],
            finished: false,
        }
    }

    async fn seqs(stream: ReceiverStream<Result<RunEvent, Status>>) -> Vec<u64> {
        stream.map(|e| e.expect("event").seq).collect().await
    }

    #[tokio::test]
    async fn appended_events_are_numbered_from_one() {
        let (_dir, store) = open_temp();
        store.insert_run(record("run-a", None)).await.unwrap();
        let log_ = EventLog::new(store);
        for n in 1..=3 {
            assert_eq!(log_.append("run-a", log(n)).await.unwrap().seq, n);
        }
    }

    #[tokio::test]
    async fn an_append_abandoned_by_its_caller_still_completes_and_numbers_stay_unique() {
        let (_dir, store) = open_temp();
        store.insert_run(record("run-a", None)).await.unwrap();
        let events = EventLog::new(store.clone());
        for n in 1..=50 {
            // Dropped after one poll, as an aborted task would drop it.
            let append = events.append("run-a", log(n));
            let _ = tokio::time::timeout(std::time::Duration::ZERO, append).await;
        }
        let last = events.append("run-a", log(51)).await.unwrap();
        let stored = store.events_after("run-a", 0, 100).await.unwrap();
        let seqs: Vec<u64> = stored.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, (1..=last.seq).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn numbering_continues_after_a_restart() {
        let (_dir, store) = open_temp();
        store.insert_run(record("run-a", None)).await.unwrap();
        EventLog::new(store.clone())
            .append("run-a", log(1))
            .await
            .unwrap();
        let restarted = EventLog::new(store);
        assert_eq!(restarted.append("run-a", log(2)).await.unwrap().seq, 2);
    }

    #[tokio::test]
    async fn a_watch_without_follow_returns_what_is_stored_after_the_number() {
        let (_dir, store) = open_temp();
        store.insert_run(record("run-a", None)).await.unwrap();
        let events = EventLog::new(store);
        for n in 1..=5 {
            events.append("run-a", log(n)).await.unwrap();
        }
        assert_eq!(seqs(events.watch(request(2, false))).await, [3, 4, 5]);
    }

    #[tokio::test]
    async fn a_following_watch_sees_every_event_once_while_they_are_appended() {
        let (_dir, store) = open_temp();
        store.insert_run(record("run-a", None)).await.unwrap();
        let events = EventLog::new(store);
        for n in 1..=10 {
            events.append("run-a", log(n)).await.unwrap();
        }
        let watch = events.watch(request(4, true));
        let writer = {
            let events = events.clone();
            tokio::spawn(async move {
                // More than the broadcast holds, so the watcher also exercises catching up.
                for n in 11..=(BROADCAST_CAPACITY as u64 + 100) {
                    events.append("run-a", log(n)).await.unwrap();
                }
                events.append("run-a", finished()).await.unwrap();
            })
        };
        let got = seqs(watch).await;
        writer.await.unwrap();
        let expected: Vec<u64> = (5..=BROADCAST_CAPACITY as u64 + 101).collect();
        assert_eq!(got, expected);
    }

    #[tokio::test]
    async fn a_late_event_for_a_finished_run_is_refused_and_keeps_no_channel() {
        let (_dir, store) = open_temp();
        store.insert_run(record("run-a", None)).await.unwrap();
        let events = EventLog::new(store);
        events.append("run-a", finished()).await.unwrap();

        let late = events.append("run-a", log(2)).await;

        assert!(matches!(late, Err(StoreError::Finished { .. })), "{late:?}");
        let channels = events.channels.lock().unwrap().len();
        assert_eq!(channels, 0, "no channel is kept for a finished run");
    }

    #[tokio::test]
    async fn a_watch_that_reaches_the_end_of_a_run_keeps_no_channel() {
        let (_dir, store) = open_temp();
        store.insert_run(record("run-a", None)).await.unwrap();
        let events = EventLog::new(store);
        events.append("run-a", finished()).await.unwrap();

        // As if the run finished between the caller reading it and subscribing.
        assert_eq!(seqs(events.watch(request(0, true))).await, [1]);

        tokio::task::yield_now().await;
        let channels = events.channels.lock().unwrap().len();
        assert_eq!(channels, 0);
    }

    #[tokio::test]
    async fn a_kind_filter_hides_other_events_but_still_ends_with_the_run() {
        let (_dir, store) = open_temp();
        store.insert_run(record("run-a", None)).await.unwrap();
        let events = EventLog::new(store);
        events.append("run-a", log(1)).await.unwrap();
        let mut watch_request = request(0, true);
        watch_request.kinds = vec![EventKind::Phase];
        let watch = events.watch(watch_request);
        events.append("run-a", log(2)).await.unwrap();
        events.append("run-a", finished()).await.unwrap();
        assert_eq!(seqs(watch).await, [3]);
    }
}
