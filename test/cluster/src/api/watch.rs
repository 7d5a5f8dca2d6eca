//! Watch streams: newline-delimited events, bookmarks, timeouts, and 410 Gone as an ERROR event.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::Response;
use tokio::sync::{broadcast, mpsc};

use super::query::Query;
use super::response::{self, Body};
use super::route::Route;
use crate::cluster::Cluster;
use crate::object;
use crate::resources::ResourceKind;
use crate::selectors::Filter;
use crate::status::ApiError;
use crate::store::Subscription;
use crate::watch::{Change, bookmark, event_line, event_type};

/// Events buffered for a slow client; when full, the stream waits for the client (and the
/// store's live buffer absorbs the backlog until it too overflows and the watch ends).
const STREAM_BUFFER: usize = 64;
/// How often a watch that asked for bookmarks gets one (about a minute on a real server).
const BOOKMARK_EVERY: Duration = Duration::from_secs(5);
/// How long a watch lasts when the client names no timeoutSeconds (30 minutes, as the
/// apiserver's minimum request timeout).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);

/// What one watch stream needs.
struct Watch {
    cluster: Arc<Cluster>,
    kind: &'static ResourceKind,
    namespace: Option<String>,
    filter: Filter,
    bookmarks: bool,
    initial_events: bool,
    timeout: Duration,
}

pub fn serve(
    cluster: &Arc<Cluster>,
    route: &Route,
    query: &Query,
) -> Result<Response<Body>, ApiError> {
    let initial_events = query.flag("sendInitialEvents");
    let timeout = query
        .number("timeoutSeconds")?
        .filter(|t| *t > 0)
        .map(|t| Duration::from_secs(t as u64));
    let watch = Watch {
        cluster: cluster.clone(),
        kind: route.kind,
        namespace: route.namespace.clone(),
        filter: query.filter(route.kind)?,
        bookmarks: query.flag("allowWatchBookmarks"),
        initial_events,
        timeout: timeout.unwrap_or(DEFAULT_TIMEOUT),
    };
    let since = if initial_events {
        None
    } else {
        query.resource_version()?
    };
    let (sender, receiver) = mpsc::channel(STREAM_BUFFER);
    match cluster.store.subscribe(route.kind, since) {
        Ok(subscription) => drop(tokio::spawn(watch.stream(subscription, sender))),
        // A real server answers 200 and sends the 410 as an ERROR event.
        Err(error) => drop(sender.try_send(Bytes::from(event_line("ERROR", &error.to_status())))),
    }
    Ok(response::stream("application/json", receiver))
}

impl Watch {
    fn visible(&self, change: &Change) -> Option<&'static str> {
        let namespace = object::namespace(&change.object);
        if self.namespace.as_deref().is_some_and(|ns| ns != namespace) {
            return None;
        }
        event_type(change, &self.filter)
    }

    fn bookmark_line(&self, revision: u64, initial_events_end: bool) -> Bytes {
        let object = bookmark(
            self.kind.kind,
            &self.kind.api_version(),
            revision,
            initial_events_end,
        );
        Bytes::from(event_line("BOOKMARK", &object))
    }

    /// Sends the backlog, then live changes, until the timeout, a close-watches request, a
    /// lagging client, or the client going away.
    async fn stream(self, subscription: Subscription, sender: mpsc::Sender<Bytes>) {
        let Subscription {
            backlog,
            mut live,
            revision,
        } = subscription;
        let mut seen = revision;
        for change in &backlog {
            if let Some(kind) = self.visible(change)
                && sender
                    .send(Bytes::from(event_line(kind, &change.object)))
                    .await
                    .is_err()
            {
                return;
            }
        }
        if self.initial_events && sender.send(self.bookmark_line(seen, true)).await.is_err() {
            return;
        }
        let mut epoch = self.cluster.watch_epoch.subscribe();
        epoch.mark_unchanged();
        let deadline = tokio::time::sleep(self.timeout);
        tokio::pin!(deadline);
        let mut bookmarks =
            tokio::time::interval_at(tokio::time::Instant::now() + BOOKMARK_EVERY, BOOKMARK_EVERY);
        loop {
            let line = tokio::select! {
                _ = &mut deadline => return,
                _ = epoch.changed() => return,
                _ = sender.closed() => return,
                _ = bookmarks.tick(), if self.bookmarks => self.bookmark_line(seen, false),
                received = live.recv() => match received {
                    Ok(change) if change.revision > seen => {
                        // Any change moves the watcher's position, so bookmarks stay current.
                        seen = change.revision;
                        if change.resource != self.kind.plural {
                            continue;
                        }
                        match self.visible(&change) {
                            Some(kind) => Bytes::from(event_line(kind, &change.object)),
                            None => continue,
                        }
                    }
                    Ok(_) => continue,
                    // Too slow or shutting down: end the stream; the client resumes.
                    Err(broadcast::error::RecvError::Lagged(_) | broadcast::error::RecvError::Closed) => return,
                },
            };
            if sender.send(line).await.is_err() {
                return;
            }
        }
    }
}
