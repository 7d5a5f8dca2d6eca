//! What byok8sd accepts in a request: sizes, and the syntax of names, labels and keys. The
//! daemon checks every request against these; the client checks its own first, so that a
//! mistake is reported before anything is packed or sent.
//!
//! Labels follow the Kubernetes syntax (see the Kubernetes "Object Names and IDs" and "Labels
//! and Selectors" documents), so that they can be copied onto cluster objects.

/// The largest workflow or params document, in bytes.
pub const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;

/// The longest path inside a bundle, in bytes.
pub const MAX_BUNDLE_PATH_BYTES: usize = 1024;

/// The longest idempotency key, in characters.
pub const MAX_IDEMPOTENCY_KEY_CHARS: usize = 256;

/// The most runs one listing returns.
pub const MAX_LIST_LIMIT: usize = 1000;

/// A workflow or params document's name: 1 to 253 letters, digits, '.', '_' or '-', starting
/// with a letter or digit, since it is stored and shown.
pub fn is_document_name(name: &str) -> bool {
    name.len() <= 253
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

/// An idempotency key: 1 to `MAX_IDEMPOTENCY_KEY_CHARS` visible ASCII characters. (An empty
/// field in a request means that no key was given.)
pub fn is_idempotency_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= MAX_IDEMPOTENCY_KEY_CHARS
        && key.chars().all(|c| c.is_ascii_graphic())
}

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
    fn document_names_are_plain_file_stems() {
        assert!(is_document_name("params-blue.v2_x"));
        assert!(!is_document_name(".hidden"));
        assert!(!is_document_name("a/b"));
        assert!(!is_document_name(""));
        assert!(!is_document_name(&"n".repeat(254)));
    }

    #[test]
    fn idempotency_keys_are_visible_ascii_and_never_empty() {
        assert!(is_idempotency_key("batch-7/item:1"));
        assert!(is_idempotency_key(&"k".repeat(256)));
        for key in ["", "a b", "ключ", &"k".repeat(257)] {
            assert!(!is_idempotency_key(key), "{key:?}");
        }
    }

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
