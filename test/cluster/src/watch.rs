//! Watch semantics: the history window of changes, replay from a resourceVersion, 410 Gone, and
//! how a change looks to a watcher with selectors.

use std::collections::VecDeque;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::selectors::Filter;
use crate::status::ApiError;

/// How many changes a watch can replay; older resourceVersions get 410 Gone, as after an etcd
/// compaction on a real cluster.
pub const HISTORY_LIMIT: usize = 10_000;

/// What happened to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Added,
    Modified,
    Deleted,
}

/// One stored change, at the resourceVersion it created.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub kind: ChangeKind,
    pub resource: &'static str,
    pub revision: u64,
    pub object: Value,
    /// The object before a modification, so selector watchers see objects enter and leave.
    pub previous: Option<Value>,
}

/// The window of recent changes kept for watches that resume from a resourceVersion.
#[derive(Debug, Default)]
pub struct History {
    changes: VecDeque<Arc<Change>>,
    /// Changes at or below this revision are gone.
    compacted: u64,
}

impl History {
    pub fn push(&mut self, change: Arc<Change>) {
        if self.changes.len() == HISTORY_LIMIT
            && let Some(dropped) = self.changes.pop_front()
        {
            self.compacted = dropped.revision;
        }
        self.changes.push_back(change);
    }

    /// Every change of `resource` after `revision`, or 410 Gone if some were compacted away.
    pub fn since(&self, resource: &str, revision: u64) -> Result<Vec<Arc<Change>>, ApiError> {
        if revision < self.compacted {
            return Err(ApiError::expired(revision, self.compacted));
        }
        let changes = self
            .changes
            .iter()
            .filter(|c| c.revision > revision && c.resource == resource);
        Ok(changes.cloned().collect())
    }

    /// Forgets every change up to `revision`, as a compaction does.
    pub fn compact(&mut self, revision: u64) {
        self.changes.retain(|c| c.revision > revision);
        self.compacted = self.compacted.max(revision);
    }
}

/// The watch event type for a change as seen through `filter`, or None if the watcher
/// should not see it. An object that stops matching is DELETED for that watcher and one
/// that starts matching is ADDED, as the apiserver's watch cache reports it.
pub fn event_type(change: &Change, filter: &Filter) -> Option<&'static str> {
    let now = filter.matches(&change.object);
    let before = change.previous.as_ref().is_some_and(|p| filter.matches(p));
    match change.kind {
        ChangeKind::Added => now.then_some("ADDED"),
        ChangeKind::Deleted => now.then_some("DELETED"),
        ChangeKind::Modified => match (before, now) {
            (true, true) => Some("MODIFIED"),
            (false, true) => Some("ADDED"),
            (true, false) => Some("DELETED"),
            (false, false) => None,
        },
    }
}

/// One line of a watch stream.
pub fn event_line(event_type: &str, object: &Value) -> Vec<u8> {
    let mut line = serde_json::to_vec(&json!({"type": event_type, "object": object}))
        .expect("JSON values always serialize");
    line.push(b'\n');
    line
}

/// A BOOKMARK object: only the kind and the resourceVersion the watcher has reached.
pub fn bookmark(kind: &str, api_version: &str, revision: u64, initial_events_end: bool) -> Value {
    let mut object = json!({
        "kind": kind,
        "apiVersion": api_version,
        "metadata": {"resourceVersion": revision.to_string()},
    });
    if initial_events_end {
        object["metadata"]["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    object
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::selectors::LabelSelector;

    fn change(
        kind: ChangeKind,
        revision: u64,
        labels: Value,
        previous: Option<Value>,
    ) -> Arc<Change> {
        let object = json!({"metadata": {"labels": labels}});
        let previous = previous.map(|l| json!({"metadata": {"labels": l}}));
        Arc::new(Change {
            kind,
            resource: "pods",
            revision,
            object,
            previous,
        })
    }

    #[test]
    fn since_replays_only_later_changes_of_the_resource() {
        let mut history = History::default();
        for revision in 1..=3 {
            history.push(change(ChangeKind::Added, revision, json!({}), None));
        }
        let replayed = history.since("pods", 1).unwrap();
        assert_eq!(
            replayed.iter().map(|c| c.revision).collect::<Vec<_>>(),
            vec![2, 3]
        );
        assert!(history.since("jobs", 0).unwrap().is_empty());
    }

    #[test]
    fn compacted_revisions_are_gone() {
        let mut history = History::default();
        for revision in 1..=3 {
            history.push(change(ChangeKind::Added, revision, json!({}), None));
        }
        history.compact(3);
        let error = history.since("pods", 2).unwrap_err();
        assert_eq!((error.code, error.reason), (410, "Expired"));
        assert!(history.since("pods", 3).unwrap().is_empty());
    }

    #[test]
    fn the_window_drops_the_oldest_changes() {
        let mut history = History::default();
        for revision in 1..=(HISTORY_LIMIT as u64 + 1) {
            history.push(change(ChangeKind::Added, revision, json!({}), None));
        }
        assert!(history.since("pods", 0).is_err());
        assert_eq!(history.since("pods", 1).unwrap().len(), HISTORY_LIMIT);
    }

    #[test]
    fn objects_leaving_a_selector_are_deleted_for_the_watcher() {
        let filter = Filter {
            labels: LabelSelector::parse("a=1").unwrap(),
            ..Filter::default()
        };
        let leaving = change(
            ChangeKind::Modified,
            2,
            json!({"a": "2"}),
            Some(json!({"a": "1"})),
        );
        let entering = change(
            ChangeKind::Modified,
            3,
            json!({"a": "1"}),
            Some(json!({"a": "2"})),
        );
        let outside = change(
            ChangeKind::Modified,
            4,
            json!({"a": "3"}),
            Some(json!({"a": "2"})),
        );
        assert_eq!(event_type(&leaving, &filter), Some("DELETED"));
        assert_eq!(event_type(&entering, &filter), Some("ADDED"));
        assert_eq!(event_type(&outside, &filter), None);
    }
}
