//! CloudTrail timestamps: `eventTime` as AWS writes it (`2026-05-04T09:12:45Z`), and the looser
//! forms other tools export (`2021-10-19 00:56:05`, fractional seconds), to and from epoch seconds.
//! Replay turns them into `aws:CurrentTime` and `aws:EpochTime`; the log writer goes the other way.
//! Every record carries one, so the form AWS writes is read and written without `fmt`.

use crate::policy::condition::{days_from_civil, days_in_month, parse_date};

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
    if b.len() != 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'Z'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        b[r].iter().try_fold(0i64, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + i64::from(d - b'0'))
        })
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) || hh > 23 || mm > 59 || ss > 59 {
        return None;
    }
    Some(days_from_civil(y, m, d) * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// `YYYY-MM-DDTHH:MM:SSZ` for epoch seconds (the form AWS gives `aws:CurrentTime`). Years outside
/// 0..=9999 are clamped.
pub fn format_time(secs: i64) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    let y = y.clamp(0, 9999) as u32;
    let mut out = String::with_capacity(20);
    let fields = [
        (y / 100, ""),
        (y % 100, "-"),
        (m, "-"),
        (d, "T"),
        ((s / 3600) as u32, ":"),
        ((s / 60 % 60) as u32, ":"),
        ((s % 60) as u32, "Z"),
    ];
    for (n, after) in fields {
        out.push(char::from(b'0' + (n / 10) as u8));
        out.push(char::from(b'0' + (n % 10) as u8));
        out.push_str(after);
    }
    out
}

/// The calendar date (year, month, day) and time of day (hour, minute) of epoch seconds, for
/// building log file paths.
pub fn civil(secs: i64) -> (i64, u32, u32, u32, u32) {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    (y, m, d, (s / 3600) as u32, (s / 60 % 60) as u32)
}

/// Proleptic Gregorian date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
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
