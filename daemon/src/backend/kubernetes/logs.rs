//! Following one container's log into run events, resuming after the lines already recorded.
//!
//! Every line read is counted, and the count is stored with the event the line became, in one
//! transaction. After a restart the log is read again from its start and the counted lines are
//! skipped: none is lost while the container's log exists, and none is recorded twice.

use std::time::Duration;

use futures::{AsyncBufReadExt, AsyncReadExt};
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::LogParams;

use crate::backend::EventSink;
use crate::backend::output::{Lines, MAX_LINE_BYTES};
use crate::store::LogCursor;

/// How long to keep asking for a log the kubelet will not serve (the container is still being
/// created, the node is unreachable) before giving up on it.
const RETRY_FOR: Duration = Duration::from_secs(600);
const RETRY_EVERY: Duration = Duration::from_secs(2);

/// One container whose log belongs to the run.
#[derive(Clone, Debug)]
pub struct LogTarget {
    pub pod: String,
    pub container: String,
    /// "driver", or the rule's name.
    pub source: String,
    /// The driver's log carries the logger plugin's events; a rule's does not.
    pub plugin_events: bool,
}

impl LogTarget {
    fn key(&self) -> String {
        format!("{}/{}", self.pod, self.container)
    }
}

/// Follows the container's log until it ends; `heard` is called with every line read, and
/// whether it is new (lines recorded before are read again, and skipped, after a restart or a
/// broken stream). Returns what its lines said about the run.
pub async fn follow(
    pods: Api<Pod>,
    target: LogTarget,
    sink: EventSink,
    heard: impl Fn(&str, bool) + Send + Sync,
) -> Lines {
    let mut lines = Lines::pod(&target.source, &target.pod, target.plugin_events);
    let key = target.key();
    let mut read = match sink.store().log_position(sink.run_id(), &key).await {
        Ok(read) => read,
        Err(error) => {
            tracing::error!(log = %key, error = %crate::error::chain(&error), "no log position");
            0
        }
    };
    let mut patience = Patience::new(RETRY_FOR);
    loop {
        match follow_once(&pods, &target, &mut read, &mut lines, &sink, &heard).await {
            Ok(()) if container_done(&pods, &target).await => return lines,
            // Served, then broken off: a quiet log may be read for hours before that.
            Ok(()) => patience.served(),
            Err(error) if patience.exhausted(tokio::time::Instant::now()) => {
                tracing::warn!(log = %key, error = %error, "gave up following a log");
                return lines;
            }
            Err(error) => tracing::debug!(log = %key, error = %error, "log not available yet"),
        }
        tokio::time::sleep(RETRY_EVERY).await;
    }
}

/// How long a log may stay unavailable before its follower gives up: the clock runs from the
/// first failure to open it after it was last served, so a quiet log that breaks off after
/// hours gets the whole time again.
struct Patience {
    limit: Duration,
    deadline: Option<tokio::time::Instant>,
}

impl Patience {
    fn new(limit: Duration) -> Patience {
        Patience {
            limit,
            deadline: None,
        }
    }

    /// The log was served.
    fn served(&mut self) {
        self.deadline = None;
    }

    /// Records a failure to open the log at `now`; true once it has been unavailable for the
    /// whole limit.
    fn exhausted(&mut self, now: tokio::time::Instant) -> bool {
        now >= *self.deadline.get_or_insert(now + self.limit)
    }
}

/// Reads the log from its start, skipping the first `read` lines, counting on from there.
async fn follow_once(
    pods: &Api<Pod>,
    target: &LogTarget,
    read: &mut u64,
    lines: &mut Lines,
    sink: &EventSink,
    heard: &(impl Fn(&str, bool) + Send + Sync),
) -> Result<(), kube::Error> {
    let params = LogParams {
        container: Some(target.container.clone()),
        follow: true,
        ..LogParams::default()
    };
    let mut stream = pods.log_stream(&target.pod, &params).await?;
    let mut buffer = Vec::new();
    let mut seen = 0u64;
    loop {
        buffer.clear();
        let got = (&mut stream)
            .take(MAX_LINE_BYTES)
            .read_until(b'\n', &mut buffer)
            .await;
        match got {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            // A broken stream is read again from the start; the count skips what was read.
            Err(error) => {
                tracing::debug!(pod = %target.pod, error = %error, "log stream broke");
                return Ok(());
            }
        }
        seen += 1;
        let text = String::from_utf8_lossy(&buffer);
        let text = text.trim_end_matches(['\n', '\r']);
        if seen <= *read {
            heard(text, false);
            continue;
        }
        *read = seen;
        heard(text, true);
        let cursor = LogCursor {
            log: target.key(),
            lines: seen,
        };
        lines.handle_at(text, sink, cursor).await;
    }
}

/// True once the container has terminated (or the pod is gone): its log is complete. An API
/// error proves neither, so following goes on.
async fn container_done(pods: &Api<Pod>, target: &LogTarget) -> bool {
    let pod = match pods.get_opt(&target.pod).await {
        Ok(Some(pod)) => pod,
        Ok(None) => return true,
        Err(_) => return false,
    };
    let statuses = pod
        .status
        .and_then(|s| s.container_statuses)
        .unwrap_or_default();
    statuses
        .iter()
        .find(|c| c.name == target.container)
        .and_then(|c| c.state.as_ref())
        .is_some_and(|state| state.terminated.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_that_was_served_long_ago_gets_the_whole_limit_after_it_breaks_off() {
        let mut patience = Patience::new(Duration::from_secs(600));
        let start = tokio::time::Instant::now();
        let at = |seconds| start + Duration::from_secs(seconds);
        patience.served();

        // Quiet for an hour, then the stream breaks and the log cannot be opened.
        assert!(!patience.exhausted(at(3600)));
        assert!(!patience.exhausted(at(4199)));
        assert!(patience.exhausted(at(4200)));
    }

    #[test]
    fn serving_the_log_again_restarts_the_clock() {
        let mut patience = Patience::new(Duration::from_secs(600));
        let start = tokio::time::Instant::now();
        let at = |seconds| start + Duration::from_secs(seconds);
        assert!(!patience.exhausted(at(0)));
        patience.served();
        assert!(!patience.exhausted(at(599)));
        assert!(!patience.exhausted(at(1000)));
        assert!(patience.exhausted(at(1199)));
    }
}
