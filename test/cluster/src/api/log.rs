//! `pods/log`: choosing the container and instance like the kubelet, then sending the log,
//! following it while the container runs.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::Response;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio::sync::mpsc;

use super::query::Query;
use super::response::{self, Body};
use super::route::Route;
use crate::clock;
use crate::cluster::Cluster;
use crate::logs::{self, LogFiles, ReadOptions};
use crate::object;
use crate::resources::PODS;
use crate::status::ApiError;

/// How often a followed log is checked for new lines.
const POLL: Duration = Duration::from_millis(100);
/// Chunks buffered for a slow reader before reading the file pauses.
const STREAM_BUFFER: usize = 16;

pub fn serve(
    cluster: &Arc<Cluster>,
    route: &Route,
    query: &Query,
) -> Result<Response<Body>, ApiError> {
    let namespace = route.namespace_or_empty();
    let name = route.name.as_deref().unwrap_or("");
    let pod = cluster
        .store
        .get(&PODS, namespace, name)
        .ok_or_else(|| ApiError::not_found(&PODS, name))?;
    let container = container_name(&pod, query.get("container"))?;
    let restart = instance(&pod, &container, query.flag("previous"))?;
    let dir = cluster.pod_dir(namespace, name, object::uid(&pod));
    let files = LogFiles::new(&dir, &container, restart);
    let options = read_options(query)?;
    let follow = query.flag("follow") && !query.flag("previous");
    let limit = query.number("limitBytes")?.map(|l| l.max(0) as usize);
    let (sender, receiver) = mpsc::channel(STREAM_BUFFER);
    let reader = Reader {
        cluster: cluster.clone(),
        pod,
        files,
        options,
        follow,
        limit,
    };
    tokio::spawn(reader.send(sender));
    Ok(response::stream("text/plain", receiver))
}

