//! Kubernetes Events about the run's objects, as run events. Warnings say why a pod is not
//! doing what it should (failed scheduling, image pulls, back-offs, failed mounts), which its
//! status often does not; `Killing` says why a container stopped.

use std::collections::{HashMap, HashSet};

use byok8s_proto::v1::ClusterEvent;
use k8s_openapi::api::core::v1::Event as KubeEvent;

/// Normal (not Warning) reasons worth reporting too.
const NOTABLE: &[&str] = &["Killing", "Preempted", "Evicted"];

/// The run's objects by name ("driver" or a rule), and the Events already reported.
#[derive(Default)]
pub struct EventFilter {
    objects: HashMap<String, String>,
    reported: HashSet<(String, i32)>,
}

impl EventFilter {
    /// From now on, Events about `name` are the run's, reported as coming from `source`.
    pub fn watch_object(&mut self, name: &str, source: &str) {
        self.objects
            .entry(name.to_owned())
            .or_insert_with(|| source.to_owned());
    }

    /// The run event for a Kubernetes Event, unless it is about another object, routine, or
    /// reported already (an Event is updated in place as it repeats; its count tells).
    pub fn accept(&mut self, event: &KubeEvent) -> Option<ClusterEvent> {
        let name = event.involved_object.name.as_deref()?;
        let source = self.objects.get(name)?.clone();
        let warning = event.type_.as_deref() == Some("Warning");
        let reason = event.reason.clone().unwrap_or_default();
        if !warning && !NOTABLE.contains(&reason.as_str()) {
            return None;
        }
        let uid = event.metadata.uid.clone().unwrap_or_default();
        // Events written through events.k8s.io count their repeats in `series`.
        let count = event
            .series
            .as_ref()
            .and_then(|s| s.count)
            .or(event.count)
            .unwrap_or(1);
        if !self.reported.insert((uid, count)) {
            return None;
        }
        let kind = event
            .involved_object
            .kind
            .as_deref()
            .unwrap_or("object")
            .to_lowercase();
        Some(ClusterEvent {
            object: format!("{kind}/{name}"),
            reason,
            message: event.message.clone().unwrap_or_default(),
            warning,
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(name: &str, kind: &str, reason: &str, count: i32) -> KubeEvent {
        serde_json::from_value(serde_json::json!({
            "metadata": { "name": "e", "uid": "u-1" },
            "involvedObject": { "kind": "Pod", "name": name },
            "type": kind, "reason": reason, "message": "m", "count": count,
        }))
        .unwrap()
    }

    #[test]
    fn warnings_about_the_runs_objects_are_reported_with_their_source() {
        let mut filter = EventFilter::default();
        filter.watch_object("p-1", "zeta_a1");
        let reported = filter
            .accept(&event("p-1", "Warning", "FailedMount", 1))
            .unwrap();
        assert_eq!(
            (reported.object.as_str(), reported.source.as_str()),
            ("pod/p-1", "zeta_a1")
        );
        assert!(reported.warning);
    }

    #[test]
    fn other_objects_and_routine_events_are_not() {
        let mut filter = EventFilter::default();
        filter.watch_object("p-1", "driver");
        assert!(
            filter
                .accept(&event("p-2", "Warning", "FailedMount", 1))
                .is_none()
        );
        assert!(
            filter
                .accept(&event("p-1", "Normal", "Scheduled", 1))
                .is_none()
        );
        assert!(
            filter
                .accept(&event("p-1", "Normal", "Killing", 1))
                .is_some()
        );
    }

    #[test]
    fn a_repeated_event_is_reported_again_only_when_its_count_grows() {
        let mut filter = EventFilter::default();
        filter.watch_object("p-1", "driver");
        assert!(
            filter
                .accept(&event("p-1", "Warning", "BackOff", 1))
                .is_some()
        );
        assert!(
            filter
                .accept(&event("p-1", "Warning", "BackOff", 1))
                .is_none()
        );
        assert!(
            filter
                .accept(&event("p-1", "Warning", "BackOff", 2))
                .is_some()
        );
    }
}
