//! The kubelet's view of a pod's status, rendered as `PodStatus` JSON.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::clock;

/// A container's state, as in `ContainerState`.
#[derive(Debug, Clone, PartialEq)]
pub enum State {
    Waiting {
        reason: String,
        message: Option<String>,
    },
    Running {
        started_at: String,
    },
    Terminated {
        exit_code: i32,
        reason: String,
        started_at: String,
        finished_at: String,
    },
}

impl State {
    pub fn creating() -> Self {
        State::Waiting {
            reason: "ContainerCreating".into(),
            message: None,
        }
    }

    pub fn exit_code(&self) -> Option<i32> {
        match self {
            State::Terminated { exit_code, .. } => Some(*exit_code),
            _ => None,
        }
    }

    fn to_json(&self) -> Value {
        match self {
            State::Waiting { reason, message } => {
                let mut waiting = json!({"reason": reason});
                if let Some(message) = message {
                    waiting["message"] = json!(message);
                }
                json!({"waiting": waiting})
            }
            State::Running { started_at } => json!({"running": {"startedAt": started_at}}),
            State::Terminated {
                exit_code,
                reason,
                started_at,
                finished_at,
            } => json!({"terminated": {
                "exitCode": exit_code, "reason": reason, "startedAt": started_at,
                "finishedAt": finished_at, "containerID": "",
            }}),
        }
    }
}

/// One container's status.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerStatus {
    pub name: String,
    pub image: String,
    pub state: State,
    pub last_state: Option<State>,
    pub restart_count: u64,
}

impl ContainerStatus {
    pub fn new(container: &Value) -> Self {
        Self {
            name: container["name"].as_str().unwrap_or_default().into(),
            image: container["image"].as_str().unwrap_or_default().into(),
            state: State::creating(),
            last_state: None,
            restart_count: 0,
        }
    }

    /// Moves the current (terminated) state to lastState before a restart.
    pub fn restart(&mut self) {
        self.last_state = Some(std::mem::replace(&mut self.state, State::creating()));
        self.restart_count += 1;
    }

    fn running(&self) -> bool {
        matches!(self.state, State::Running { .. })
    }

    fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "image": self.image,
            "imageID": "",
            "containerID": format!("byok8s://{}-{}", self.name, self.restart_count),
            "state": self.state.to_json(),
            "lastState": self.last_state.as_ref().map(State::to_json).unwrap_or_else(|| json!({})),
            "ready": self.running(),
            "started": self.running(),
            "restartCount": self.restart_count,
        })
    }
}

/// Everything the kubelet reports about a pod.
#[derive(Debug, Clone, Default)]
pub struct PodState {
    pub phase: String,
    pub start_time: Option<String>,
    pub sandbox_ready: bool,
    pub init: Vec<ContainerStatus>,
    pub containers: Vec<ContainerStatus>,
    pub reason: Option<String>,
    pub message: Option<String>,
    /// When each condition last changed, so lastTransitionTime only moves on a change.
    transitions: HashMap<&'static str, (bool, String)>,
}

impl PodState {
    pub fn new(init: Vec<ContainerStatus>, containers: Vec<ContainerStatus>) -> Self {
        Self {
            phase: "Pending".into(),
            init,
            containers,
            ..Self::default()
        }
    }

    pub fn initialized(&self) -> bool {
        self.init.iter().all(|c| c.state.exit_code() == Some(0))
    }

    fn all_running(&self) -> bool {
        self.containers.iter().all(ContainerStatus::running)
    }

