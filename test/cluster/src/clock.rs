//! Timestamps in the formats the Kubernetes API uses.

use jiff::Timestamp;

/// Now, to the second, as Kubernetes writes `metav1.Time` (`2024-01-02T03:04:05Z`).
pub fn now_seconds() -> String {
    seconds(Timestamp::now())
}

/// A timestamp to the second, RFC 3339 in UTC.
pub fn seconds(at: Timestamp) -> String {
    // Like Go's RFC3339 layout: the fraction is truncated, not rounded.
    at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Now, to the microsecond, as Kubernetes writes `metav1.MicroTime`.
pub fn now_micros() -> String {
    Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

/// A timestamp as Go's RFC3339Nano writes it: trailing zeros of the fraction dropped.
pub fn nanos(at: Timestamp) -> String {
    let full = at.strftime("%Y-%m-%dT%H:%M:%S%.9f").to_string();
    let trimmed = full.trim_end_matches('0').trim_end_matches('.');
    format!("{trimmed}Z")
}

/// Parses an RFC 3339 timestamp as clients send it in `sinceTime`.
pub fn parse(text: &str) -> Option<Timestamp> {
    text.parse::<Timestamp>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nanos_drops_trailing_zeros_like_go() {
        let at: Timestamp = "2024-01-02T03:04:05.120Z".parse().unwrap();
        assert_eq!(nanos(at), "2024-01-02T03:04:05.12Z");
        let whole: Timestamp = "2024-01-02T03:04:05Z".parse().unwrap();
        assert_eq!(nanos(whole), "2024-01-02T03:04:05Z");
    }

    #[test]
    fn seconds_truncate_the_fraction() {
        let at: Timestamp = "2024-01-02T03:04:05.9Z".parse().unwrap();
        assert_eq!(seconds(at), "2024-01-02T03:04:05Z");
    }

    #[test]
    fn parse_reads_what_nanos_writes() {
        let at: Timestamp = "2024-01-02T03:04:05.000000123Z".parse().unwrap();
        assert_eq!(parse(&nanos(at)), Some(at));
    }
}
