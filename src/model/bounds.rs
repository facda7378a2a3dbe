//! Plausibility bounds of ingested features: what no real record of a peace
//! operation exceeds, so that one typo (a year 9999, a count of 1e15, a
//! 64 MiB narrative) cannot distort every map or exhaust memory. Defaults
//! are documented in docs/data-model.md; `jointmap ingest` can change them.

use chrono::{DateTime, Duration, NaiveDate, Utc};

/// Default earliest time: 1900-01-01.
pub const EARLIEST: &str = "1900-01-01";
/// Default: times may lie this many days after now (clocks and time zones).
pub const FUTURE_DAYS: i64 = 7;
/// Default largest count (people killed, injured, affected; fighters seen).
pub const MAX_COUNT: i64 = 100_000;
/// Default largest population of a site (the largest cities have tens of
/// millions).
pub const MAX_POPULATION: i64 = 50_000_000;
/// Default largest JSON string (a key or a value), in bytes: 256 KiB.
pub const MAX_STRING_BYTES: usize = 256 * 1024;
/// Default largest feature, in bytes of its GeoJSON text: 4 MiB.
pub const MAX_FEATURE_BYTES: usize = 4 * 1024 * 1024;

/// The bounds a feature must keep.
#[derive(Debug, Clone, PartialEq)]
pub struct Bounds {
    /// No time before this.
    pub earliest: DateTime<Utc>,
    /// No time after this.
    pub latest: DateTime<Utc>,
    /// No count of people in an event or fighters seen above this.
    pub max_count: i64,
    /// No site population above this.
    pub max_population: i64,
    /// No JSON string (key or value) longer than this many bytes.
    pub max_string_bytes: usize,
    /// No feature text longer than this many bytes.
    pub max_feature_bytes: usize,
}

impl Default for Bounds {
    /// The documented defaults, with `latest` [`FUTURE_DAYS`] after now.
    fn default() -> Self {
        let earliest = NaiveDate::from_ymd_opt(1900, 1, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t.and_utc())
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        Bounds {
            earliest,
            latest: Utc::now() + Duration::days(FUTURE_DAYS),
            max_count: MAX_COUNT,
            max_population: MAX_POPULATION,
            max_string_bytes: MAX_STRING_BYTES,
            max_feature_bytes: MAX_FEATURE_BYTES,
        }
    }
}

impl Bounds {
    /// The defaults, with `latest` `days` after now.
    pub fn future_days(days: i64) -> Bounds {
        Bounds {
            latest: Utc::now() + Duration::days(days),
            ..Bounds::default()
        }
    }

    /// Why `t` is out of bounds, if it is.
    pub fn check_time(&self, t: &DateTime<Utc>) -> Result<(), String> {
        let fmt = super::time::format_time;
        if *t < self.earliest {
            return Err(format!(
                "time {} is before {} (the earliest plausible time; see --earliest)",
                fmt(t),
                fmt(&self.earliest)
            ));
        }
        if *t > self.latest {
            return Err(format!(
                "time {} is in the future (after {}; see --future-days)",
                fmt(t),
                fmt(&self.latest)
            ));
        }
        Ok(())
    }

