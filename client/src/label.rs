//! Labels given on the command line as `KEY=VALUE`, in the Kubernetes label syntax byok8sd
//! accepts (see the Kubernetes "Labels and Selectors" document).

use std::collections::HashMap;
use std::str::FromStr;

use byok8s_proto::rules::{is_label_key, is_label_value};

/// One `KEY=VALUE` label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub key: String,
    pub value: String,
}

impl FromStr for Label {
    type Err = String;

    /// Refuses what byok8sd would refuse, so the mistake is reported before anything is
    /// packed or uploaded.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let Some((key, value)) = text.split_once('=') else {
            return Err(format!("expected KEY=VALUE, got {text:?}"));
        };
        if !is_label_key(key) {
            return Err(format!(
                "the key {key:?} is not a Kubernetes label key: an optional DNS subdomain and \
                 '/', then 1 to 63 letters, digits, '-', '_' or '.', starting and ending with a \
                 letter or digit"
            ));
        }
        if !is_label_value(value) {
            return Err(format!(
                "the value {value:?} is not a Kubernetes label value: empty, or 1 to 63 \
                 letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
            ));
        }
        Ok(Self {
            key: key.to_owned(),
            value: value.to_owned(),
        })
    }
}

/// The labels as the request map; a later KEY replaces an earlier one.
pub fn label_map(labels: &[Label]) -> HashMap<String, String> {
    labels
        .iter()
        .map(|label| (label.key.clone(), label.value.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_and_value_are_split_at_the_first_equals_sign() {
        let label: Label = "byok8s.io/team=a.b".parse().unwrap();
        assert_eq!(
            label,
            Label {
                key: "byok8s.io/team".into(),
                value: "a.b".into()
            }
        );
    }

    #[test]
    fn an_empty_value_is_allowed() {
        let label: Label = "flag=".parse().unwrap();
        assert_eq!(label.value, "");
    }

    #[test]
    fn a_label_without_equals_sign_is_refused() {
        let err = "team".parse::<Label>().unwrap_err();
        assert_eq!(err, "expected KEY=VALUE, got \"team\"");
    }

    #[test]
    fn a_label_with_an_empty_key_is_refused() {
        assert!("=blue".parse::<Label>().is_err());
    }

    #[test]
    fn keys_byok8sd_would_refuse_are_refused_naming_the_key() {
        for key in [
            "bad key",
            "Byok8s.io/run",
            "byok8s.io/",
            "a/b/c",
            "-x",
            &"k".repeat(64),
        ] {
            let err = format!("{key}=v").parse::<Label>().unwrap_err();
            assert!(err.starts_with(&format!("the key {key:?} is not")), "{err}");
        }
    }

    #[test]
    fn values_byok8sd_would_refuse_are_refused_naming_the_value() {
        for value in ["a=b", "x y", "_x", "x.", &"v".repeat(64)] {
            let err = format!("team={value}").parse::<Label>().unwrap_err();
            assert!(
                err.starts_with(&format!("the value {value:?} is not")),
                "{err}"
            );
        }
    }

    #[test]
    fn a_later_key_replaces_an_earlier_one() {
        let labels: Vec<Label> = ["a=1", "b=2", "a=3"]
            .iter()
            .map(|t| t.parse().unwrap())
            .collect();
        let map = label_map(&labels);
        assert_eq!(map.len(), 2);
        assert_eq!(map["a"], "3");
    }
}
