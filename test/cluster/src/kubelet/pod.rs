//! One pod's life on the node: scheduling, volumes, init containers in order, then the
//! containers together, restarts for OnFailure, phases, events and deletion.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::watch;

use super::container::{self, Exit, Launch};
use super::sandbox::{Mount, Sandbox};
use super::status::{ContainerStatus, PodState, State};
use super::volumes::{self, Volume};
use super::{Groups, NODE_NAME, Stop, env};
use crate::clock;
use crate::cluster::Cluster;
use crate::events::{self, Source};
use crate::logs::LogFiles;
use crate::object;
use crate::resources::PODS;
use crate::status::ApiError;
use crate::store;

/// Wait between retries of something that may fix itself (a missing Secret).
const RETRY: Duration = Duration::from_secs(1);
/// Wait before restarting a failed container of an OnFailure pod (10s on a real kubelet).
const RESTART_BACKOFF: Duration = Duration::from_secs(1);

/// Which list a container is in.
#[derive(Debug, Clone, Copy)]
enum Slot {
    Init(usize),
    Main(usize),
}

/// How one container ended for the pod's purposes.
enum Ended {
    Succeeded,
    Failed,
    Stopped,
}

pub struct PodRun {
    cluster: Arc<Cluster>,
    pod: Value,
    dir: PathBuf,
    groups: Arc<Groups>,
    state: Mutex<PodState>,
    scheduled_at: String,
    volumes: Mutex<HashMap<String, Volume>>,
}

