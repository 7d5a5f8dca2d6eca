//! Giving up on a run whose driver or rule pod cannot start: an image that cannot be pulled,
//! a missing Secret, no node that fits. Kubernetes retries these forever and Snakemake waits
//! for them forever, so without a limit such a run would stay pending for good.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use tokio::sync::watch;
use tokio::time::Instant;

use super::{DriverEnd, Shared, locked};
use crate::backend::kubernetes::pods;

/// The run's pods that are stuck now, and since when byok8sd has seen them so.
#[derive(Default)]
pub struct StuckPods {
    pods: HashMap<String, Stuck>,
}

struct Stuck {
    since: Instant,
    source: String,
    state: String,
}

impl StuckPods {
    /// Takes in the pod's current state. Only leaving every stuck state resets its clock: an
    /// image pull alternates between ErrImagePull and ImagePullBackOff.
    pub fn observe(&mut self, pod: &Pod, source: &str, now: Instant) {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let Some(state) = pods::stuck_state(pod) else {
            self.pods.remove(&name);
            return;
        };
        let stuck = self.pods.entry(name).or_insert_with(|| Stuck {
            since: now,
            source: source.to_owned(),
            state: String::new(),
        });
        stuck.state = state;
    }

    pub fn forget(&mut self, pod: &str) {
        self.pods.remove(pod);
    }

    /// Why the run must stop, once some pod has been stuck for `limit`.
    pub fn overdue(&self, limit: Duration, now: Instant) -> Option<String> {
        // The one stuck longest, so that the reason does not change from one look to the next.
        let (name, stuck) = self
            .pods
            .iter()
            .filter(|(_, stuck)| now.duration_since(stuck.since) >= limit)
            .min_by_key(|(name, stuck)| (stuck.since, *name))?;
        Some(format!(
            "pod/{name} ({}) stayed {} for {}s, so the run was stopped",
            stuck.source,
            stuck.state,
            limit.as_secs()
        ))
    }
}

/// Ends the run once one of its pods has been stuck for `limit`.
pub async fn stuck_task(
    shared: Arc<Shared>,
    limit: Duration,
    ended: watch::Sender<Option<DriverEnd>>,
) {
    let mut tick =
        tokio::time::interval(limit.clamp(Duration::from_millis(100), Duration::from_secs(5)));
    loop {
        tick.tick().await;
        let overdue = locked(&shared.stuck_pods).overdue(limit, Instant::now());
        if let Some(reason) = overdue {
            ended.send_replace(Some(DriverEnd::Stalled(reason)));
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiting(reason: &str) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": { "name": "byok8s-run-1-x" },
            "status": { "phase": "Pending", "containerStatuses": [{
                "name": "driver", "image": "i", "imageID": "", "ready": false, "restartCount": 0,
                "state": { "waiting": { "reason": reason, "message": "m" } },
            }]},
        }))
        .unwrap()
    }

    #[test]
    fn a_pod_stuck_for_the_limit_names_itself_and_its_state() {
        let mut stuck = StuckPods::default();
        let (start, limit) = (Instant::now(), Duration::from_secs(600));
        let at = |seconds| start + Duration::from_secs(seconds);
        stuck.observe(&waiting("ErrImagePull"), "driver", at(0));
        stuck.observe(&waiting("ImagePullBackOff"), "driver", at(300));
        assert_eq!(stuck.overdue(limit, at(599)), None);

        let reason = stuck.overdue(limit, at(600)).expect("overdue");

        assert_eq!(
            reason,
            "pod/byok8s-run-1-x (driver) stayed ImagePullBackOff (container driver: m) for \
             600s, so the run was stopped"
        );
    }

    #[test]
    fn a_pod_that_starts_resets_its_clock() {
        let mut stuck = StuckPods::default();
        let (start, limit) = (Instant::now(), Duration::from_secs(600));
        let at = |seconds| start + Duration::from_secs(seconds);
        stuck.observe(&waiting("CreateContainerConfigError"), "rule_a", at(0));
        stuck.observe(&waiting("ContainerCreating"), "rule_a", at(500));
        stuck.observe(&waiting("CreateContainerConfigError"), "rule_a", at(501));
        assert_eq!(stuck.overdue(limit, at(1000)), None);

        stuck.forget("byok8s-run-1-x");

        assert_eq!(stuck.overdue(limit, at(2000)), None);
    }
}
