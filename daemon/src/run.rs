//! A run as the daemon keeps it: what was asked for and where it stands.

use std::collections::BTreeMap;
use std::time::SystemTime;

use byok8s_proto::v1::RunPhase;
use serde::{Deserialize, Serialize};

/// What a validated submission asks for; stored with the run and never changed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunSpec {
    pub workflow: String,
    pub params: String,
    /// The params object, passed to Snakemake as its config. Listings leave it out.
    #[serde(default)]
    pub config: serde_json::Map<String, serde_json::Value>,
    pub targets: Vec<String>,
    /// Path of the Snakefile inside the bundle.
    pub snakefile: String,
    pub dry_run: bool,
    pub force: bool,
    pub labels: BTreeMap<String, String>,
    pub namespace: String,
}

/// One row of the run table.
#[derive(Clone, Debug, PartialEq)]
pub struct RunRecord {
    pub id: String,
    pub user: String,
    pub spec: RunSpec,
    pub idempotency_key: Option<String>,
    /// Fingerprint of what was submitted, so that a reused idempotency key with different
    /// inputs is caught; empty for runs stored before fingerprints existed.
    pub digest: String,
    pub backend: String,
    pub phase: RunPhase,
    pub reason: String,
    pub created_at: SystemTime,
    pub started_at: Option<SystemTime>,
    pub finished_at: Option<SystemTime>,
    pub progress_done: u64,
    pub progress_total: u64,
    pub last_seq: u64,
    pub details: BTreeMap<String, String>,
}

impl RunRecord {
    /// A run just accepted: queued, with nothing recorded about it yet.
    pub fn queued(id: String, user: &str, spec: RunSpec, backend: &str) -> RunRecord {
        RunRecord {
            id,
            user: user.to_owned(),
            spec,
            idempotency_key: None,
            digest: String::new(),
            backend: backend.to_owned(),
            phase: RunPhase::Queued,
            reason: String::new(),
            created_at: SystemTime::now(),
            started_at: None,
            finished_at: None,
            progress_done: 0,
            progress_total: 0,
            last_seq: 0,
            details: BTreeMap::new(),
        }
    }
}

/// True for phases a run never leaves.
pub fn is_terminal(phase: RunPhase) -> bool {
    matches!(
        phase,
        RunPhase::Succeeded | RunPhase::Failed | RunPhase::Cancelled | RunPhase::Interrupted
    )
}

/// A new run id: sortable by creation time and a valid Kubernetes name.
pub fn new_run_id() -> String {
    format!("run-{}", ulid::Ulid::new().to_string().to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_are_valid_kubernetes_names() {
        let id = new_run_id();
        assert!(id.len() <= 63);
        assert!(id.starts_with("run-"));
        assert!(
            id.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        );
    }

    #[test]
    fn only_finished_phases_are_terminal() {
        assert!(!is_terminal(RunPhase::Queued));
        assert!(!is_terminal(RunPhase::Running));
        assert!(is_terminal(RunPhase::Succeeded));
        assert!(is_terminal(RunPhase::Interrupted));
    }
}
