//! Turning protobuf timestamps into the times people and programs read.

use jiff::tz::TimeZone;
use prost_types::Timestamp;

/// The instant a protobuf timestamp names, if it is in range.
pub fn instant(timestamp: &Timestamp) -> Option<jiff::Timestamp> {
    jiff::Timestamp::new(timestamp.seconds, timestamp.nanos).ok()
}

/// RFC 3339 in UTC, such as `2025-03-01T12:00:01Z`.
pub fn rfc3339(timestamp: Option<&Timestamp>) -> Option<String> {
    timestamp
        .and_then(instant)
        .map(|instant| instant.to_string())
}

/// The local wall-clock time `HH:MM:SS`, or dashes when the time is unknown.
pub fn clock_time(timestamp: Option<&Timestamp>, zone: &TimeZone) -> String {
    match timestamp.and_then(instant) {
        Some(instant) => instant
            .to_zoned_datetime(zone.clone())
            .strftime("%H:%M:%S")
            .to_string(),
        None => "--:--:--".to_owned(),
    }
}

/// The local date and time `YYYY-MM-DD HH:MM:SS`.
pub fn date_time(instant: jiff::Timestamp, zone: &TimeZone) -> String {
    instant
        .to_zoned_datetime(zone.clone())
        .strftime("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// How long ago `instant` was, such as `3m ago`; a week or more back, the local date.
pub fn age(instant: jiff::Timestamp, now: jiff::Timestamp, zone: &TimeZone) -> String {
    let seconds = now.duration_since(instant).as_secs();
    match seconds {
        ..5 => "just now".to_owned(),
        5..60 => format!("{seconds}s ago"),
        60..3_600 => format!("{}m ago", seconds / 60),
        3_600..86_400 => format!("{}h ago", seconds / 3_600),
        86_400..604_800 => format!("{}d ago", seconds / 86_400),
        _ => instant
            .to_zoned_datetime(zone.clone())
            .strftime("%Y-%m-%d")
            .to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp { seconds, nanos: 0 }
    }

    fn instant_at(seconds: i64) -> jiff::Timestamp {
        jiff::Timestamp::from_second(seconds).unwrap()
    }

    #[test]
    fn rfc3339_is_in_utc() {
        let text = rfc3339(Some(&at(1_740_830_401)));
        assert_eq!(text.as_deref(), Some("2025-03-01T12:00:01Z"));
        assert_eq!(rfc3339(None), None);
    }

    #[test]
    fn clock_time_follows_the_time_zone() {
        assert_eq!(
            clock_time(Some(&at(1_740_830_401)), &TimeZone::UTC),
            "12:00:01"
        );
        let plus_two = TimeZone::fixed(jiff::tz::offset(2));
        assert_eq!(clock_time(Some(&at(1_740_830_401)), &plus_two), "14:00:01");
    }

    #[test]
    fn unknown_time_shows_dashes() {
        assert_eq!(clock_time(None, &TimeZone::UTC), "--:--:--");
    }

    #[test]
    fn ages_use_the_largest_whole_unit() {
        let now = instant_at(1_740_830_401);
        let ago = |seconds: i64| age(instant_at(1_740_830_401 - seconds), now, &TimeZone::UTC);
        assert_eq!(ago(2), "just now");
        assert_eq!(ago(42), "42s ago");
        assert_eq!(ago(200), "3m ago");
        assert_eq!(ago(3 * 3_600 + 5), "3h ago");
        assert_eq!(ago(2 * 86_400), "2d ago");
        assert_eq!(ago(30 * 86_400), "2025-01-30");
    }

    #[test]
    fn a_time_in_the_future_is_just_now() {
        let now = instant_at(1_000);
        assert_eq!(age(instant_at(1_100), now, &TimeZone::UTC), "just now");
    }
}
