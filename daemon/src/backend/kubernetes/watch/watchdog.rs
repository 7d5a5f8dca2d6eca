//! The watchdog of a run whose driver waits for rule Jobs that have all ended.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::{DriverEnd, Shared, locked};

/// Fails a run whose rule Jobs have all ended while the driver has said nothing for `limit`:
/// Snakemake's executor stops tracking a job after one failed status call and then waits
/// forever.
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
        let idle = locked(&shared.heard).elapsed();
        let seen = !locked(&shared.rule_jobs).is_empty();
        let active = !locked(&shared.active_rule_jobs).is_empty();
        if seen && !active && idle >= limit {
            let reason = format!(
                "every rule Job had ended but Snakemake reported nothing for {}s; it has likely \
                 lost track of a job (a failed status check), so the run was stopped",
                limit.as_secs()
            );
            ended.send_replace(Some(DriverEnd::Stalled(reason)));
            return;
        }
    }
}
