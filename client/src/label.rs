//! Labels given on the command line as `KEY=VALUE`.

use std::collections::HashMap;
use std::str::FromStr;

/// One `KEY=VALUE` label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub key: String,
    pub value: String,
}

impl FromStr for Label {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.split_once('=') {
            Some((key, value)) if !key.trim().is_empty() => Ok(Self {
                key: key.to_owned(),
                value: value.to_owned(),
            }),
            _ => Err(format!(
                "expected KEY=VALUE with a non-empty KEY, got {text:?}"
            )),
        }
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
        let label: Label = "query=a=b".parse().unwrap();
        assert_eq!(
            label,
            Label {
                key: "query".into(),
                value: "a=b".into()
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
        assert_eq!(err, "expected KEY=VALUE with a non-empty KEY, got \"team\"");
    }

    #[test]
    fn a_label_with_an_empty_key_is_refused() {
        assert!("=blue".parse::<Label>().is_err());
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
