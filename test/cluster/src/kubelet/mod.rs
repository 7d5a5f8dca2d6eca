//! The kubelet of the one node: runs each pod's containers as local processes in bubblewrap
//! sandboxes, reports their status, and carries out pod deletion.

mod container;
pub mod env;
mod pod;
pub mod sandbox;
mod signals;
mod status;
mod volumes;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::cluster::Cluster;
use crate::controller;
use crate::events::{self, Source};
use crate::object;
use crate::resources::PODS;

/// The node every pod is scheduled to.
pub const NODE_NAME: &str = "byok8s-test-node";

/// The node's labels, for nodeSelector matching.
pub fn node_labels() -> HashMap<&'static str, &'static str> {
    HashMap::from([
        ("kubernetes.io/hostname", NODE_NAME),
        ("kubernetes.io/os", "linux"),
        ("kubernetes.io/arch", "amd64"),
    ])
}

/// What the kubelet wants of a pod's processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    Run,
    /// SIGTERM, then SIGKILL after the grace period.
    Terminate {
        grace: Duration,
    },
}

/// The running process groups of one pod's containers, by container name.
#[derive(Debug, Default)]
pub struct Groups {
    running: Mutex<HashMap<String, i32>>,
    oom_killed: Mutex<HashSet<String>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Groups {
    fn started(&self, container: &str, group: i32) {
        lock(&self.running).insert(container.to_string(), group);
    }

    /// Forgets a finished container; true if it was OOM-killed.
    fn finished(&self, container: &str) -> bool {
        lock(&self.running).remove(container);
        lock(&self.oom_killed).remove(container)
    }

    /// Kills every running container as the kernel's OOM killer would.
    fn oom_kill(&self) -> bool {
        let running = lock(&self.running).clone();
        for (container, group) in &running {
            lock(&self.oom_killed).insert(container.clone());
            signals::kill_group(*group);
        }
        !running.is_empty()
    }

    fn kill_all(&self) {
        for group in lock(&self.running).values() {
            signals::kill_group(*group);
        }
    }
}

/// Every pod the kubelet has started, by uid.
#[derive(Default)]
pub struct Processes {
    pods: Mutex<HashMap<String, Entry>>,
}

struct Entry {
    stop: watch::Sender<Stop>,
    groups: Arc<Groups>,
    dir: PathBuf,
    task: JoinHandle<()>,
}

impl Processes {
    /// SIGKILLs the containers of the pod with this uid; false if none is running.
    pub fn oom_kill(&self, uid: &str) -> bool {
        lock(&self.pods)
            .get(uid)
            .is_some_and(|entry| entry.groups.oom_kill())
    }

