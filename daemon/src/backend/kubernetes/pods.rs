//! What a pod's status says, as run events: its phase, its containers' states, and why it
//! cannot run (unschedulable, image pull failures, out of memory, eviction).

use std::collections::HashMap;

use byok8s_proto::v1::ClusterEvent;
use k8s_openapi::api::core::v1::{ContainerStatus, Pod};

/// Waiting reasons that mean the pod will not start without someone acting.
const STUCK: &[&str] = &[
    "ImagePullBackOff",
    "ErrImagePull",
    "InvalidImageName",
    "CreateContainerConfigError",
    "CreateContainerError",
    "CrashLoopBackOff",
];

/// The last state reported for each pod, so that each change is reported once.
#[derive(Default)]
pub struct PodMemory {
    seen: HashMap<String, Vec<String>>,
}

impl PodMemory {
    /// Events for what changed in `pod` since it was last seen; `source` is "driver" or a rule.
    pub fn changes(&mut self, pod: &Pod, source: &str) -> Vec<ClusterEvent> {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let now = describe(pod, source);
        let seen = self.seen.entry(name).or_default();
        let fresh: Vec<ClusterEvent> = now
            .into_iter()
            .filter(|event| !seen.contains(&key(event)))
            .collect();
        seen.extend(fresh.iter().map(key));
        fresh
    }
}

fn key(event: &ClusterEvent) -> String {
    format!("{}|{}|{}", event.object, event.reason, event.message)
}

/// Everything notable in the pod's current status.
pub fn describe(pod: &Pod, source: &str) -> Vec<ClusterEvent> {
    let object = format!("pod/{}", pod.metadata.name.as_deref().unwrap_or_default());
    let event = |reason: &str, message: String, warning: bool| ClusterEvent {
        object: object.clone(),
        reason: reason.to_owned(),
        message,
        warning,
        source: source.to_owned(),
    };
    let Some(status) = &pod.status else {
        return Vec::new();
    };
    let mut events = Vec::new();
    for condition in status.conditions.iter().flatten() {
        if condition.type_ == "PodScheduled" && condition.reason.as_deref() == Some("Unschedulable")
        {
            events.push(event(
                "Unschedulable",
                condition.message.clone().unwrap_or_default(),
                true,
            ));
        }
    }
    if status.reason.as_deref() == Some("Evicted") {
        events.push(event(
            "Evicted",
            status.message.clone().unwrap_or_default(),
            true,
        ));
    }
    for container in status.container_statuses.iter().flatten() {
        events.extend(
            container_events(container)
                .into_iter()
                .map(|(r, m, w)| event(&r, m, w)),
        );
    }
    if let Some(phase) = &status.phase {
        events.push(event(phase, String::new(), phase == "Failed"));
    }
    events
}

/// (reason, message, warning) for one container's state.
fn container_events(container: &ContainerStatus) -> Vec<(String, String, bool)> {
    let Some(state) = &container.state else {
        return Vec::new();
    };
    let name = &container.name;
    let mut events = Vec::new();
    if let Some(waiting) = &state.waiting {
        let reason = waiting.reason.clone().unwrap_or_default();
        if STUCK.contains(&reason.as_str()) {
            let message = format!(
                "container {name}: {}",
                waiting.message.clone().unwrap_or_default()
            );
            events.push((reason, message, true));
        }
    }
    if let Some(terminated) = &state.terminated {
        let reason = terminated
            .reason
            .clone()
            .unwrap_or_else(|| "Terminated".to_owned());
        let message = format!("container {name} exited with code {}", terminated.exit_code);
        events.push((reason, message, terminated.exit_code != 0));
    }
    events
}

/// What keeps the pod from starting until someone acts (an image that cannot be pulled, a
/// missing Secret, no node that fits), as `REASON (MESSAGE)`; `None` for a pod that is
/// starting, running, done or being deleted.
pub fn stuck_state(pod: &Pod) -> Option<String> {
    if pod.metadata.deletion_timestamp.is_some() {
        return None;
    }
    let status = pod.status.as_ref()?;
    if matches!(status.phase.as_deref(), Some("Succeeded" | "Failed")) {
        return None;
    }
    let unschedulable = status.conditions.iter().flatten().find(|c| {
        c.type_ == "PodScheduled"
            && c.status == "False"
            && c.reason.as_deref() == Some("Unschedulable")
    });
    if let Some(condition) = unschedulable {
        let message = condition.message.clone().unwrap_or_default();
        return Some(format!("Unschedulable ({message})"));
    }
    let statuses = status.init_container_statuses.iter().flatten();
    statuses
        .chain(status.container_statuses.iter().flatten())
        .find_map(|container| {
            let waiting = container.state.as_ref()?.waiting.as_ref()?;
            let reason = waiting.reason.as_deref().filter(|r| STUCK.contains(r))?;
            let message = waiting.message.as_deref().unwrap_or_default();
            Some(format!(
                "{reason} (container {}: {message})",
                container.name
            ))
        })
}

