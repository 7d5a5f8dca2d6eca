//! The object store: every object under one global, increasing resourceVersion, with the
//! change history watches replay and a broadcast of live changes.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use serde_json::{Value, json};
use tokio::sync::{broadcast, watch};

use crate::clock;
use crate::object;
use crate::resources::{NAMESPACES, ResourceKind};
use crate::status::ApiError;
use crate::watch::{Change, ChangeKind, History};

/// How many live changes a watcher may fall behind before its stream is ended (it then
/// resumes from its last resourceVersion, as a client does after any watch ends).
const LIVE_BUFFER: usize = 8192;

/// Where an object lives: its type, namespace ("" for cluster-scoped) and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    pub resource: &'static str,
    pub namespace: String,
    pub name: String,
}

impl Key {
    pub fn new(kind: &ResourceKind, namespace: &str, name: &str) -> Self {
        let namespace = if kind.namespaced { namespace } else { "" };
        Self {
            resource: kind.plural,
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    pub fn of(kind: &ResourceKind, object: &Value) -> Self {
        Self::new(kind, object::namespace(object), object::name(object))
    }
}

/// What an update did.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The object changed and is stored at a new resourceVersion.
    Stored(Value),
    /// The update made no difference; nothing was written.
    Unchanged(Value),
    /// The object was being deleted and nothing holds it any more: it is gone.
    Removed(Value),
}

impl Outcome {
    pub fn object(&self) -> &Value {
        match self {
            Outcome::Stored(v) | Outcome::Unchanged(v) | Outcome::Removed(v) => v,
        }
    }
}

/// A watch's starting point: the changes to replay, then live ones.
pub struct Subscription {
    pub backlog: Vec<Arc<Change>>,
    pub live: broadcast::Receiver<Arc<Change>>,
    pub revision: u64,
}

pub struct Store {
    state: Mutex<State>,
    live: broadcast::Sender<Arc<Change>>,
    ticks: watch::Sender<u64>,
}

#[derive(Default)]
struct State {
    revision: u64,
    objects: BTreeMap<Key, Value>,
    history: History,
}

impl Default for Store {
    fn default() -> Self {
        Self {
            state: Mutex::default(),
            live: broadcast::channel(LIVE_BUFFER).0,
            ticks: watch::channel(0).0,
        }
    }
}

impl Store {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stores a new object, stamping its resourceVersion; uid and defaults are the caller's.
    pub fn create(
        &self,
        kind: &'static ResourceKind,
        mut object: Value,
    ) -> Result<Value, ApiError> {
        let mut state = self.lock();
        let key = Key::of(kind, &object);
        if kind.namespaced {
            check_namespace(&state, &key.namespace, kind, &key.name)?;
        }
        if state.objects.contains_key(&key) {
            return Err(ApiError::already_exists(kind, &key.name));
        }
        let revision = state.next_revision(&mut object);
        state.objects.insert(key, object.clone());
        self.publish(
            &mut state,
            ChangeKind::Added,
            kind.plural,
            revision,
            &object,
            None,
        );
        Ok(object)
    }

    pub fn get(&self, kind: &ResourceKind, namespace: &str, name: &str) -> Option<Value> {
        self.lock()
            .objects
            .get(&Key::new(kind, namespace, name))
            .cloned()
    }

    /// Objects of a type, in one namespace or all, with the revision the list reflects.
    pub fn list(&self, kind: &ResourceKind, namespace: Option<&str>) -> (Vec<Value>, u64) {
        let state = self.lock();
        let items = state
            .objects
            .iter()
            .filter(|(key, _)| key.resource == kind.plural)
            .filter(|(key, _)| namespace.is_none_or(|ns| key.namespace == ns))
            .map(|(_, object)| object.clone())
            .collect();
        (items, state.revision)
    }

