//! Running a reconcile function whenever the store changes, and at least once a second.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::cluster::Cluster;

/// A full resync at least this often, in case a wake-up was coalesced away.
const RESYNC: Duration = Duration::from_secs(1);

/// Calls `reconcile` after every change of the store until the runtime shuts down.
pub async fn run<F, Fut>(cluster: Arc<Cluster>, mut reconcile: F)
where
    F: FnMut(Arc<Cluster>) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut ticks = cluster.store.ticks();
    loop {
        reconcile(cluster.clone()).await;
        // Either a change or the resync timer; a closed channel only happens at shutdown.
        let _ = tokio::time::timeout(RESYNC, ticks.changed()).await;
    }
}
