//! Timestamps as mqadmin takes them: `now`, milliseconds since the epoch, or
//! `yyyy-MM-dd#HH:mm:ss:SSS` (read as UTC here; mqadmin reads the local zone).

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the epoch.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Parses a timestamp argument; `None` when it is none of the accepted forms.
pub(crate) fn parse_timestamp(text: &str) -> Option<i64> {
    let text = text.trim();
    if text == "now" {
        return Some(now_ms());
    }
    if let Ok(ms) = text.parse::<i64>() {
        return (ms >= -1).then_some(ms);
    }
    let (date, time) = text.split_once('#')?;
    let d: Vec<i64> = date
        .split('-')
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    let t: Vec<i64> = time
        .split(':')
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    let ([y, mo, day], [h, mi, s, ms]) = (d.as_slice(), t.as_slice()) else {
        return None;
    };
    let valid = (1..=12).contains(mo)
        && (1..=31).contains(day)
        && (0..24).contains(h)
        && (0..60).contains(mi)
        && (0..60).contains(s)
        && (0..1000).contains(ms);
    valid.then(|| (days_from_civil(*y, *mo, *day) * 86_400 + h * 3600 + mi * 60 + s) * 1000 + ms)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `yyyy-MM-ddTHH:mm:ss.SSSZ` of a millisecond timestamp (0: empty).
pub(crate) fn format_ms(ms: i64) -> String {
    if ms <= 0 {
        return String::new();
    }
    let (days, rem) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000
    )
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_mqadmin_timestamps() {
        assert_eq!(parse_timestamp("1700000000000"), Some(1_700_000_000_000));
        assert_eq!(parse_timestamp("-1"), Some(-1));
        assert_eq!(
            parse_timestamp("2023-11-14#22:13:20:000"),
            Some(1_700_000_000_000)
        );
        assert_eq!(parse_timestamp("1970-01-01#00:00:00:001"), Some(1));
        assert_eq!(parse_timestamp("2023-13-01#00:00:00:000"), None);
        assert_eq!(parse_timestamp("yesterday"), None);
        assert_eq!(format_ms(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(format_ms(0), "");
    }
}
