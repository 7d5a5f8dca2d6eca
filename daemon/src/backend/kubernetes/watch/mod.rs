//! Watching one run in the cluster with watch streams (never polling loops): its driver Job
//! and pod, the rule Jobs Snakemake creates and their pods, and Kubernetes Events about them.
//! Pod states and Events become run events, every container's log is followed, and the driver
//! Job's end ends the run.

mod driver;
mod events;
mod jobs;
mod last_look;
mod rules;
mod run_pods;
mod stream;
mod stuck;
mod watchdog;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use byok8s_proto::v1::run_event::Kind;
use k8s_openapi::api::core::v1::Pod;
use kube::{Api, Client};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::events::EventFilter;
use super::logs::{self, LogTarget};
use super::pods::PodMemory;
use crate::backend::EventSink;
use crate::backend::output::Lines;
use jobs::SnakemakeJobs;
use stream::event_stream;
use stuck::StuckPods;

/// Log followers of the run, whose results (what the logs said) are collected at the end.
type Followers = Arc<tokio::sync::Mutex<JoinSet<Lines>>>;

/// How a driver Job ended.
#[derive(Clone, Debug, PartialEq)]
pub enum DriverEnd {
    Succeeded,
    Failed(String),
    /// Someone deleted the driver Job while it ran.
    Deleted,
    /// byok8sd gave up on a run that could not go on (a pod that cannot start, a driver that
    /// waits for rule Jobs that have all ended); the driver may still run.
    Stalled(String),
}

/// How long a run may fail to make progress before byok8sd gives up on it.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// The driver's silence while Snakemake waits for rule Jobs that have ended.
    pub watchdog: Duration,
    /// A pod unable to start.
    pub stuck: Duration,
}

/// What the watch tasks share.
struct Shared {
    sink: EventSink,
    namespace: String,
    client: Client,
    /// Snakemake's default storage prefix of the run, which its rule Jobs carry.
    prefix_url: String,
    /// The run's driver Job, which controls the driver's pod.
    driver_job: String,
    /// Rule Jobs of this run seen so far (with their rule), and which of them still run.
    rule_jobs: Mutex<HashMap<String, String>>,
    active_rule_jobs: Mutex<HashSet<String>>,
    /// Pods labelled with the run whose Job is not (yet) one of its rule Jobs, by Job name.
    unclaimed_pods: Mutex<HashMap<String, Pod>>,
    executor_secrets: Mutex<HashSet<String>>,
    followed: Mutex<HashSet<String>>,
    /// Whether the rule Jobs have been listed since the watch started: until then, none
    /// being active says nothing.
    rule_jobs_listed: Mutex<bool>,
    /// When the driver last wrote a line.
    heard: Mutex<Instant>,
    /// The jobs Snakemake counts as running, from the driver's log.
    snakemake_jobs: Mutex<SnakemakeJobs>,
    /// The logger plugin's last error, from the driver's log.
    driver_error: Mutex<Option<String>>,
    driver_failure: Mutex<Option<String>>,
    /// Which Kubernetes Events are about the run's objects.
    event_filter: Mutex<EventFilter>,
    /// What was last reported of each pod, shared so that a final look adds only news.
    pod_memory: Mutex<PodMemory>,
    stuck_pods: Mutex<StuckPods>,
}

/// A running watch over one run; dropping it stops every task.
pub struct RunWatch {
    shared: Arc<Shared>,
    tasks: JoinSet<()>,
    logs: Followers,
    ended: watch::Receiver<Option<DriverEnd>>,
}

/// What cleaning up a run needs to know.
#[derive(Debug, Default)]
pub struct Leftovers {
    pub rule_jobs: Vec<String>,
    pub executor_secrets: Vec<String>,
}

impl RunWatch {
    pub fn start(
        client: Client,
        namespace: &str,
        run_id: &str,
        prefix_url: &str,
        sink: EventSink,
        limits: Limits,
    ) -> RunWatch {
        let shared = Arc::new(Shared {
            sink,
            namespace: namespace.to_owned(),
            client,
            prefix_url: prefix_url.to_owned(),
            driver_job: super::driver::job_name(run_id),
            rule_jobs: Mutex::default(),
            active_rule_jobs: Mutex::default(),
            unclaimed_pods: Mutex::default(),
            executor_secrets: Mutex::default(),
            followed: Mutex::default(),
            rule_jobs_listed: Mutex::new(false),
            heard: Mutex::new(Instant::now()),
            snakemake_jobs: Mutex::default(),
            driver_error: Mutex::default(),
            driver_failure: Mutex::default(),
            event_filter: Mutex::default(),
            pod_memory: Mutex::default(),
            stuck_pods: Mutex::default(),
        });
        let (ended_tx, ended) = watch::channel(None);
        let logs = Arc::new(tokio::sync::Mutex::new(JoinSet::new()));
        let mut tasks = JoinSet::new();
        let driver_job = super::driver::job_name(run_id);
        locked(&shared.event_filter).watch_object(&driver_job, "driver");
        let (run_id, prefix_url) = (run_id.to_owned(), prefix_url.to_owned());
        tasks.spawn(driver::watch_driver_job(
            shared.clone(),
            driver_job,
            ended_tx.clone(),
        ));
        tasks.spawn(run_pods::watch_run_pods(shared.clone(), logs.clone()));
        tasks.spawn(rules::watch_rule_jobs(
            shared.clone(),
            run_id,
            prefix_url,
            logs.clone(),
        ));
        tasks.spawn(events::watch_events(shared.clone()));
        tasks.spawn(stuck::stuck_task(
            shared.clone(),
            limits.stuck,
            ended_tx.clone(),
        ));
        tasks.spawn(watchdog::watchdog_task(
            shared.clone(),
            limits.watchdog,
            ended_tx,
        ));
        RunWatch {
            shared,
            tasks,
            logs,
            ended,
        }
    }

