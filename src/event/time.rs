//! Timestamps: RFC 3339 text <-> epoch milliseconds.

use ::time::format_description::well_known::Rfc3339;
use ::time::OffsetDateTime;

/// Milliseconds in a minute, an hour and a day: every event time is epoch
/// milliseconds, and these are the units windows are counted in.
pub const MINUTE_MS: i64 = 60_000;
/// Milliseconds in an hour.
pub const HOUR_MS: i64 = 3_600_000;
/// Milliseconds in a (UTC) day.
pub const DAY_MS: i64 = 86_400_000;

/// Parses an RFC 3339 date-time into epoch milliseconds (sub-millisecond digits
/// are truncated). `None` when the text is not RFC 3339.
pub fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    if let Some(ms) = parse_utc_fast(s) {
        return Some(ms);
    }
    let t = OffsetDateTime::parse(s, &Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos().div_euclid(1_000_000)).ok()
}

/// Fast path for the common `YYYY-MM-DDTHH:MM:SS[.fff]Z` form (what most
/// producers emit); anything else goes to the full parser.
fn parse_utc_fast(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || (b[10] != b'T' && b[10] != b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        b[r].iter().try_fold(0i64, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + (c - b'0') as i64)
        })
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut ms = 0;
    let mut i = 19;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 3 {
                ms = ms * 10 + (b[i] - b'0') as i64;
            }
            i += 1;
        }
        let digits = i - start;
        if digits == 0 {
            return None;
        }
        for _ in digits..3 {
            ms *= 10;
        }
    }
    if i + 1 != b.len() || (b[i] != b'Z' && b[i] != b'z') {
        return None;
    }
    let days_in_month = [
        31,
        if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 {
            29
        } else {
            28
        },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&mo)
        || d < 1
        || d > days_in_month[(mo - 1) as usize]
        || h > 23
        || mi > 59
        || sec > 60
    {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm).
    let (yy, mm) = if mo <= 2 {
        (y - 1, mo + 9)
    } else {
        (y, mo - 3)
    };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let doy = (153 * mm + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    // A leap second (60) is folded into the next second, as the full parser does not accept it either.
    if sec == 60 {
        return None;
    }
    Some(((days * 24 + h) * 60 + mi) * 60_000 + sec * 1000 + ms)
}

/// Formats epoch milliseconds as RFC 3339 UTC with millisecond precision.
pub fn format_rfc3339_ms(ms: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let d = t.date();
    let tm = t.time();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        d.year(),
        d.month() as u8,
        d.day(),
        tm.hour(),
        tm.minute(),
        tm.second(),
        tm.millisecond()
    )
}

/// A duration such as `90s`, `15m`, `24h` or `3d` (a bare number is hours),
/// in milliseconds. For command-line flags.
pub fn parse_duration_ms(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: i64 = num
        .parse()
        .map_err(|_| format!("`{s}`: expected a number and a unit (s, m, h, d)"))?;
    let mult = match unit {
        "s" => 1_000,
        "m" => 60_000,
        "h" | "" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(format!("`{s}`: unknown unit `{unit}` (use s, m, h or d)")),
    };
    if n <= 0 {
        return Err(format!("`{s}`: duration must be positive"));
    }
    n.checked_mul(mult)
        .ok_or_else(|| format!("`{s}`: too long a duration"))
}

/// This machine's clock, in ms since the Unix epoch (0 if it reads before
/// the epoch). The one wall-clock reading the library uses: for the
/// future-skew limit, the issuing time of tokens, and the service's
/// heartbeats and checkpoints.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_path_agrees_with_the_full_parser() {
        for t in [
            "2026-11-20T10:00:00Z",
            "2026-11-20T10:00:00.1Z",
            "2026-11-20T10:00:00.123456Z",
            "2024-02-29T23:59:59.999Z",
            "1970-01-01T00:00:00Z",
            "1969-12-31T23:59:59.5Z",
            "2000-03-01T00:00:00z",
        ] {
            let full = OffsetDateTime::parse(t, &Rfc3339).unwrap();
            let want = i64::try_from(full.unix_timestamp_nanos().div_euclid(1_000_000)).unwrap();
            assert_eq!(parse_utc_fast(t), Some(want), "{t}");
        }
        for bad in [
            "2026-02-30T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-11-20T24:00:00Z",
            "2026-11-20T10:00:00.Z",
            "2026-11-20T10:00:00",
        ] {
            assert_eq!(parse_utc_fast(bad), None, "{bad}");
            assert_eq!(parse_rfc3339_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn round_trips_and_offsets() {
        let ms = parse_rfc3339_ms("2026-11-20T10:00:00.123Z").unwrap();
        assert_eq!(format_rfc3339_ms(ms), "2026-11-20T10:00:00.123Z");
        assert_eq!(parse_rfc3339_ms("2026-11-20T12:00:00.123+02:00"), Some(ms));
        assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339_ms("2026-11-20 10:00"), None);
        assert_eq!(parse_rfc3339_ms(""), None);
    }
}
