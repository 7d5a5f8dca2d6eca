//! The resource types this cluster serves, and how each is named and addressed.

use serde_json::{Value, json};

/// Which DNS rule an object's `metadata.name` must follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    /// RFC 1123 subdomain: up to 253 characters, dots allowed.
    Subdomain,
    /// RFC 1123 label: up to 63 characters, no dots.
    Label,
}

/// A served resource type, e.g. `pods` in core/v1 or `jobs` in batch/v1.
#[derive(Debug, PartialEq, Eq)]
pub struct ResourceKind {
    pub plural: &'static str,
    pub singular: &'static str,
    pub kind: &'static str,
    pub group: &'static str,
    pub version: &'static str,
    pub namespaced: bool,
    pub name_rule: NameRule,
    pub subresources: &'static [&'static str],
    pub short_names: &'static [&'static str],
}

pub static NAMESPACES: ResourceKind = core(
    "namespaces",
    "Namespace",
    false,
    NameRule::Label,
    &["status"],
    &["ns"],
);
pub static PODS: ResourceKind = core(
    "pods",
    "Pod",
    true,
    NameRule::Subdomain,
    &["log", "status"],
    &["po"],
);
pub static SECRETS: ResourceKind = core("secrets", "Secret", true, NameRule::Subdomain, &[], &[]);
pub static CONFIG_MAPS: ResourceKind = core(
    "configmaps",
    "ConfigMap",
    true,
    NameRule::Subdomain,
    &[],
    &["cm"],
);
pub static SERVICE_ACCOUNTS: ResourceKind = core(
    "serviceaccounts",
    "ServiceAccount",
    true,
    NameRule::Subdomain,
    &[],
    &["sa"],
);
pub static EVENTS: ResourceKind = core("events", "Event", true, NameRule::Subdomain, &[], &["ev"]);
pub static JOBS: ResourceKind = ResourceKind {
    plural: "jobs",
    singular: "job",
    kind: "Job",
    group: "batch",
    version: "v1",
    namespaced: true,
    name_rule: NameRule::Subdomain,
    subresources: &["status"],
    short_names: &[],
};

/// Every served resource type.
pub static ALL: [&ResourceKind; 7] = [
    &NAMESPACES,
    &PODS,
    &SECRETS,
    &CONFIG_MAPS,
    &SERVICE_ACCOUNTS,
    &EVENTS,
    &JOBS,
];

const fn core(
    plural: &'static str,
    kind: &'static str,
    namespaced: bool,
    name_rule: NameRule,
    subresources: &'static [&'static str],
    short_names: &'static [&'static str],
) -> ResourceKind {
    ResourceKind {
        plural,
        singular: "",
        kind,
        group: "",
        version: "v1",
        namespaced,
        name_rule,
        subresources,
        short_names,
    }
}

impl ResourceKind {
    /// The type served at `/api/v1/...` or `/apis/GROUP/VERSION/...` under this plural name.
    pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static ResourceKind> {
        ALL.iter()
            .copied()
            .find(|k| k.group == group && k.version == version && k.plural == plural)
    }

    /// The type an `ownerReference` or `involvedObject` names by apiVersion and kind.
    pub fn by_kind(api_version: &str, kind: &str) -> Option<&'static ResourceKind> {
        ALL.iter()
            .copied()
            .find(|k| k.api_version() == api_version && k.kind == kind)
    }

    /// `v1` or `batch/v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_string()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `pods` or `jobs.batch`, as error messages name a resource.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// The singular lower-case name discovery documents list.
    pub fn singular_name(&self) -> String {
        if self.singular.is_empty() {
            self.kind.to_lowercase()
        } else {
            self.singular.to_string()
        }
    }

    /// `details` of a Status about one object of this type.
    pub fn details(&self, name: &str) -> Value {
        let mut details = json!({"name": name, "kind": self.plural});
        if !self.group.is_empty() {
            details["group"] = json!(self.group);
        }
        details
    }

    pub fn has_subresource(&self, subresource: &str) -> bool {
        self.subresources.contains(&subresource)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_distinguishes_groups() {
        assert_eq!(ResourceKind::find("batch", "v1", "jobs"), Some(&JOBS));
        assert_eq!(ResourceKind::find("", "v1", "jobs"), None);
        assert_eq!(ResourceKind::find("", "v1", "pods"), Some(&PODS));
    }

    #[test]
    fn qualified_names_carry_the_group() {
        assert_eq!(JOBS.qualified(), "jobs.batch");
        assert_eq!(PODS.qualified(), "pods");
        assert_eq!(ResourceKind::by_kind("batch/v1", "Job"), Some(&JOBS));
    }
}
