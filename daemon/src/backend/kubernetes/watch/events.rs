//! Watching Kubernetes Events in the runs' namespace for those about the run's objects.

use std::sync::Arc;

use byok8s_proto::v1::run_event::Kind;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Event as KubeEvent;
use kube::Api;
use kube::runtime::watcher::{self, Event};

use super::{Shared, event_stream, locked};

pub async fn watch_events(shared: Arc<Shared>) {
    let api: Api<KubeEvent> = Api::namespaced(shared.client.clone(), &shared.namespace);
    let mut stream = std::pin::pin!(event_stream(api, watcher::Config::default()));
    while let Some(event) = stream.next().await {
        let (Event::Apply(event) | Event::InitApply(event)) = event else {
            continue;
        };
        let accepted = locked(&shared.event_filter).accept(&event);
        if let Some(cluster) = accepted {
            shared.sink.emit(Kind::Cluster(cluster)).await;
        }
    }
}
