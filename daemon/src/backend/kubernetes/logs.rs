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

/// How long to keep asking for a log the kubelet will not serve yet (the container is still
/// being created), or that broke off, before giving up on it.
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

/// Follows the container's log until it ends; `heard` is called for every new line. Returns
/// what its lines said about the run.
pub async fn follow(
    pods: Api<Pod>,
    target: LogTarget,
    sink: EventSink,
    heard: impl Fn() + Send + Sync,
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
    let mut deadline = tokio::time::Instant::now() + RETRY_FOR;
    loop {
        let before = read;
        let followed = follow_once(&pods, &target, &mut read, &mut lines, &sink, &heard).await;
        // Giving up is for a log that never comes, not for a long one that broke off.
        if read > before {
            deadline = tokio::time::Instant::now() + RETRY_FOR;
        }
        match followed {
            Ok(()) if container_done(&pods, &target).await => return lines,
            Ok(()) | Err(_) if tokio::time::Instant::now() > deadline => {
                tracing::warn!(log = %key, "gave up following a log");
                return lines;
            }
            Ok(()) => {}
            Err(error) => tracing::debug!(log = %key, error = %error, "log not available yet"),
        }
        tokio::time::sleep(RETRY_EVERY).await;
    }
}

/// Reads the log from its start, skipping the first `read` lines, counting on from there.
async fn follow_once(
    pods: &Api<Pod>,
    target: &LogTarget,
    read: &mut u64,
    lines: &mut Lines,
    sink: &EventSink,
    heard: &(impl Fn() + Send + Sync),
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
        if seen <= *read {
            continue;
        }
        *read = seen;
        heard();
        let text = String::from_utf8_lossy(&buffer);
        let cursor = LogCursor {
            log: target.key(),
            lines: seen,
        };
        lines
            .handle_at(text.trim_end_matches(['\n', '\r']), sink, cursor)
            .await;
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
