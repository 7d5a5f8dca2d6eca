//! The watchdog of a run whose driver waits for a rule Job that has already ended.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::{DriverEnd, Shared, locked};

/// Fails a run whose driver has said nothing for `limit` while Snakemake counts a job as
/// running that runs as a rule Job, and no rule Job of the run is active: Snakemake's executor
/// stops tracking a job after one failed status call and then waits for it forever.
///
/// Local jobs (localrules, which run in the driver) and work between jobs (a DAG update) are
/// never taken for that, however long they stay quiet. With several rule Jobs at once, a lost
/// one is noticed only once the others have ended.
pub async fn watchdog_task(
    shared: Arc<Shared>,
    limit: Duration,
    ended: watch::Sender<Option<DriverEnd>>,
) {
    let mut tick = tokio::time::interval(
        limit
            .min(Duration::from_secs(5))
            .max(Duration::from_millis(100)),
    );
    loop {
        tick.tick().await;
        if stalled(&shared, limit) {
            let reason = format!(
                "Snakemake counted a job as running whose rule Job had ended, and reported \
                 nothing for {}s; it has likely lost track of it (a failed status check), so the \
                 run was stopped",
                limit.as_secs()
            );
            ended.send_replace(Some(DriverEnd::Stalled(reason)));
            return;
        }
    }
}

fn stalled(shared: &Shared, limit: Duration) -> bool {
    let listed = *locked(&shared.rule_jobs_listed);
    let active = !locked(&shared.active_rule_jobs).is_empty();
    let waiting = locked(&shared.snakemake_jobs).waits_for_rule_jobs();
    let idle = locked(&shared.heard).elapsed();
    listed && !active && waiting && idle >= limit
}