/// Why a failed pod failed, for a run's failure reason: out of memory and eviction first.
pub fn failure_reason(pod: &Pod) -> Option<String> {
    let status = pod.status.as_ref()?;
    if status.reason.as_deref() == Some("Evicted") {
        return Some(format!(
            "the driver pod was evicted: {}",
            status.message.clone().unwrap_or_default()
        ));
    }
    let terminated = status
        .container_statuses
        .iter()
        .flatten()
        .filter_map(|c| c.state.as_ref()?.terminated.as_ref())
        .find(|t| t.exit_code != 0)?;
    Some(match terminated.reason.as_deref() {
        Some("OOMKilled") => "the driver ran out of memory (OOMKilled)".to_owned(),
        _ => format!("the driver exited with code {}", terminated.exit_code),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(status: serde_json::Value) -> Pod {
        serde_json::from_value(
            serde_json::json!({ "metadata": { "name": "p-1" }, "status": status }),
        )
        .unwrap()
    }

    #[test]
    fn an_oom_killed_container_is_a_warning_with_its_exit_code() {
        let pod = pod(serde_json::json!({
            "phase": "Failed",
            "containerStatuses": [{
                "name": "driver", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
                "state": { "terminated": { "exitCode": 137, "reason": "OOMKilled" } },
            }],
        }));
        let events = describe(&pod, "driver");
        let oom = events
            .iter()
            .find(|e| e.reason == "OOMKilled")
            .expect("OOMKilled reported");
        assert!(oom.warning && oom.message.contains("137"));
        assert_eq!(
            failure_reason(&pod).as_deref(),
            Some("the driver ran out of memory (OOMKilled)")
        );
    }

    #[test]
    fn an_unschedulable_pod_says_why() {
        let pod = pod(serde_json::json!({
            "phase": "Pending",
            "conditions": [{ "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                             "message": "0/3 nodes have enough memory" }],
        }));
        let events = describe(&pod, "rule_a");
        assert!(
            events
                .iter()
                .any(|e| e.reason == "Unschedulable" && e.warning && e.message.contains("memory"))
        );
    }

    #[test]
    fn image_pull_failures_are_reported_but_ordinary_waiting_is_not() {
        let waiting = |reason: &str| {
            pod(serde_json::json!({
                "phase": "Pending",
                "containerStatuses": [{
                    "name": "c", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
                    "state": { "waiting": { "reason": reason, "message": "m" } },
                }],
            }))
        };
        assert!(
            describe(&waiting("ImagePullBackOff"), "d")
                .iter()
                .any(|e| e.reason == "ImagePullBackOff")
        );
        assert!(
            !describe(&waiting("ContainerCreating"), "d")
                .iter()
                .any(|e| e.reason == "ContainerCreating")
        );
    }

    #[test]
    fn a_missing_secret_or_no_fitting_node_is_a_stuck_state_but_creating_is_not() {
        let waiting = |reason: &str| {
            pod(serde_json::json!({
                "phase": "Pending",
                "containerStatuses": [{
                    "name": "driver", "image": "i", "imageID": "", "ready": false,
                    "restartCount": 0,
                    "state": { "waiting": { "reason": reason, "message": "secret \"s3\" not found" } },
                }],
            }))
        };
        assert_eq!(
            stuck_state(&waiting("CreateContainerConfigError")).as_deref(),
            Some("CreateContainerConfigError (container driver: secret \"s3\" not found)")
        );
        assert_eq!(stuck_state(&waiting("ContainerCreating")), None);
        let unschedulable = pod(serde_json::json!({
            "phase": "Pending",
            "conditions": [{ "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                             "message": "0/3 nodes have enough memory" }],
        }));
        assert_eq!(
            stuck_state(&unschedulable).as_deref(),
            Some("Unschedulable (0/3 nodes have enough memory)")
        );
    }

    #[test]
    fn a_pod_being_deleted_is_not_stuck() {
        let mut pod = pod(serde_json::json!({
            "phase": "Pending",
            "conditions": [{ "type": "PodScheduled", "status": "False", "reason": "Unschedulable" }],
        }));
        pod.metadata.deletion_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
            ));
        assert_eq!(stuck_state(&pod), None);
    }

    #[test]
    fn each_change_is_reported_once() {
        let mut memory = PodMemory::default();
        let running = pod(serde_json::json!({ "phase": "Running" }));
        assert_eq!(memory.changes(&running, "driver").len(), 1);
        assert!(memory.changes(&running, "driver").is_empty());
        let done = pod(serde_json::json!({ "phase": "Succeeded" }));
        assert_eq!(memory.changes(&done, "driver")[0].reason, "Succeeded");
    }
}
