//! Conversions between the daemon's records and the gRPC messages.

use byok8s_proto::rules::MAX_LIST_LIMIT;
use byok8s_proto::v1::{ListRunsRequest, Progress, Run, RunPhase};

use crate::run::RunRecord;
use crate::store::RunFilter;
use crate::timestamps::to_timestamp;

/// How many runs a listing returns when the caller does not say.
const DEFAULT_LIST_LIMIT: usize = 100;

pub fn run_to_proto(run: RunRecord) -> Run {
    Run {
        id: run.id,
        user: run.user,
        phase: run.phase as i32,
        reason: run.reason,
        workflow: run.spec.workflow,
        params: run.spec.params,
        targets: run.spec.targets,
        dry_run: run.spec.dry_run,
        force: run.spec.force,
        labels: run.spec.labels.into_iter().collect(),
        idempotency_key: run.idempotency_key.unwrap_or_default(),
        backend: run.backend,
        namespace: run.spec.namespace,
        created_at: Some(to_timestamp(run.created_at)),
        started_at: run.started_at.map(to_timestamp),
        finished_at: run.finished_at.map(to_timestamp),
        // Until Snakemake has counted the jobs there is no progress to show, rather than 0/0.
        progress: (run.progress_total > 0).then_some(Progress {
            done: run.progress_done,
            total: run.progress_total,
        }),
        last_seq: run.last_seq,
        details: run.details.into_iter().collect(),
    }
}

pub fn list_filter(request: ListRunsRequest) -> RunFilter {
    let limit = match request.limit as usize {
        0 => DEFAULT_LIST_LIMIT,
        n => n.min(MAX_LIST_LIMIT),
    };
    let phases = request
        .phases
        .into_iter()
        .filter_map(|p| RunPhase::try_from(p).ok())
        .collect();
    RunFilter {
        limit,
        phases,
        labels: request.labels.into_iter().collect(),
        with_params: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_limits_default_and_cap() {
        assert_eq!(
            list_filter(ListRunsRequest::default()).limit,
            DEFAULT_LIST_LIMIT
        );
        let huge = ListRunsRequest {
            limit: 1_000_000,
            ..Default::default()
        };
        assert_eq!(list_filter(huge).limit, MAX_LIST_LIMIT);
    }

    #[test]
    fn unknown_phases_in_a_listing_are_dropped() {
        let request = ListRunsRequest {
            phases: vec![1, 99],
            ..Default::default()
        };
        assert_eq!(list_filter(request).phases, [RunPhase::Queued]);
    }
}