    /// Resolves when the driver Job has ended, however it ended.
    pub async fn driver_end(&mut self) -> DriverEnd {
        match self.ended.wait_for(Option::is_some).await {
            Ok(end) => end.clone().unwrap_or(DriverEnd::Deleted),
            Err(_) => DriverEnd::Failed("lost the watch on the driver Job".to_owned()),
        }
    }

    /// Reads every pod of the run once more and follows the logs not followed yet. The
    /// driver Job's end can be seen before the pod change that explains it (an OOM kill, an
    /// eviction), and before the watches have listed anything at all when the run ended while
    /// byok8sd was down.
    pub async fn settle(&self) {
        last_look::look_at_everything(&self.shared, &self.logs).await;
    }

    /// Stops watching, lets log followers read what is left (up to `drain`), and returns the
    /// failure reason the logs gave, if any. Calling it again waits for nothing more.
    pub async fn finish_logs(&mut self, drain: Duration) -> Option<String> {
        self.tasks.abort_all();
        let logs = self.logs.clone();
        let shared = self.shared.clone();
        let collect = async move {
            let mut logs = logs.lock().await;
            while let Some(lines) = logs.join_next().await {
                if let Ok(lines) = lines
                    && lines.error.is_some()
                {
                    *locked(&shared.driver_error) = lines.error;
                }
            }
        };
        if tokio::time::timeout(drain, collect).await.is_err() {
            tracing::warn!("log following did not finish in time; the last lines may be missing");
        }
        let error = locked(&self.shared.driver_error).clone();
        let failure = locked(&self.shared.driver_failure).clone();
        error.or(failure)
    }

    /// What the run created that cleanup must remove.
    pub fn leftovers(&self) -> Leftovers {
        Leftovers {
            rule_jobs: locked(&self.shared.rule_jobs).keys().cloned().collect(),
            executor_secrets: locked(&self.shared.executor_secrets)
                .iter()
                .cloned()
                .collect(),
        }
    }
}

/// Reports what changed in a pod of the run, whose Events are the run's from now on.
async fn report(shared: &Shared, pod: &Pod, source: &str) {
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    locked(&shared.event_filter).watch_object(name, source);
    locked(&shared.stuck_pods).observe(pod, source, tokio::time::Instant::now());
    let changes = locked(&shared.pod_memory).changes(pod, source);
    for change in changes {
        shared.sink.emit(Kind::Cluster(change)).await;
    }
}

/// Forgets a pod that is gone: it can no longer hold the run up.
fn forget(shared: &Shared, pod: &Pod) {
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    locked(&shared.stuck_pods).forget(name);
}

/// Starts following each container of `pod` once it has started.
async fn follow_logs(
    shared: &Arc<Shared>,
    api: &Api<Pod>,
    pod: &Pod,
    source: &str,
    plugin_events: bool,
    logs: &tokio::sync::Mutex<JoinSet<Lines>>,
) {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let statuses = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.clone())
        .unwrap_or_default();
    for container in statuses {
        let started = container
            .state
            .as_ref()
            .is_some_and(|s| s.running.is_some() || s.terminated.is_some());
        let key = format!("{name}/{}", container.name);
        if !started || !locked(&shared.followed).insert(key) {
            continue;
        }
        let target = LogTarget {
            pod: name.clone(),
            container: container.name,
            source: source.to_owned(),
            plugin_events,
        };
        let driver = plugin_events.then(|| shared.clone());
        let follow = logs::follow(
            api.clone(),
            target,
            shared.sink.clone(),
            move |line, new| {
                if let Some(shared) = &driver {
                    locked(&shared.snakemake_jobs).read(line);
                    if new {
                        *locked(&shared.heard) = Instant::now();
                    }
                }
            },
        );
        logs.lock().await.spawn(follow);
    }
}

/// A lock that a panicking holder cannot poison for good: every value kept under these locks
/// is valid after any partial update.
fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}