    /// Why the count `n` of field `field` is out of bounds, if it is: a
    /// site's `population` has its own bound, every other count `max_count`.
    pub fn check_count(&self, field: &str, n: i64) -> Result<(), String> {
        let (max, flag) = if field == "population" {
            (self.max_population, "--max-population")
        } else {
            (self.max_count, "--max-count")
        };
        if n < 0 {
            Err(format!("negative count {n}"))
        } else if n > max {
            Err(format!(
                "count {n} is above {max} (the largest plausible; see {flag})"
            ))
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_refuse_the_implausible() {
        let b = Bounds::default();
        let t = |s: &str| super::super::time::parse_time(s).expect("time");
        assert!(b.check_time(&t("1900-01-01")).is_ok());
        assert!(b.check_time(&t("1899-12-31T23:59:59Z")).is_err());
        assert!(b.check_time(&Utc::now()).is_ok());
        assert!(b
            .check_time(&(Utc::now() + Duration::days(FUTURE_DAYS + 1)))
            .is_err());
        assert!(b.check_time(&t("9999-01-01")).is_err());
        assert!(b.check_count("killed_men", 0).is_ok());
        assert!(b.check_count("killed_men", MAX_COUNT).is_ok());
        assert!(b.check_count("killed_men", MAX_COUNT + 1).is_err());
        assert!(b.check_count("killed_men", -1).is_err());
        assert!(b.check_count("population", 889_000).is_ok());
        assert!(b.check_count("population", MAX_POPULATION + 1).is_err());
    }

    /// Validation applies the bounds (defaults or given) to every time and
    /// count, and refuses repeated keys and oversized features and strings.
    #[test]
    fn features_keep_the_bounds() {
        use crate::model::{Feature, Layer};
        use serde_json::json;
        let feature = |props: serde_json::Value| {
            json!({"type":"Feature","id":"i1","geometry":{"type":"Point","coordinates":[18.5,4.4]},
                "properties":props})
            .to_string()
        };
        let problems = |text: &str, b: &Bounds| match Feature::from_geojson_str_with(
            Layer::Incidents,
            text,
            b,
        ) {
            Ok(_) => Vec::new(),
            Err(e) => e
                .problems
                .iter()
                .map(|p| format!("{}: {}", p.field, p.reason))
                .collect(),
        };
        let b = Bounds::default();
        let ok = feature(json!({"time":"2024-01-01","category":"killing","killed_men":3}));
        assert!(problems(&ok, &b).is_empty());
        for (props, want) in [
            (
                json!({"time":"9999-01-01","category":"killing"}),
                "time: time 9999-01-01T00:00:00Z is in the future",
            ),
            (
                json!({"time":"1850-01-01","category":"killing"}),
                "time: time 1850-01-01T00:00:00Z is before 1900",
            ),
            (
                json!({"time_start":"2024-01-01","time_end":"9000-01-01","category":"killing"}),
                "time_end: time 9000",
            ),
            (
                json!({"time":"2024-01-01","category":"killing","killed_men":1e15}),
                "killed_men: count 1000000000000000 is above 100000",
            ),
            (
                json!({"time":"2024-01-01","category":"killing","killed_men":-2}),
                "killed_men: negative count -2",
            ),
        ] {
            let p = problems(&feature(props), &b);
            assert!(p.iter().any(|p| p.starts_with(want)), "{p:?} !~ {want}");
        }
        // A later "classification" must not downgrade a record silently.
        let dup = r#"{"type":"Feature","id":"i1","geometry":{"type":"Point","coordinates":[18.5,4.4]},"properties":{"time":"2024-01-01","category":"sexual-violence","classification":"strictly-confidential","classification":"public"}}"#;
        let p = problems(dup, &b);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].starts_with("properties.classification: duplicate key \"classification\""),
            "{p:?}"
        );
        let dup = r#"{"type":"Feature","geometry":{"type":"Point","coordinates":[18.5,4.4],"coordinates":[0,0]},"properties":{"time":"2024-01-01","category":"killing"}}"#;
        assert!(problems(dup, &b)[0].starts_with("geometry.coordinates: duplicate key"));
        // Configurable: tighter bounds refuse what the defaults accept.
        let tight = Bounds {
            max_count: 2,
            ..Bounds::default()
        };
        let p = problems(&ok, &tight);
        assert!(p[0].contains("count 3 is above 2"), "{p:?}");
        let long = feature(
            json!({"time":"2024-01-01","category":"killing","narrative":"a long narrative"}),
        );
        let p = problems(
            &long,
            &Bounds {
                max_string_bytes: 12,
                ..Bounds::default()
            },
        );
        assert!(
            p[0].starts_with("properties.narrative: a string of 16 bytes"),
            "{p:?}"
        );
        let p = problems(
            &ok,
            &Bounds {
                max_feature_bytes: 50,
                ..Bounds::default()
            },
        );
        assert!(p[0].contains("more than the maximum 50"), "{p:?}");
    }
}
