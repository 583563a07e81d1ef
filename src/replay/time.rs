//! CloudTrail timestamps: `eventTime` as AWS writes it (`2026-05-04T09:12:45Z`), and the looser
//! forms other tools export (`2021-10-19 00:56:05`, fractional seconds), to and from epoch seconds.
//! Replay turns them into `aws:CurrentTime` and `aws:EpochTime`; the log writer goes the other way.
//! The calendar is jiff's; this module only knows the forms.

use crate::policy::condition::{parse_date, UNIX_EPOCH};
use jiff::{civil::DateTime, SignedDuration};

/// Epoch seconds of a CloudTrail `eventTime`; `None` when it is not a date and time.
pub fn parse_event_time(text: &str) -> Option<i64> {
    if let Some(secs) = parse_canonical(text) {
        return Some(secs);
    }
    let t = text.trim();
    // A bare date or a number would parse as a date too; eventTime always carries a time.
    if t.len() < 16 || !t.is_char_boundary(10) || !t.is_char_boundary(11) {
        return None;
    }
    let nanos = if t.as_bytes()[10] == b' ' {
        parse_date(&format!("{}T{}", &t[..10], &t[11..]))?
    } else {
        parse_date(t)?
    };
    i64::try_from(nanos.div_euclid(1_000_000_000)).ok()
}

/// Epoch seconds of exactly `YYYY-MM-DDTHH:MM:SSZ` (a valid date and time): the form AWS writes
/// and [`format_time`] writes.
pub fn parse_canonical(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 20 || b[19] != b'Z' || b[10] != b'T' {
        return None;
    }
    let dt: DateTime = jiff::fmt::strtime::parse("%Y-%m-%dT%H:%M:%SZ", text)
        .ok()?
        .to_datetime()
        .ok()?;
    Some(dt.duration_since(UNIX_EPOCH).as_secs())
}

/// The UTC date and time of epoch seconds, clamped to years 0000..=9999.
fn utc(secs: i64) -> DateTime {
    let secs = secs.clamp(-62_167_219_200, 253_402_300_799);
    UNIX_EPOCH
        .checked_add(SignedDuration::from_secs(secs))
        .expect("years 0000..=9999 are in range")
}

/// `YYYY-MM-DDTHH:MM:SSZ` for epoch seconds (the form AWS gives `aws:CurrentTime`). Instants
/// outside years 0000..=9999 are clamped.
pub fn format_time(secs: i64) -> String {
    utc(secs).strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The calendar date (year, month, day) and time of day (hour, minute) of epoch seconds, for
/// building log file paths.
pub fn civil(secs: i64) -> (i64, u32, u32, u32, u32) {
    let t = utc(secs);
    (
        i64::from(t.year()),
        t.month() as u32,
        t.day() as u32,
        t.hour() as u32,
        t.minute() as u32,
    )
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let t = parse_event_time("2026-05-04T09:12:45Z").unwrap();
        assert_eq!(format_time(t), "2026-05-04T09:12:45Z");
        assert_eq!(
            parse_event_time("2021-10-19 00:56:05"),
            parse_event_time("2021-10-19T00:56:05Z")
        );
        assert_eq!(
            parse_event_time("2025-03-05 21:19:44.000000000"),
            parse_event_time("2025-03-05T21:19:44Z")
        );
        assert_eq!(
            parse_event_time("2025-03-05T21:19:44+01:00"),
            parse_event_time("2025-03-05T20:19:44Z")
        );
        assert_eq!(format_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_time(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(parse_event_time("2024-02-29"), None);
        assert_eq!(parse_event_time("2023-02-29T00:00:00Z"), None);
        assert_eq!(parse_event_time("yesterday at noon"), None);
        assert!(
            parse_canonical("2026-05-04T09:12:45Z").is_some()
                && parse_canonical("2026-05-04 09:12:45").is_none()
        );
        for secs in [
            -86_400_i64,
            1,
            1_700_000_000,
            4_102_444_800,
            253_402_300_799,
        ] {
            assert_eq!(parse_event_time(&format_time(secs)), Some(secs));
            assert_eq!(
                parse_canonical(&format_time(secs)),
                parse_date(&format_time(secs)).map(|n| (n / 1_000_000_000) as i64)
            );
        }
    }
}