    /// Kills every process of every pod and waits for the pods' tasks to notice.
    pub async fn shutdown(&self) {
        let tasks: Vec<JoinHandle<()>> = {
            let mut pods = lock(&self.pods);
            for entry in pods.values() {
                entry.stop.send_replace(Stop::Terminate {
                    grace: Duration::ZERO,
                });
                entry.groups.kill_all();
            }
            pods.drain().map(|(_, entry)| entry.task).collect()
        };
        for task in tasks {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
    }

    fn is_running(&self, uid: &str) -> bool {
        lock(&self.pods)
            .get(uid)
            .is_some_and(|entry| !entry.task.is_finished())
    }

    fn is_known(&self, uid: &str) -> bool {
        lock(&self.pods).contains_key(uid)
    }

    /// Asks a running pod to stop; true the first time.
    fn stop(&self, uid: &str, stop: Stop) -> bool {
        let pods = lock(&self.pods);
        let Some(entry) = pods.get(uid) else {
            return false;
        };
        entry.stop.send_if_modified(|current| {
            let changed = *current != stop && matches!(*current, Stop::Run);
            if changed {
                *current = stop;
            }
            changed
        })
    }

    /// Stops pods that are gone from the API and removes their directories.
    fn reap(&self, live: &HashSet<&str>) {
        let gone: Vec<Entry> = {
            let mut pods = lock(&self.pods);
            let uids: Vec<String> = pods
                .keys()
                .filter(|u| !live.contains(u.as_str()))
                .cloned()
                .collect();
            uids.iter().filter_map(|u| pods.remove(u)).collect()
        };
        for entry in gone {
            entry.stop.send_replace(Stop::Terminate {
                grace: Duration::ZERO,
            });
            tokio::spawn(async move {
                let _ = entry.task.await;
                let _ = tokio::fs::remove_dir_all(&entry.dir).await;
            });
        }
    }
}

/// Runs the kubelet until shutdown.
pub async fn run(cluster: Arc<Cluster>) {
    controller::run(cluster, |cluster| {
        reconcile(&cluster);
        std::future::ready(())
    })
    .await;
}

fn reconcile(cluster: &Arc<Cluster>) {
    let (pods, _) = cluster.store.list(&PODS, None);
    let live: HashSet<&str> = pods.iter().map(object::uid).collect();
    cluster.processes.reap(&live);
    for pod in &pods {
        let uid = object::uid(pod);
        if object::is_deleting(pod) {
            if cluster.processes.is_running(uid) {
                let stop = Stop::Terminate {
                    grace: grace(cluster, pod),
                };
                if cluster.processes.stop(uid, stop) {
                    record_killing(cluster, pod);
                }
            } else {
                pod::finish_deletion(cluster, pod);
            }
        } else if !cluster.processes.is_known(uid) && !is_terminal(pod) {
            start(cluster, pod);
        }
    }
}

fn record_killing(cluster: &Cluster, pod: &Value) {
    let containers = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for container in &containers {
        let message = format!("Stopping container {}", object::str_at(container, "/name"));
        events::normal(cluster, Source::Kubelet, &PODS, pod, "Killing", &message);
    }
}

fn is_terminal(pod: &Value) -> bool {
    matches!(object::str_at(pod, "/status/phase"), "Succeeded" | "Failed")
}

/// The pod's grace period, capped by `--grace-cap-seconds` so tests stay fast.
fn grace(cluster: &Cluster, pod: &Value) -> Duration {
    let requested = pod
        .pointer("/metadata/deletionGracePeriodSeconds")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    Duration::from_secs(requested.min(cluster.config.grace_cap_seconds))
}

fn start(cluster: &Arc<Cluster>, pod: &Value) {
    let uid = object::uid(pod).to_string();
    let dir = cluster.pod_dir(object::namespace(pod), object::name(pod), &uid);
    let (stop, stopped) = watch::channel(Stop::Run);
    let groups = Arc::new(Groups::default());
    let task = tokio::spawn(pod::run(
        cluster.clone(),
        pod.clone(),
        dir.clone(),
        groups.clone(),
        stopped,
    ));
    tracing::debug!(pod = object::name(pod), "starting pod");
    lock(&cluster.processes.pods).insert(
        uid,
        Entry {
            stop,
            groups,
            dir,
            task,
        },
    );
}

/// The directories that emulate the runner image: each `--runner-path`, or its parent when
/// it is a `bin` directory (a venv or prefix needs its `lib` too).
///
/// Each is resolved through symlinks: a root that is a symlink on the host (a shared venv
/// linked into a checkout) is a symlink in the mirrored root too, and bubblewrap cannot bind
/// onto a symlink.
pub fn runner_roots(cluster: &Cluster) -> Vec<PathBuf> {
    let config = &cluster.config;
    let paths = config
        .runner_paths
        .iter()
        .map(|path| match (path.file_name(), path.parent()) {
            (Some(name), Some(parent)) if name == "bin" => parent.to_path_buf(),
            _ => path.clone(),
        });
    paths
        .chain(config.runner_dirs.iter().cloned())
        .map(|path| std::fs::canonicalize(&path).unwrap_or(path))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_runner_path_reached_through_a_symlink_is_bound_at_its_real_place() {
        let dir = tempfile::tempdir().unwrap();
        let venv = dir.path().join("shared-venv");
        std::fs::create_dir_all(venv.join("bin")).unwrap();
        let linked = dir.path().join("checkout-venv");
        std::os::unix::fs::symlink(&venv, &linked).unwrap();
        let mut cluster = Cluster::for_tests();
        cluster.config.runner_paths = vec![linked.join("bin")];

        let roots = runner_roots(&cluster);

        assert_eq!(roots, [std::fs::canonicalize(&venv).unwrap()]);
    }
}