/// The named container, or the only one; init containers may be named too.
fn container_name(pod: &Value, requested: Option<&str>) -> Result<String, ApiError> {
    let names = |field: &str| -> Vec<String> {
        let list = pod
            .pointer(&format!("/spec/{field}"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        list.iter()
            .map(|c| object::str_at(c, "/name").to_string())
            .collect()
    };
    let (containers, init) = (names("containers"), names("initContainers"));
    let pod_name = object::name(pod);
    match requested.filter(|r| !r.is_empty()) {
        Some(name) if containers.iter().chain(init.iter()).any(|c| c == name) => {
            Ok(name.to_string())
        }
        Some(name) => Err(ApiError::bad_request(format!(
            "container {name} is not valid for pod {pod_name}"
        ))),
        None if containers.len() == 1 => Ok(containers[0].clone()),
        None => Err(ApiError::bad_request(format!(
            "a container name must be specified for pod {pod_name}, choose one of: [{}] or one of the init containers: [{}]",
            containers.join(" "),
            init.join(" ")
        ))),
    }
}

/// Which run of the container to read: the current one, or with `previous` the one before
/// the last restart. A container that never restarted has no previous run: the kubelet
/// answers 400 even when the current run has terminated.
fn instance(pod: &Value, container: &str, previous: bool) -> Result<u64, ApiError> {
    let statuses = ["containerStatuses", "initContainerStatuses"]
        .iter()
        .filter_map(|f| {
            pod.pointer(&format!("/status/{f}"))
                .and_then(Value::as_array)
        })
        .flatten();
    let status = statuses
        .into_iter()
        .find(|s| object::str_at(s, "/name") == container);
    let pod_name = object::name(pod);
    let waiting = || {
        let reason = status
            .map(|s| object::str_at(s, "/state/waiting/reason"))
            .filter(|r| !r.is_empty());
        let message = format!(
            "container \"{container}\" in pod \"{pod_name}\" is waiting to start: {}",
            reason.unwrap_or("ContainerCreating")
        );
        ApiError::bad_request(message)
    };
    let status = status.ok_or_else(waiting)?;
    let restarts = status["restartCount"].as_u64().unwrap_or(0);
    if previous {
        let has_previous = status.pointer("/lastState/terminated").is_some() && restarts > 0;
        if !has_previous {
            let message = format!(
                "previous terminated container \"{container}\" in pod \"{pod_name}\" not found"
            );
            return Err(ApiError::bad_request(message));
        }
        return Ok(restarts - 1);
    }
    match (status.pointer("/state/waiting").is_some(), restarts) {
        (true, 0) => Err(waiting()),
        // Waiting to restart: the last run is what there is to read.
        (true, _) => Ok(restarts - 1),
        (false, _) => Ok(restarts),
    }
}

fn read_options(query: &Query) -> Result<ReadOptions, ApiError> {
    let since_time = match query.get("sinceTime") {
        Some(text) if !text.is_empty() => Some(clock::parse(text).ok_or_else(|| {
            ApiError::bad_request(format!(
                "sinceTime: Invalid value: \"{text}\": must be RFC3339"
            ))
        })?),
        _ => None,
    };
    let since_seconds = query
        .number("sinceSeconds")?
        .map(|s| jiff::Timestamp::now() - jiff::SignedDuration::from_secs(s));
    if since_time.is_some() && since_seconds.is_some() {
        return Err(ApiError::bad_request(
            "at most one of `sinceTime` or `sinceSeconds` may be specified",
        ));
    }
    Ok(ReadOptions {
        timestamps: query.flag("timestamps"),
        tail_lines: query.number("tailLines")?.map(|t| t.max(0) as usize),
        since: since_time.or(since_seconds),
        limit_bytes: None,
    })
}

struct Reader {
    cluster: Arc<Cluster>,
    pod: Value,
    files: LogFiles,
    options: ReadOptions,
    follow: bool,
    limit: Option<usize>,
}

impl Reader {
    /// Sends what is in the log now, then (following) new lines until the container's run
    /// has ended and its log is drained, the pod is gone, or the client leaves.
    async fn send(mut self, sender: mpsc::Sender<Bytes>) {
        let Some(mut file) = self.open().await else {
            return;
        };
        let mut pending = Vec::new();
        let mut first = true;
        loop {
            let done_before_read = self.files.is_done();
            let mut chunk = Vec::new();
            if file.read_to_end(&mut chunk).await.is_err() {
                return;
            }
            pending.extend_from_slice(&chunk);
            let (records, used) = logs::parse(&pending);
            pending.drain(..used);
            let records = if first {
                self.options.select(records)
            } else {
                records
                    .into_iter()
                    .filter(|r| self.options.keeps(r))
                    .collect()
            };
            first = false;
            let mut out: Vec<u8> = records
                .iter()
                .flat_map(|r| self.options.render(r))
                .collect();
            if let Some(limit) = self.limit.as_mut() {
                out.truncate(*limit);
                *limit -= out.len();
            }
            if !out.is_empty() && sender.send(Bytes::from(out)).await.is_err() {
                return;
            }
            let exhausted = self.limit == Some(0);
            if !self.follow || done_before_read || exhausted || !self.pod_exists() {
                return;
            }
            tokio::time::sleep(POLL).await;
            if file.seek(std::io::SeekFrom::Current(0)).await.is_err() {
                return;
            }
        }
    }

    /// Opens the log, waiting for it while the container is just starting.
    async fn open(&self) -> Option<tokio::fs::File> {
        loop {
            if let Ok(file) = tokio::fs::File::open(&self.files.log).await {
                return Some(file);
            }
            if !self.follow || self.files.is_done() || !self.pod_exists() {
                return None;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    fn pod_exists(&self) -> bool {
        let current =
            self.cluster
                .store
                .get(&PODS, object::namespace(&self.pod), object::name(&self.pod));
        current.is_some_and(|p| object::uid(&p) == object::uid(&self.pod))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(status: Value) -> Value {
        json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "snakemake"}]}, "status": {"containerStatuses": [status]}})
    }

    #[test]
    fn previous_of_a_never_restarted_container_is_not_found() {
        let terminated = json!({"name": "snakemake", "restartCount": 0, "state": {"terminated": {"exitCode": 1}}, "lastState": {}});
        let error = instance(&pod(terminated.clone()), "snakemake", true).unwrap_err();
        assert_eq!(error.code, 400);
        assert_eq!(
            error.message,
            "previous terminated container \"snakemake\" in pod \"p\" not found"
        );
        assert_eq!(instance(&pod(terminated), "snakemake", false).unwrap(), 0);
    }

    #[test]
    fn previous_of_a_restarted_container_is_the_run_before() {
        let restarted = json!({"name": "snakemake", "restartCount": 2, "state": {"running": {}},
            "lastState": {"terminated": {"exitCode": 1}}});
        assert_eq!(instance(&pod(restarted), "snakemake", true).unwrap(), 1);
    }

    #[test]
    fn a_waiting_container_has_no_log_yet() {
        let waiting = json!({"name": "snakemake", "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}});
        let error = instance(&pod(waiting), "snakemake", false).unwrap_err();
        assert_eq!(
            error.message,
            "container \"snakemake\" in pod \"p\" is waiting to start: ContainerCreating"
        );
    }

    #[test]
    fn the_only_container_is_the_default() {
        let p = pod(json!({}));
        assert_eq!(container_name(&p, None).unwrap(), "snakemake");
        assert_eq!(container_name(&p, Some("other")).unwrap_err().code, 400);
    }
}
