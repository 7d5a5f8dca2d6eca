//! Watches through kube-rs: kube-runtime's watcher survives closed streams and compaction;
//! a raw watch from a compacted resourceVersion gets 410 Gone.

#![allow(
    clippy::unwrap_used,
    reason = "a panic in a test is a failed test, with a backtrace"
)]

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::{PostParams, WatchEvent, WatchParams};
use kube::runtime::watcher;
use serde_json::json;

async fn create(config_maps: &Api<ConfigMap>, name: &str) {
    let body: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": name, "labels": {"watched": "yes"}}}))
            .unwrap();
    config_maps
        .create(&PostParams::default(), &body)
        .await
        .unwrap();
}

type Events =
    futures_util::stream::BoxStream<'static, Result<watcher::Event<ConfigMap>, watcher::Error>>;

/// Reads watcher events until one shows `name`; returns the codes of watch errors seen on
/// the way (kube-runtime surfaces a 410 once, then re-lists by itself).
async fn expect(name: &str, events: &mut Events, seen: &mut BTreeSet<String>) -> Vec<u16> {
    let mut errors = Vec::new();
    while !seen.contains(name) {
        let next = tokio::time::timeout(Duration::from_secs(20), events.next())
            .await
            .expect("an event in time");
        match next.expect("the stream goes on") {
            Ok(watcher::Event::Apply(cm) | watcher::Event::InitApply(cm)) => {
                seen.insert(cm.metadata.name.unwrap());
            }
            Ok(_) => {}
            Err(watcher::Error::WatchError(status)) => errors.push(status.code),
            Err(other) => panic!("unexpected watcher error: {other}"),
        }
    }
    errors
}

#[tokio::test]
async fn a_watcher_survives_closed_watches_and_expired_versions() {
    let cluster = common::start().await;
    let config_maps: Api<ConfigMap> = Api::default_namespaced(cluster.client.clone());
    let config = watcher::Config::default().labels("watched=yes").timeout(60);
    let mut events: Events = watcher(config_maps.clone(), config).boxed();
    let mut seen = BTreeSet::new();

    create(&config_maps, "first").await;
    assert!(expect("first", &mut events, &mut seen).await.is_empty());
    cluster.harness.close_watches().await.unwrap();
    create(&config_maps, "second").await;
    assert!(expect("second", &mut events, &mut seen).await.is_empty());
    // Compact first, then end the stream: the watcher resumes from a version that is gone.
    let unlabelled: ConfigMap =
        serde_json::from_value(json!({"metadata": {"name": "unwatched"}})).unwrap();
    config_maps
        .create(&PostParams::default(), &unlabelled)
        .await
        .unwrap();
    cluster.harness.expire().await.unwrap();
    cluster.harness.close_watches().await.unwrap();
    create(&config_maps, "third").await;
    let errors = expect("third", &mut events, &mut seen).await;
    assert_eq!(errors, vec![410], "the watcher hit 410 Gone and re-listed");
}

#[tokio::test]
async fn watching_from_a_compacted_version_is_gone() {
    let cluster = common::start().await;
    let config_maps: Api<ConfigMap> = Api::default_namespaced(cluster.client.clone());
    create(&config_maps, "a").await;
    create(&config_maps, "b").await;
    cluster.harness.expire().await.unwrap();
    let mut stream = config_maps
        .watch(&WatchParams::default(), "1")
        .await
        .unwrap()
        .boxed();
    let first = tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    match first {
        WatchEvent::Error(error) => {
            assert_eq!((error.code, error.reason.as_str()), (410, "Expired"))
        }
        other => panic!("expected 410 Gone, got {other:?}"),
    }
}

#[tokio::test]
async fn watching_from_a_version_replays_later_changes_only() {
    let cluster = common::start().await;
    let config_maps: Api<ConfigMap> = Api::default_namespaced(cluster.client.clone());
    create(&config_maps, "before").await;
    let version = config_maps
        .get("before")
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    create(&config_maps, "after").await;
    let mut stream = config_maps
        .watch(&WatchParams::default().timeout(5), &version)
        .await
        .unwrap()
        .boxed();
    let first = tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    match first {
        WatchEvent::Added(cm) => assert_eq!(cm.metadata.name.as_deref(), Some("after")),
        other => panic!("expected the later object, got {other:?}"),
    }
}

#[tokio::test]
async fn bookmarks_arrive_when_asked_for() {
    let cluster = common::start().await;
    let config_maps: Api<ConfigMap> = Api::default_namespaced(cluster.client.clone());
    create(&config_maps, "x").await;
    let version = config_maps
        .get("x")
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    // kube-rs asks for bookmarks by default.
    let params = WatchParams::default().timeout(30);
    let mut stream = config_maps.watch(&params, &version).await.unwrap().boxed();
    let event = tokio::time::timeout(Duration::from_secs(15), stream.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    match event {
        WatchEvent::Bookmark(bookmark) => assert!(
            bookmark.metadata.resource_version.parse::<u64>().unwrap()
                >= version.parse::<u64>().unwrap()
        ),
        other => panic!("expected a bookmark, got {other:?}"),
    }
}