    /// The status JSON, with conditions whose transition times are kept across calls.
    pub fn render(&mut self, scheduled_at: &str) -> Value {
        let finished = matches!(self.phase.as_str(), "Succeeded" | "Failed");
        let conditions = [
            (
                "PodReadyToStartContainers",
                self.sandbox_ready && !finished,
                None,
            ),
            (
                "Initialized",
                self.initialized(),
                Some((
                    "ContainersNotInitialized",
                    unready(&self.init, |c| c.state.exit_code() == Some(0)),
                )),
            ),
            (
                "Ready",
                self.all_running(),
                Some(ready_reason(finished, &self.containers)),
            ),
            (
                "ContainersReady",
                self.all_running(),
                Some(ready_reason(finished, &self.containers)),
            ),
        ];
        let mut rendered = vec![
            json!({"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": scheduled_at}),
        ];
        for (kind, status, why) in conditions {
            rendered.push(self.condition(kind, status, if status { None } else { why }));
        }
        let mut status = json!({
            "phase": self.phase,
            "conditions": rendered,
            "hostIP": "127.0.0.1",
            "hostIPs": [{"ip": "127.0.0.1"}],
            "podIP": "127.0.0.1",
            "podIPs": [{"ip": "127.0.0.1"}],
            "qosClass": "BestEffort",
            "containerStatuses": self.containers.iter().map(ContainerStatus::to_json).collect::<Vec<_>>(),
        });
        if !self.init.is_empty() {
            status["initContainerStatuses"] =
                self.init.iter().map(ContainerStatus::to_json).collect();
        }
        if let Some(start) = &self.start_time {
            status["startTime"] = json!(start);
        }
        for (field, value) in [("reason", &self.reason), ("message", &self.message)] {
            if let Some(value) = value {
                status[field] = json!(value);
            }
        }
        status
    }

    fn condition(
        &mut self,
        kind: &'static str,
        status: bool,
        why: Option<(&str, String)>,
    ) -> Value {
        let entry = self
            .transitions
            .entry(kind)
            .or_insert_with(|| (status, clock::now_seconds()));
        if entry.0 != status {
            *entry = (status, clock::now_seconds());
        }
        let mut condition = json!({
            "type": kind, "status": if status { "True" } else { "False" },
            "lastProbeTime": null, "lastTransitionTime": entry.1,
        });
        if let Some((reason, message)) = why {
            condition["reason"] = json!(reason);
            if !message.is_empty() {
                condition["message"] = json!(message);
            }
        }
        condition
    }
}

fn ready_reason(finished: bool, containers: &[ContainerStatus]) -> (&'static str, String) {
    if finished {
        ("PodCompleted", String::new())
    } else {
        (
            "ContainersNotReady",
            unready(containers, ContainerStatus::running),
        )
    }
}

fn unready(containers: &[ContainerStatus], ok: impl Fn(&ContainerStatus) -> bool) -> String {
    let names: Vec<&str> = containers
        .iter()
        .filter(|c| !ok(c))
        .map(|c| c.name.as_str())
        .collect();
    if names.is_empty() {
        String::new()
    } else {
        format!("containers with unready status: [{}]", names.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> PodState {
        PodState::new(
            vec![],
            vec![ContainerStatus::new(&json!({"name": "c", "image": "i"}))],
        )
    }

    #[test]
    fn a_new_pod_is_pending_and_its_container_creating() {
        let mut pod = state();
        let status = pod.render("t");
        assert_eq!(status["phase"], "Pending");
        assert_eq!(
            status["containerStatuses"][0]["state"]["waiting"]["reason"],
            "ContainerCreating"
        );
        let ready = status["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == "Ready")
            .unwrap();
        assert_eq!(ready["status"], "False");
        assert_eq!(ready["reason"], "ContainersNotReady");
    }

    #[test]
    fn a_restart_keeps_the_previous_state_as_last_state() {
        let mut container = ContainerStatus::new(&json!({"name": "c", "image": "i"}));
        container.state = State::Terminated {
            exit_code: 1,
            reason: "Error".into(),
            started_at: "a".into(),
            finished_at: "b".into(),
        };
        container.restart();
        let rendered = container.to_json();
        assert_eq!(rendered["restartCount"], 1);
        assert_eq!(rendered["lastState"]["terminated"]["exitCode"], 1);
        assert_eq!(rendered["state"]["waiting"]["reason"], "ContainerCreating");
    }
}
