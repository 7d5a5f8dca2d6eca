//! Labels on everything the backend creates, so that it can always find what a run owns.

use std::collections::BTreeMap;

use byok8s_proto::rules;

use crate::run::RunRecord;

pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
pub const MANAGER: &str = "byok8sd";
pub const RUN: &str = "byok8s.io/run";
pub const USER: &str = "byok8s.io/user";
pub const ROLE: &str = "byok8s.io/role";

/// Label selector of one run's objects.
pub fn run_selector(run_id: &str) -> String {
    format!("{MANAGED_BY}={MANAGER},{RUN}={run_id}")
}

pub fn run_labels(run: &RunRecord, role: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (MANAGED_BY.to_owned(), MANAGER.to_owned()),
        (RUN.to_owned(), run.id.clone()),
        (USER.to_owned(), label_value(&run.user)),
        (ROLE.to_owned(), role.to_owned()),
    ])
}

/// A label value naming `text`: kept when already valid, otherwise reduced to the allowed
/// characters (a label is for finding things; the exact user name stays in the store).
pub fn label_value(text: &str) -> String {
    if rules::is_label_value(text) {
        return text.to_owned();
    }
    let kept: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(63)
        .collect();
    let trimmed = kept.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    if trimmed.is_empty() {
        "unnamed".to_owned()
    } else {
        trimmed.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_label_values_are_kept() {
        assert_eq!(label_value("alice"), "alice");
    }

    #[test]
    fn invalid_user_names_become_valid_label_values() {
        for user in ["alice@example.org", "-x-", &"u".repeat(80), "@@@"] {
            let value = label_value(user);
            assert!(
                rules::is_label_value(&value) && !value.is_empty(),
                "{user} -> {value}"
            );
        }
    }
}
