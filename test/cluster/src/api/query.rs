//! Query strings: decoding, and the list and watch options read from them.

use crate::resources::ResourceKind;
use crate::selectors::{FieldSelector, Filter, LabelSelector};
use crate::status::ApiError;

/// Decoded `key=value` pairs in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Query(pub Vec<(String, String)>);

impl Query {
    /// Decodes a raw query string; `+` is a space, as Python's urlencode writes it.
    pub fn parse(raw: Option<&str>) -> Self {
        let pairs = raw
            .unwrap_or("")
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|pair| {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                (decode(key), decode(value))
            })
            .collect();
        Self(pairs)
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A boolean parameter, read like Go's strconv.ParseBool (Python sends `True`).
    pub fn flag(&self, key: &str) -> bool {
        matches!(
            self.get(key),
            Some("1" | "t" | "T" | "true" | "TRUE" | "True")
        )
    }

    /// A non-negative integer parameter; a malformed one is 400 as on a real server.
    pub fn number(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self.get(key) {
            None | Some("") => Ok(None),
            Some(text) => text.parse::<i64>().map(Some).map_err(|_| {
                ApiError::bad_request(format!(
                    "invalid value for {key}: {text:?} is not an integer"
                ))
            }),
        }
    }

    /// The label and field selectors of a list, watch or deletecollection.
    pub fn filter(&self, kind: &ResourceKind) -> Result<Filter, ApiError> {
        let labels = LabelSelector::parse(self.get("labelSelector").unwrap_or(""))
            .map_err(ApiError::bad_request)?;
        let fields = FieldSelector::parse(self.get("fieldSelector").unwrap_or(""), kind)
            .map_err(ApiError::bad_request)?;
        Ok(Filter { labels, fields })
    }

    /// The resourceVersion a watch starts after; None for "", "0" or absent, which all mean
    /// "the current state first".
    pub fn resource_version(&self) -> Result<Option<u64>, ApiError> {
        match self.get("resourceVersion") {
            None | Some("" | "0") => Ok(None),
            Some(text) => text.parse::<u64>().map(Some).map_err(|_| {
                let message = format!(
                    "resourceVersion: Invalid value: \"{text}\": must be a valid resource version"
                );
                ApiError::new(400, "BadRequest", message)
            }),
        }
    }

    /// `dryRun=All` asks for everything but the write.
    pub fn dry_run(&self) -> bool {
        self.get("dryRun") == Some("All")
    }
}

fn decode(text: &str) -> String {
    let spaced = text.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pluses_and_percent_escapes_decode() {
        let query = Query::parse(Some("labelSelector=env+in+%28a%2Cb%29&watch=true&x"));
        assert_eq!(query.get("labelSelector"), Some("env in (a,b)"));
        assert!(query.flag("watch"));
        assert!(Query::parse(Some("previous=True")).flag("previous"));
        assert!(!Query::parse(Some("previous=False")).flag("previous"));
        assert_eq!(query.get("x"), Some(""));
    }

    #[test]
    fn resource_version_zero_means_current_state() {
        assert_eq!(
            Query::parse(Some("resourceVersion=0"))
                .resource_version()
                .unwrap(),
            None
        );
        assert_eq!(
            Query::parse(Some("resourceVersion=12"))
                .resource_version()
                .unwrap(),
            Some(12)
        );
        assert!(
            Query::parse(Some("resourceVersion=abc"))
                .resource_version()
                .is_err()
        );
    }
}
