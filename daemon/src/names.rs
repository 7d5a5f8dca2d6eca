//! Kubernetes name and label syntax (see the Kubernetes "Object Names and IDs" and "Labels and
//! Selectors" documents), checked here because schema validation does not check it.

/// A DNS-1123 label: at most 63 lowercase letters, digits or '-', starting and ending alphanumeric.
pub fn is_dns_label(text: &str) -> bool {
    let edges_ok = text.starts_with(|c: char| c.is_ascii_alphanumeric())
        && text.ends_with(|c: char| c.is_ascii_alphanumeric());
    text.len() <= 63
        && edges_ok
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// A DNS-1123 subdomain: dot-separated DNS labels, at most 253 characters.
pub fn is_dns_subdomain(text: &str) -> bool {
    text.len() <= 253 && text.split('.').all(is_dns_label)
}

/// A label key: an optional DNS subdomain prefix and '/', then a name of at most 63 characters
/// of letters, digits, '-', '_' and '.', starting and ending alphanumeric.
pub fn is_label_key(key: &str) -> bool {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    prefix.is_none_or(is_dns_subdomain) && !name.is_empty() && is_label_value(name)
}

/// A label value: empty, or at most 63 letters, digits, '-', '_' and '.', starting and ending
/// alphanumeric.
pub fn is_label_value(value: &str) -> bool {
    if value.is_empty() {
        return true;
    }
    let edges_ok = value.starts_with(|c: char| c.is_ascii_alphanumeric())
        && value.ends_with(|c: char| c.is_ascii_alphanumeric());
    value.len() <= 63
        && edges_ok
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_labels_are_lowercase_alphanumeric_with_inner_dashes() {
        assert!(is_dns_label("run-01abc"));
        assert!(!is_dns_label("Run"));
        assert!(!is_dns_label("-run"));
        assert!(!is_dns_label("run-"));
        assert!(!is_dns_label(""));
        assert!(!is_dns_label(&"a".repeat(64)));
    }

    #[test]
    fn label_keys_may_carry_a_subdomain_prefix() {
        assert!(is_label_key("team"));
        assert!(is_label_key("byok8s.io/run"));
        assert!(!is_label_key("Byok8s.io/run"));
        assert!(!is_label_key("byok8s.io/"));
        assert!(!is_label_key("a/b/c"));
        assert!(!is_label_key("has space"));
    }

    #[test]
    fn label_values_may_be_empty_but_not_malformed() {
        assert!(is_label_value(""));
        assert!(is_label_value("Blue_1.x"));
        assert!(!is_label_value("_x"));
        assert!(!is_label_value("x y"));
        assert!(!is_label_value(&"v".repeat(64)));
    }
}
