//! The name syntaxes of Kubernetes: DNS-1123 labels and subdomains, qualified names, label values.

const LABEL_MAX: usize = 63;
const SUBDOMAIN_MAX: usize = 253;

const LABEL_FORMAT: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric \
    characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  \
    or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const SUBDOMAIN_FORMAT: &str = "a lowercase RFC 1123 subdomain must consist of lower case \
    alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character \
    (e.g. 'example.com', regex used for validation is \
    '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const QUALIFIED_FORMAT: &str = "name part must consist of alphanumeric characters, '-', '_' or \
    '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  \
    or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const VALUE_FORMAT: &str = "a valid label must be an empty string or consist of alphanumeric \
    characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. \
    'MyValue',  or 'my_value',  or '12345', regex used for validation is \
    '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const ENV_FORMAT: &str = "a valid environment variable name must consist of alphabetic \
    characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  \
    or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')";
const CONFIG_KEY_FORMAT: &str = "a valid config key must consist of alphanumeric characters, \
    '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation \
    is '[-._a-zA-Z0-9]+')";

/// Why `name` is not an RFC 1123 label, or None.
pub fn label_error(name: &str) -> Option<String> {
    if name.len() > LABEL_MAX {
        return Some(format!("must be no more than {LABEL_MAX} characters"));
    }
    (!is_label(name)).then(|| LABEL_FORMAT.to_string())
}

/// Why `name` is not an RFC 1123 subdomain, or None.
pub fn subdomain_error(name: &str) -> Option<String> {
    if name.len() > SUBDOMAIN_MAX {
        return Some(format!("must be no more than {SUBDOMAIN_MAX} characters"));
    }
    let valid = !name.is_empty() && name.split('.').all(is_label);
    (!valid).then(|| SUBDOMAIN_FORMAT.to_string())
}

fn is_label(part: &str) -> bool {
    let bytes = part.as_bytes();
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            alnum(first) && alnum(last) && bytes.iter().all(|b| alnum(b) || *b == b'-')
        }
        _ => false,
    }
}

/// Why `key` is not a qualified name (`[prefix/]name`) as label and annotation keys must be.
pub fn qualified_name_error(key: &str) -> Option<String> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix {
        if prefix.is_empty() {
            return Some("prefix part must be non-empty".into());
        }
        if let Some(why) = subdomain_error(prefix) {
            return Some(format!("prefix part {why}"));
        }
    }
    if name.is_empty() {
        return Some("name part must be non-empty".into());
    }
    if name.len() > LABEL_MAX {
        return Some(format!(
            "name part must be no more than {LABEL_MAX} characters"
        ));
    }
    (!is_qualified_part(name)).then(|| QUALIFIED_FORMAT.to_string())
}

fn is_qualified_part(part: &str) -> bool {
    let bytes = part.as_bytes();
    let inner = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.');
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            first.is_ascii_alphanumeric() && last.is_ascii_alphanumeric() && bytes.iter().all(inner)
        }
        _ => false,
    }
}

/// Why `value` is not a valid label value, or None.
pub fn label_value_error(value: &str) -> Option<String> {
    if value.len() > LABEL_MAX {
        return Some(format!("must be no more than {LABEL_MAX} characters"));
    }
    (!value.is_empty() && !is_qualified_part(value)).then(|| VALUE_FORMAT.to_string())
}

/// Why `name` is not a valid environment variable name, or None.
pub fn env_name_error(name: &str) -> Option<String> {
    let bytes = name.as_bytes();
    let inner = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.');
    let valid = bytes.first().is_some_and(|b| !b.is_ascii_digit()) && bytes.iter().all(inner);
    (!valid).then(|| ENV_FORMAT.to_string())
}

/// Why `key` is not a valid key of a Secret's or ConfigMap's data, or None.
pub fn config_key_error(key: &str) -> Option<String> {
    if key.len() > SUBDOMAIN_MAX {
        return Some(format!("must be no more than {SUBDOMAIN_MAX} characters"));
    }
    if key == "." || key == ".." || key.starts_with("..") {
        return Some("must not be '.' or '..' or start with '..'".into());
    }
    let inner = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.');
    let valid = !key.is_empty() && key.bytes().all(inner);
    (!valid).then(|| CONFIG_KEY_FORMAT.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_lowercase_alphanumerics_and_inner_dashes() {
        assert_eq!(label_error("default"), None);
        assert_eq!(label_error("a-1"), None);
        assert!(label_error("A").is_some());
        assert!(label_error("-a").is_some());
        assert!(label_error("a-").is_some());
        assert!(label_error("a.b").is_some());
        assert!(label_error("").is_some());
        assert!(
            label_error(&"a".repeat(64))
                .unwrap()
                .contains("no more than 63")
        );
    }

    #[test]
    fn subdomains_allow_dots_between_labels() {
        assert_eq!(subdomain_error("snakejob-1.x"), None);
        assert!(subdomain_error("a..b").is_some());
        assert!(subdomain_error("Bad_Name").is_some());
        assert!(subdomain_error(&"a".repeat(254)).is_some());
        assert_eq!(subdomain_error(&"a".repeat(253)), None);
    }

    #[test]
    fn qualified_names_take_an_optional_dns_prefix() {
        assert_eq!(qualified_name_error("app"), None);
        assert_eq!(qualified_name_error("byok8s.io/run"), None);
        assert_eq!(qualified_name_error("My_Key.x"), None);
        assert!(qualified_name_error("/x").is_some());
        assert!(qualified_name_error("Bad.io/x").is_some());
        assert!(qualified_name_error("a/b/c").is_some());
        assert!(qualified_name_error("x/").is_some());
    }

    #[test]
    fn label_values_may_be_empty_but_not_spaced() {
        assert_eq!(label_value_error(""), None);
        assert_eq!(label_value_error("run-01ABC"), None);
        assert!(label_value_error("a b").is_some());
        assert!(label_value_error(&"x".repeat(64)).is_some());
    }

    #[test]
    fn env_names_must_not_start_with_a_digit() {
        assert_eq!(env_name_error("AWS_ACCESS_KEY_ID"), None);
        assert!(env_name_error("1X").is_some());
        assert!(env_name_error("A B").is_some());
    }

    #[test]
    fn config_keys_refuse_dot_dot_and_slashes() {
        assert_eq!(config_key_error("ca.crt"), None);
        assert!(config_key_error("..data").is_some());
        assert!(config_key_error("a/b").is_some());
    }
}
