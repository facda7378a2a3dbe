//! Feature times: an instant or an interval, always in UTC.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, SecondsFormat, Timelike, Utc};

/// When a feature happened or was valid: an instant (`end` is `None`) or a
/// closed interval `[start, end]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeSpan {
    /// Start (or the instant).
    pub start: DateTime<Utc>,
    /// End of an interval; `None` for an instant or an open-ended validity (bases).
    pub end: Option<DateTime<Utc>>,
}

impl TimeSpan {
    /// The last moment the span covers (its start for an instant).
    pub fn last(&self) -> DateTime<Utc> {
        self.end.unwrap_or(self.start)
    }
}

/// Parses a time as ingest accepts it: RFC 3339 (`2024-03-05T14:30:00Z`,
/// `...+01:00`), a date (`2024-03-05`, midnight UTC) or a date-time without
/// offset (`2024-03-05T14:30:00`, `2024-03-05 14:30:00`), read as UTC.
pub fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    let t = parse_any(s.trim())?;
    // The store keeps years 0000-9999 at millisecond precision; validate at the
    // same precision so a stored feature always validates again.
    if !(0..=9999).contains(&t.year()) {
        return Err(format!("time {s:?} is outside the years 0000-9999"));
    }
    let ms = t.timestamp_subsec_millis();
    Ok(t.with_nanosecond(ms * 1_000_000).unwrap_or(t))
}

/// Whether a time argument is a bare date (`2024-03-05`), which as the end of a
/// window means the whole day.
pub fn is_date_only(s: &str) -> bool {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").is_ok()
}

fn parse_any(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Ok(t.and_utc());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        if let Some(t) = d.and_hms_opt(0, 0, 0) {
            return Ok(t.and_utc());
        }
    }
    Err(format!(
        "cannot parse time {s:?}; expected RFC 3339 (2024-03-05T14:30:00Z) or a date (2024-03-05)"
    ))
}

/// Formats a time the way jointmap writes it: RFC 3339 in UTC with a `Z`,
/// fractional seconds only when present.
pub fn format_time(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_common_forms() {
        let want = "2024-03-05T14:30:00Z";
        for s in [
            "2024-03-05T14:30:00Z",
            "2024-03-05T15:30:00+01:00",
            "2024-03-05T14:30:00",
            "2024-03-05 14:30:00",
        ] {
            assert_eq!(format_time(&parse_time(s).unwrap()), want, "{s}");
        }
        assert_eq!(
            format_time(&parse_time("2024-03-05").unwrap()),
            "2024-03-05T00:00:00Z"
        );
    }

    #[test]
    fn keeps_milliseconds_only() {
        let t = parse_time("2024-01-01T12:00:00.0009Z").unwrap();
        assert_eq!(format_time(&t), "2024-01-01T12:00:00Z");
        let t = parse_time("2024-01-01T12:00:00.1239Z").unwrap();
        assert_eq!(format_time(&t), "2024-01-01T12:00:00.123Z");
    }

    #[test]
    fn refuses_garbage() {
        for s in [
            "",
            "yesterday",
            "2024-13-01",
            "2024-02-30",
            "1709649000",
            "+10000-01-01T00:00:00Z",
            "9999-12-31T23:00:00-05:00",
            "0000-01-01T00:30:00+01:00",
        ] {
            assert!(parse_time(s).is_err(), "{s}");
        }
    }
}