    /// Every object of every type, for controllers that look across types.
    pub fn snapshot(&self) -> Vec<(Key, Value)> {
        self.lock()
            .objects
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Replaces an object with what `change` makes of it, under the store's lock.
    ///
    /// An object being deleted whose finalizers are all gone and whose grace period is over
    /// is removed, as the API server does.
    pub fn update<F>(
        &self,
        kind: &'static ResourceKind,
        namespace: &str,
        name: &str,
        change: F,
    ) -> Result<Outcome, ApiError>
    where
        F: FnOnce(&Value) -> Result<Value, ApiError>,
    {
        let mut state = self.lock();
        let key = Key::new(kind, namespace, name);
        let current = state
            .objects
            .get(&key)
            .ok_or_else(|| ApiError::not_found(kind, name))?;
        let mut updated = change(current)?;
        if updated == *current {
            return Ok(Outcome::Unchanged(updated));
        }
        let previous = state.objects.remove(&key);
        let revision = state.next_revision(&mut updated);
        if is_releasable(&updated) {
            self.publish(
                &mut state,
                ChangeKind::Deleted,
                kind.plural,
                revision,
                &updated,
                None,
            );
            return Ok(Outcome::Removed(updated));
        }
        state.objects.insert(key, updated.clone());
        self.publish(
            &mut state,
            ChangeKind::Modified,
            kind.plural,
            revision,
            &updated,
            previous,
        );
        Ok(Outcome::Stored(updated))
    }

    /// The latest resourceVersion.
    pub fn revision(&self) -> u64 {
        self.lock().revision
    }

    /// Starts a watch of `kind`: from a resourceVersion, or (None) with every current object
    /// as ADDED.
    pub fn subscribe(
        &self,
        kind: &ResourceKind,
        since: Option<u64>,
    ) -> Result<Subscription, ApiError> {
        let state = self.lock();
        let live = self.live.subscribe();
        let backlog = match since {
            Some(revision) => state.history.since(kind.plural, revision)?,
            None => state
                .objects
                .iter()
                .filter(|(key, _)| key.resource == kind.plural)
                .map(|(_, object)| Arc::new(synthetic_added(kind, object)))
                .collect(),
        };
        Ok(Subscription {
            backlog,
            live,
            revision: state.revision,
        })
    }

    /// Forgets the change history, so every older resourceVersion gets 410 Gone.
    pub fn compact(&self) {
        let mut state = self.lock();
        let revision = state.revision;
        state.history.compact(revision);
    }

    /// A receiver that wakes whenever anything changes, for controllers.
    pub fn ticks(&self) -> watch::Receiver<u64> {
        self.ticks.subscribe()
    }

    fn publish(
        &self,
        state: &mut State,
        kind: ChangeKind,
        resource: &'static str,
        revision: u64,
        object: &Value,
        previous: Option<Value>,
    ) {
        let change = Arc::new(Change {
            kind,
            resource,
            revision,
            object: object.clone(),
            previous,
        });
        state.history.push(change.clone());
        // No receivers is fine: nobody is watching.
        let _ = self.live.send(change);
        self.ticks.send_replace(revision);
    }
}

impl State {
    fn next_revision(&mut self, object: &mut Value) -> u64 {
        self.revision += 1;
        object::metadata_mut(object)
            .insert("resourceVersion".into(), json!(self.revision.to_string()));
        self.revision
    }
}

fn check_namespace(
    state: &State,
    namespace: &str,
    kind: &ResourceKind,
    name: &str,
) -> Result<(), ApiError> {
    let key = Key::new(&NAMESPACES, "", namespace);
    let found = state
        .objects
        .get(&key)
        .ok_or_else(|| ApiError::namespace_not_found(namespace))?;
    if object::is_deleting(found) {
        let why = format!(
            "unable to create new content in namespace {namespace} because it is being terminated"
        );
        return Err(ApiError::forbidden(kind, name, &why));
    }
    Ok(())
}

/// True once a deleted object has no finalizers (nor, for a namespace, spec finalizers) and no
/// grace period left.
fn is_releasable(object: &Value) -> bool {
    let grace = object
        .pointer("/metadata/deletionGracePeriodSeconds")
        .and_then(Value::as_i64);
    let spec_finalizers = object.pointer("/spec/finalizers").and_then(Value::as_array);
    object::is_deleting(object)
        && object::finalizers(object).is_empty()
        && spec_finalizers.is_none_or(Vec::is_empty)
        && grace.unwrap_or(0) == 0
}

fn synthetic_added(kind: &ResourceKind, object: &Value) -> Change {
    let revision = object::resource_version(object).parse().unwrap_or(0);
    Change {
        kind: ChangeKind::Added,
        resource: kind.plural,
        revision,
        object: object.clone(),
        previous: None,
    }
}

/// Marks `object` deleted now with no grace period: the store removes it unless finalizers hold it.
pub fn mark_deleted(object: &mut Value) {
    let metadata = object::metadata_mut(object);
    metadata
        .entry("deletionTimestamp")
        .or_insert_with(|| json!(clock::now_seconds()));
    metadata.insert("deletionGracePeriodSeconds".into(), json!(0));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{PODS, SECRETS};

    fn store_with_default_namespace() -> Store {
        let store = Store::default();
        store
            .create(&NAMESPACES, json!({"metadata": {"name": "default"}}))
            .unwrap();
        store
    }

    fn secret(name: &str) -> Value {
        json!({"metadata": {"name": name, "namespace": "default"}})
    }

    #[test]
    fn every_write_takes_the_next_resource_version() {
        let store = store_with_default_namespace();
        let a = store.create(&SECRETS, secret("a")).unwrap();
        let b = store.create(&SECRETS, secret("b")).unwrap();
        assert_eq!(object::resource_version(&a), "2");
        assert_eq!(object::resource_version(&b), "3");
        assert_eq!(store.list(&SECRETS, Some("default")).1, 3);
    }

    #[test]
    fn creating_twice_is_already_exists() {
        let store = store_with_default_namespace();
        store.create(&SECRETS, secret("a")).unwrap();
        assert_eq!(store.create(&SECRETS, secret("a")).unwrap_err().code, 409);
    }

    #[test]
    fn a_missing_namespace_is_not_found() {
        let store = Store::default();
        let error = store.create(&SECRETS, secret("a")).unwrap_err();
        assert_eq!(error.message, "namespaces \"default\" not found");
    }

    #[test]
    fn unchanged_updates_keep_the_resource_version() {
        let store = store_with_default_namespace();
        store.create(&SECRETS, secret("a")).unwrap();
        let outcome = store
            .update(&SECRETS, "default", "a", |v| Ok(v.clone()))
            .unwrap();
        assert!(matches!(outcome, Outcome::Unchanged(_)));
        assert_eq!(store.revision(), 2);
    }

    #[test]
    fn finalizers_hold_a_deleted_object_until_removed() {
        let store = store_with_default_namespace();
        let mut pod = secret("p");
        object::set_finalizers(&mut pod, &["x.io/hold".into()]);
        store.create(&PODS, pod).unwrap();
        let held = store.update(&PODS, "default", "p", |v| {
            let mut v = v.clone();
            mark_deleted(&mut v);
            Ok(v)
        });
        assert!(matches!(held.unwrap(), Outcome::Stored(_)));
        let released = store.update(&PODS, "default", "p", |v| {
            let mut v = v.clone();
            object::set_finalizers(&mut v, &[]);
            Ok(v)
        });
        assert!(matches!(released.unwrap(), Outcome::Removed(_)));
        assert!(store.get(&PODS, "default", "p").is_none());
    }

    #[test]
    fn subscriptions_replay_history_after_a_revision() {
        let store = store_with_default_namespace();
        store.create(&SECRETS, secret("a")).unwrap();
        store.create(&SECRETS, secret("b")).unwrap();
        let subscription = store.subscribe(&SECRETS, Some(2)).unwrap();
        assert_eq!(subscription.backlog.len(), 1);
        assert_eq!(object::name(&subscription.backlog[0].object), "b");
        let fresh = store.subscribe(&SECRETS, None).unwrap();
        assert_eq!(fresh.backlog.len(), 2);
    }

    #[test]
    fn compaction_makes_old_revisions_gone() {
        let store = store_with_default_namespace();
        store.create(&SECRETS, secret("a")).unwrap();
        store.compact();
        assert_eq!(store.subscribe(&SECRETS, Some(1)).err().unwrap().code, 410);
        assert!(store.subscribe(&SECRETS, Some(2)).is_ok());
    }
}