/// Runs `pod` until its containers are done or the kubelet stops it, then, if it was being
/// deleted, completes the deletion.
pub async fn run(
    cluster: Arc<Cluster>,
    pod: Value,
    dir: PathBuf,
    groups: Arc<Groups>,
    stop: watch::Receiver<Stop>,
) {
    let containers = |field: &str| -> Vec<ContainerStatus> {
        let list = pod
            .pointer(&format!("/spec/{field}"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        list.iter().map(ContainerStatus::new).collect()
    };
    let state = PodState::new(containers("initContainers"), containers("containers"));
    let run = PodRun {
        cluster,
        pod: pod.clone(),
        dir,
        groups,
        state: Mutex::new(state),
        scheduled_at: clock::now_seconds(),
        volumes: Mutex::default(),
    };
    run.lifecycle(stop.clone()).await;
    if *stop.borrow() != Stop::Run {
        run.finish_deletion();
    }
}

impl PodRun {
    fn namespace(&self) -> &str {
        object::namespace(&self.pod)
    }

    fn name(&self) -> &str {
        object::name(&self.pod)
    }

    fn restart_policy(&self) -> &str {
        object::str_at(&self.pod, "/spec/restartPolicy")
    }

    fn with_state<T>(&self, f: impl FnOnce(&mut PodState) -> T) -> T {
        f(&mut self.state.lock().unwrap_or_else(PoisonError::into_inner))
    }

    async fn lifecycle(&self, mut stop: watch::Receiver<Stop>) {
        if !self.schedule() || !self.admit() {
            return wait_for_stop(&mut stop).await;
        }
        self.with_state(|s| s.start_time = Some(clock::now_seconds()));
        self.push();
        if !self.prepare_volumes(&mut stop).await {
            return;
        }
        let init_count = self.with_state(|s| s.init.len());
        for index in 0..init_count {
            match self.keep_running(Slot::Init(index), stop.clone()).await {
                Ended::Succeeded => {}
                Ended::Stopped => return,
                Ended::Failed => return self.finish("Failed"),
            }
        }
        let count = self.with_state(|s| s.containers.len());
        let runs = (0..count).map(|i| self.keep_running(Slot::Main(i), stop.clone()));
        let ended = futures_util::future::join_all(runs).await;
        if ended.iter().any(|e| matches!(e, Ended::Stopped)) {
            return;
        }
        let all_ok = ended.iter().all(|e| matches!(e, Ended::Succeeded));
        self.finish(if all_ok { "Succeeded" } else { "Failed" });
    }

    fn finish(&self, phase: &str) {
        self.with_state(|s| s.phase = phase.to_string());
        self.push();
    }

    /// Binds the pod to the node unless its nodeSelector cannot match.
    fn schedule(&self) -> bool {
        let selector = self
            .pod
            .pointer("/spec/nodeSelector")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let labels = super::node_labels();
        if !selector
            .iter()
            .all(|(k, v)| labels.get(k.as_str()).copied() == v.as_str())
        {
            let message =
                "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector.";
            self.write_status(json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
                "lastProbeTime": null, "lastTransitionTime": self.scheduled_at, "reason": "Unschedulable", "message": message}]}));
            events::warning(
                &self.cluster,
                Source::Scheduler,
                &PODS,
                &self.pod,
                "FailedScheduling",
                message,
            );
            return false;
        }
        let result = self
            .cluster
            .store
            .update(&PODS, self.namespace(), self.name(), |current| {
                let mut bound = same_pod(current, &self.pod)?;
                bound["spec"]["nodeName"] = json!(NODE_NAME);
                Ok(bound)
            });
        let message = format!(
            "Successfully assigned {}/{} to {NODE_NAME}",
            self.namespace(),
            self.name()
        );
        events::normal(
            &self.cluster,
            Source::Scheduler,
            &PODS,
            &self.pod,
            "Scheduled",
            &message,
        );
        result.is_ok()
    }

    /// restartPolicy Always would need a kubelet that restarts forever; refused openly.
    fn admit(&self) -> bool {
        if self.restart_policy() != "Always" {
            return true;
        }
        let message = "this test cluster runs pods with restartPolicy Never or OnFailure only; restartPolicy Always is not supported";
        events::warning(
            &self.cluster,
            Source::Kubelet,
            &PODS,
            &self.pod,
            "Unsupported",
            message,
        );
        self.push();
        false
    }

    async fn prepare_volumes(&self, stop: &mut watch::Receiver<Stop>) -> bool {
        let mut reported = String::new();
        loop {
            match volumes::prepare(&self.cluster, &self.pod, &self.dir) {
                Ok(prepared) => {
                    *self.volumes.lock().unwrap_or_else(PoisonError::into_inner) = prepared;
                    self.with_state(|s| s.sandbox_ready = true);
                    self.push();
                    return true;
                }
                Err(message) if message != reported => {
                    events::warning(
                        &self.cluster,
                        Source::Kubelet,
                        &PODS,
                        &self.pod,
                        "FailedMount",
                        &message,
                    );
                    reported = message;
                }
                Err(_) => {}
            }
            if !retry_later(stop).await {
                return false;
            }
        }
    }

    /// Runs a container, restarting it on failure when the pod's policy says so.
    async fn keep_running(&self, slot: Slot, stop: watch::Receiver<Stop>) -> Ended {
        loop {
            let ended = self.run_once(slot, stop.clone()).await;
            if !matches!(ended, Ended::Failed) || self.restart_policy() != "OnFailure" {
                return ended;
            }
            let mut stop = stop.clone();
            let message = format!(
                "Back-off restarting failed container {}",
                self.container_name(slot)
            );
            events::warning(
                &self.cluster,
                Source::Kubelet,
                &PODS,
                &self.pod,
                "BackOff",
                &message,
            );
            tokio::select! {
                _ = tokio::time::sleep(RESTART_BACKOFF) => {}
                _ = wait_for_stop(&mut stop) => return Ended::Stopped,
            }
            self.with_status(slot, ContainerStatus::restart);
            self.push();
        }
    }

    fn container(&self, slot: Slot) -> Value {
        let (field, index) = match slot {
            Slot::Init(i) => ("initContainers", i),
            Slot::Main(i) => ("containers", i),
        };
        self.pod
            .pointer(&format!("/spec/{field}/{index}"))
            .cloned()
            .unwrap_or(Value::Null)
    }

    fn container_name(&self, slot: Slot) -> String {
        object::str_at(&self.container(slot), "/name").to_string()
    }

    fn with_status<T>(&self, slot: Slot, f: impl FnOnce(&mut ContainerStatus) -> T) -> T {
        self.with_state(|s| match slot {
            Slot::Init(i) => f(&mut s.init[i]),
            Slot::Main(i) => f(&mut s.containers[i]),
        })
    }

    async fn run_once(&self, slot: Slot, stop: watch::Receiver<Stop>) -> Ended {
        let Some(launch) = self.launch_when_configured(slot, &mut stop.clone()).await else {
            return Ended::Stopped;
        };
        let started_at = clock::now_seconds();
        let name = launch.name.clone();
        let started = || {
            self.with_status(slot, |c| {
                c.state = State::Running {
                    started_at: started_at.clone(),
                }
            });
            if matches!(slot, Slot::Main(_)) {
                self.with_state(|s| s.phase = "Running".into());
            }
            self.push();
            events::normal(
                &self.cluster,
                Source::Kubelet,
                &PODS,
                &self.pod,
                "Started",
                &format!("Started container {name}"),
            );
        };
        let exit = match container::run(launch, &self.groups, stop, started).await {
            Ok(exit) => exit,
            Err(error) => {
                let message = format!("Error: failed to start container \"{name}\": {error}");
                events::warning(
                    &self.cluster,
                    Source::Kubelet,
                    &PODS,
                    &self.pod,
                    "Failed",
                    &message,
                );
                Exit {
                    code: 128,
                    oom_killed: false,
                    stopped: false,
                }
            }
        };
        self.record_exit(slot, &name, exit, started_at)
    }

    fn record_exit(&self, slot: Slot, name: &str, exit: Exit, started_at: String) -> Ended {
        let finished_at = clock::now_seconds();
        let state = State::Terminated {
            exit_code: exit.code,
            reason: exit.reason().into(),
            started_at,
            finished_at,
        };
        self.with_status(slot, |c| c.state = state);
        self.push();
        if exit.oom_killed {
            let message = format!("Container {name} was OOM killed");
            events::warning(
                &self.cluster,
                Source::Kubelet,
                &PODS,
                &self.pod,
                "OOMKilling",
                &message,
            );
        }
        match exit {
            Exit { stopped: true, .. } => Ended::Stopped,
            Exit { code: 0, .. } => Ended::Succeeded,
            _ => Ended::Failed,
        }
    }

    /// Resolves the container's command and environment, waiting (CreateContainerConfigError)
    /// while a referenced Secret or ConfigMap is missing.
    async fn launch_when_configured(
        &self,
        slot: Slot,
        stop: &mut watch::Receiver<Stop>,
    ) -> Option<Launch> {
        let mut reported = String::new();
        loop {
            match self.launch(slot) {
                Ok(launch) => return Some(launch),
                Err((reason, message)) => {
                    let waiting = State::Waiting {
                        reason: reason.into(),
                        message: Some(message.clone()),
                    };
                    self.with_status(slot, |c| c.state = waiting);
                    self.push();
                    if message != reported {
                        let event = format!("Error: {message}");
                        events::warning(
                            &self.cluster,
                            Source::Kubelet,
                            &PODS,
                            &self.pod,
                            "Failed",
                            &event,
                        );
                        reported = message;
                    }
                }
            }
            if !retry_later(stop).await {
                return None;
            }
        }
    }

    fn launch(&self, slot: Slot) -> Result<Launch, (&'static str, String)> {
        let container = self.container(slot);
        let name = object::str_at(&container, "/name").to_string();
        let home = self.dir.join("home");
        let tmp = self.dir.join("tmp");
        for dir in [&home, &tmp] {
            std::fs::create_dir_all(dir).map_err(|e| ("CreateContainerError", e.to_string()))?;
        }
        let env = env::resolve(
            &self.cluster,
            &self.pod,
            &container,
            &home.to_string_lossy(),
        )
        .map_err(|message| ("CreateContainerConfigError", message))?;
        let argv = self.argv(&container, &env)?;
        let restart = self.with_status(slot, |c| c.restart_count);
        let sandbox = Sandbox {
            hostname: self.name().to_string(),
            tmp,
            runner_roots: super::runner_roots(&self.cluster),
            mounts: self.mounts(&container),
            working_dir: container
                .get("workingDir")
                .and_then(Value::as_str)
                .map(String::from),
        };
        Ok(Launch {
            logs: LogFiles::new(&self.dir, &name, restart),
            name,
            argv,
            env,
            sandbox,
        })
    }

    /// command + args with `$(VAR)` expanded; images are ignored, so a command is required.
    fn argv(
        &self,
        container: &Value,
        env: &env::Env,
    ) -> Result<Vec<String>, (&'static str, String)> {
        let strings = |field: &str| -> Vec<String> {
            let list = container
                .get(field)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            list.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        };
        let vars = env.iter().cloned().collect();
        let mut argv = strings("command");
        if argv.is_empty() {
            let message = format!(
                "container \"{}\" has no command: this test cluster ignores images, so their entrypoints are unknown",
                object::str_at(container, "/name")
            );
            return Err(("CreateContainerError", message));
        }
        argv.extend(strings("args"));
        Ok(argv.iter().map(|a| env::expand(a, &vars)).collect())
    }

    fn mounts(&self, container: &Value) -> Vec<Mount> {
        let volumes = self.volumes.lock().unwrap_or_else(PoisonError::into_inner);
        let list = container
            .get("volumeMounts")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        list.iter()
            .filter_map(|mount| {
                let volume = volumes.get(object::str_at(mount, "/name"))?;
                let sub_path = object::str_at(mount, "/subPath");
                Some(Mount {
                    source: if sub_path.is_empty() {
                        volume.path.clone()
                    } else {
                        volume.path.join(sub_path)
                    },
                    target: object::str_at(mount, "/mountPath").into(),
                    read_only: volume.read_only || mount["readOnly"] == Value::Bool(true),
                })
            })
            .collect()
    }

    fn push(&self) {
        let status = self.with_state(|s| s.render(&self.scheduled_at));
        self.write_status(status);
    }

    fn write_status(&self, status: Value) {
        let result = self
            .cluster
            .store
            .update(&PODS, self.namespace(), self.name(), |current| {
                let mut updated = same_pod(current, &self.pod)?;
                updated["status"] = status;
                Ok(updated)
            });
        if let Err(error) = result {
            tracing::debug!(%error, pod = self.name(), "pod status not written");
        }
    }

    /// The kubelet's final delete: no grace left, the store removes the pod unless
    /// finalizers still hold it.
    fn finish_deletion(&self) {
        finish_deletion(&self.cluster, &self.pod);
    }
}

/// Completes the graceful deletion of `pod`.
pub fn finish_deletion(cluster: &Cluster, pod: &Value) {
    let result = cluster.store.update(
        &PODS,
        object::namespace(pod),
        object::name(pod),
        |current| {
            let mut deleted = same_pod(current, pod)?;
            store::mark_deleted(&mut deleted);
            Ok(deleted)
        },
    );
    if let Err(error) = result {
        tracing::debug!(%error, pod = object::name(pod), "pod already gone");
    }
}

/// The current object if it is still the same pod (same uid), else NotFound.
fn same_pod(current: &Value, pod: &Value) -> Result<Value, ApiError> {
    if object::uid(current) == object::uid(pod) {
        Ok(current.clone())
    } else {
        Err(ApiError::not_found(&PODS, object::name(pod)))
    }
}

async fn wait_for_stop(stop: &mut watch::Receiver<Stop>) {
    while *stop.borrow_and_update() == Stop::Run {
        if stop.changed().await.is_err() {
            return;
        }
    }
}

/// Sleeps before a retry; false if the pod is being stopped instead.
async fn retry_later(stop: &mut watch::Receiver<Stop>) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(RETRY) => *stop.borrow() == Stop::Run,
        _ = wait_for_stop(stop) => false,
    }
}
