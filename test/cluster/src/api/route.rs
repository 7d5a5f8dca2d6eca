//! Turning a request path into the resource, namespace, name and subresource it addresses.

use crate::resources::ResourceKind;
use crate::status::ApiError;

/// The object or collection a resource request addresses.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub kind: &'static ResourceKind,
    /// None for cluster-scoped types and for lists across all namespaces.
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<String>,
}

impl Route {
    /// Parses `/api/v1/...` and `/apis/GROUP/VERSION/...` paths; anything else is 404.
    pub fn parse(path: &str) -> Result<Self, ApiError> {
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        let (group, version, rest) = match segments.as_slice() {
            ["api", version, rest @ ..] => ("", *version, rest),
            ["apis", group, version, rest @ ..] => (*group, *version, rest),
            _ => return Err(ApiError::path_not_found()),
        };
        if rest.iter().any(|s| s.is_empty()) {
            return Err(ApiError::path_not_found());
        }
        let found = |plural: &str| {
            ResourceKind::find(group, version, plural).ok_or_else(ApiError::path_not_found)
        };
        let route = match rest {
            ["namespaces", namespace, plural, tail @ ..]
                if found(plural).is_ok_and(|k| k.namespaced) =>
            {
                Self::build(found(plural)?, Some(namespace), tail)?
            }
            [plural, tail @ ..] => Self::build(found(plural)?, None, tail)?,
            [] => return Err(ApiError::path_not_found()),
        };
        route.check_scope()?;
        Ok(route)
    }

    fn build(
        kind: &'static ResourceKind,
        namespace: Option<&str>,
        tail: &[&str],
    ) -> Result<Self, ApiError> {
        let (name, subresource) = match tail {
            [] => (None, None),
            [name] => (Some(*name), None),
            [name, sub] if kind.has_subresource(sub) => (Some(*name), Some(*sub)),
            _ => return Err(ApiError::path_not_found()),
        };
        Ok(Self {
            kind,
            namespace: namespace.map(String::from),
            name: name.map(String::from),
            subresource: subresource.map(String::from),
        })
    }

    /// A namespaced object must be addressed inside its namespace.
    fn check_scope(&self) -> Result<(), ApiError> {
        if self.kind.namespaced && self.namespace.is_none() && self.name.is_some() {
            return Err(ApiError::path_not_found());
        }
        Ok(())
    }

    /// The namespace a create or get works in ("" for cluster-scoped types).
    pub fn namespace_or_empty(&self) -> &str {
        self.namespace.as_deref().unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{JOBS, NAMESPACES, PODS};

    #[test]
    fn namespaced_objects_and_subresources_parse() {
        let route = Route::parse("/apis/batch/v1/namespaces/default/jobs/j1/status").unwrap();
        assert_eq!(route.kind, &JOBS);
        assert_eq!(route.namespace.as_deref(), Some("default"));
        assert_eq!(route.name.as_deref(), Some("j1"));
        assert_eq!(route.subresource.as_deref(), Some("status"));
        let log = Route::parse("/api/v1/namespaces/default/pods/p/log").unwrap();
        assert_eq!(log.subresource.as_deref(), Some("log"));
    }

    #[test]
    fn namespaces_are_objects_and_collections_at_once() {
        let one = Route::parse("/api/v1/namespaces/default").unwrap();
        assert_eq!(
            (one.kind, one.name.as_deref()),
            (&NAMESPACES, Some("default"))
        );
        let status = Route::parse("/api/v1/namespaces/default/status").unwrap();
        assert_eq!(status.subresource.as_deref(), Some("status"));
        let all = Route::parse("/api/v1/namespaces").unwrap();
        assert_eq!((all.kind, all.name), (&NAMESPACES, None));
    }

    #[test]
    fn lists_across_namespaces_have_no_namespace() {
        let route = Route::parse("/api/v1/pods").unwrap();
        assert_eq!((route.kind, route.namespace.clone()), (&PODS, None));
    }

    #[test]
    fn unknown_paths_are_not_found() {
        for path in [
            "/api/v1/widgets",
            "/apis/batch/v2/jobs",
            "/api/v1/namespaces/d/pods/p/exec",
            "/api/v1/pods/p",
            "/apis/apps/v1/deployments",
            "/metrics",
            "/api/v1/namespaces/d/jobs",
        ] {
            assert_eq!(Route::parse(path).unwrap_err().code, 404, "{path}");
        }
    }
}
