//! Conversions between wall-clock times, the store's microseconds and protobuf timestamps.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prost_types::Timestamp;

/// Microseconds since the Unix epoch; times before it (a broken clock) clamp to zero.
pub fn to_micros(time: SystemTime) -> i64 {
    let micros = time
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros();
    i64::try_from(micros).unwrap_or(i64::MAX)
}

pub fn from_micros(micros: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(u64::try_from(micros).unwrap_or(0))
}

pub fn to_timestamp(time: SystemTime) -> Timestamp {
    Timestamp::from(time)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn micros_round_trip_keeps_microsecond_precision() {
        let time = UNIX_EPOCH + Duration::from_micros(1_764_787_200_123_456);
        assert_eq!(from_micros(to_micros(time)), time);
    }

    #[test]
    fn negative_micros_clamp_to_the_epoch() {
        assert_eq!(from_micros(-5), UNIX_EPOCH);
    }
}
