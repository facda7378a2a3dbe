//! The mission's trigger calendar (the quarterly outlook's "what is
//! coming"): a small TOML file of elections, market days, seasons and
//! transhumance corridors, each with when it happens and, optionally,
//! where. The format is in docs/briefs.md.
//!
//! Every fault names the entry (its number and name) and the field; an
//! unknown field is a fault, so a misspelt key is never silently ignored.

use chrono::{Datelike, Months, NaiveDate, Weekday};
use std::fmt;

/// What a trigger is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TriggerKind {
    /// An election or referendum (polling day, campaign, results).
    Election,
    /// A market day.
    Market,
    /// A season (rains, dry season, harvest, lean season).
    Season,
    /// Herd movements along transhumance corridors.
    Transhumance,
    /// A religious or national holiday, festival or anniversary.
    Holiday,
    /// Anything else the mission watches.
    Other,
}

impl TriggerKind {
    /// Every kind, in the order the file's error message lists them.
    pub const ALL: [TriggerKind; 6] = [
        TriggerKind::Election,
        TriggerKind::Market,
        TriggerKind::Season,
        TriggerKind::Transhumance,
        TriggerKind::Holiday,
        TriggerKind::Other,
    ];

    /// Its name in the file and the GeoJSON.
    pub fn as_str(self) -> &'static str {
        match self {
            TriggerKind::Election => "election",
            TriggerKind::Market => "market",
            TriggerKind::Season => "season",
            TriggerKind::Transhumance => "transhumance",
            TriggerKind::Holiday => "holiday",
            TriggerKind::Other => "other",
        }
    }
}

/// A month and day of a yearly range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct MonthDay {
    /// 1..=12.
    pub month: u32,
    /// 1..=31, valid for the month in a leap year.
    pub day: u32,
}

impl MonthDay {
    /// This month and day in `year`; 29 February is 28 February in a
    /// common year.
    fn in_year(self, year: i32) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(year, self.month, self.day)
            .or_else(|| NaiveDate::from_ymd_opt(year, self.month, self.day - 1))
    }
}

/// When a trigger happens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum When {
    /// One day.
    Day(NaiveDate),
    /// A range of days, both included.
    Range(NaiveDate, NaiveDate),
    /// Every year from one month and day to another, both included; a range
    /// whose end comes before its start runs over the new year.
    Yearly(MonthDay, MonthDay),
    /// Every week on this day.
    Weekly(Weekday),
}

/// Where a trigger happens.
#[derive(Debug, Clone, PartialEq)]
pub enum Where {
    /// The whole mission area (no area given).
    Everywhere,
    /// min_lon, min_lat, max_lon, max_lat.
    BBox([f64; 4]),
    /// A named place of the file's `[places]` table.
    Place {
        /// Its name.
        name: String,
        /// lon, lat.
        at: [f64; 2],
    },
}

/// One entry of the calendar.
#[derive(Debug, Clone, PartialEq)]
pub struct Trigger {
    /// Its name.
    pub name: String,
    /// What it is.
    pub kind: TriggerKind,
    /// When it happens.
    pub when: When,
    /// Where.
    pub area: Where,
    /// A free note for the analysts.
    pub note: Option<String>,
}

/// The calendar: its entries in file order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Calendar {
    /// The entries.
    pub triggers: Vec<Trigger>,
}

/// A fault in a calendar file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// Not TOML.
    #[error("trigger calendar: not TOML: {0}")]
    Syntax(String),
    /// A top-level key other than `trigger` and `places`.
    #[error(
        "trigger calendar: unknown table {0:?}; expected [[trigger]] entries and a [places] table"
    )]
    UnknownTable(String),
    /// A named place that is not `[lon, lat]`.
    #[error("trigger calendar: place {name:?}: {reason}")]
    Place {
        /// The place.
        name: String,
        /// Why.
        reason: String,
    },
    /// An entry's field.
    #[error("trigger calendar: entry {index} ({name}): field {field:?}: {reason}")]
    Entry {
        /// 1-based entry number in the file.
        index: usize,
        /// The entry's name, or "no name".
        name: String,
        /// The field.
        field: String,
        /// Why.
        reason: String,
    },
}

/// The fields an entry may have.
const FIELDS: [&str; 10] = [
    "name", "kind", "date", "from", "to", "yearly", "weekly", "bbox", "place", "note",
];

/// A value as the file wrote it, for messages.
fn show(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => format!("{s:?}"),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(x) => x.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Datetime(d) => d.to_string(),
        toml::Value::Array(_) => "an array".into(),
        toml::Value::Table(_) => "a table".into(),
    }
}

fn date_of(v: &toml::Value) -> Result<NaiveDate, String> {
    let s = match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Datetime(d) if d.time.is_none() && d.offset.is_none() => d.to_string(),
        _ => return Err("expected a date YYYY-MM-DD".into()),
    };
    NaiveDate::parse_from_str(&s, "%Y-%m-%d").map_err(|_| format!("{s:?} is not a date YYYY-MM-DD"))
}

fn month_day(v: &toml::Value) -> Result<MonthDay, String> {
    let s = v.as_str().ok_or("expected a month and day \"MM-DD\"")?;
    // Checked against a leap year, so 29 February is allowed.
    NaiveDate::parse_from_str(&format!("2000-{s}"), "%Y-%m-%d")
        .ok()
        .filter(|_| s.len() == 5)
        .map(|d| MonthDay {
            month: d.month(),
            day: d.day(),
        })
        .ok_or_else(|| format!("{s:?} is not a month and day \"MM-DD\""))
}

fn lonlat(v: &toml::Value, n: usize) -> Result<Vec<f64>, String> {
    let a = v
        .as_array()
        .filter(|a| a.len() == n)
        .ok_or_else(|| format!("expected an array of {n} numbers"))?;
    let xs: Vec<f64> = a
        .iter()
        .map(|x| x.as_float().or_else(|| x.as_integer().map(|i| i as f64)))
        .collect::<Option<_>>()
        .ok_or_else(|| format!("expected an array of {n} numbers"))?;
    for (i, x) in xs.iter().enumerate() {
        let lim = if i % 2 == 0 { 180.0 } else { 90.0 };
        if !x.is_finite() || x.abs() > lim {
            return Err(format!(
                "{x} is not a {}",
                if i % 2 == 0 { "longitude" } else { "latitude" }
            ));
        }
    }
    Ok(xs)
}

impl Calendar {
    /// Parses a calendar file's text.
    pub fn parse(text: &str) -> Result<Calendar, CalendarError> {
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| CalendarError::Syntax(e.message().to_string()))?;
        let mut places = std::collections::BTreeMap::new();
        let mut entries: &[toml::Value] = &[];
        for (k, v) in &table {
            match (k.as_str(), v) {
                ("places", toml::Value::Table(t)) => {
                    for (name, at) in t {
                        let xy = lonlat(at, 2).map_err(|reason| CalendarError::Place {
                            name: name.clone(),
                            reason,
                        })?;
                        places.insert(name.clone(), [xy[0], xy[1]]);
                    }
                }
                ("trigger", toml::Value::Array(a)) => entries = a,
                _ => return Err(CalendarError::UnknownTable(k.clone())),
            }
        }
        let triggers = entries
            .iter()
            .enumerate()
            .map(|(i, e)| entry(i + 1, e, &places))
            .collect::<Result<_, _>>()?;
        Ok(Calendar { triggers })
    }

    /// Reads and parses a calendar file.
    pub fn read(path: &std::path::Path) -> Result<Calendar, CalendarError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| CalendarError::Syntax(format!("cannot read {}: {e}", path.display())))?;
        Calendar::parse(&text)
    }
}

fn entry(
    index: usize,
    e: &toml::Value,
    places: &std::collections::BTreeMap<String, [f64; 2]>,
) -> Result<Trigger, CalendarError> {
    let name = e
        .get("name")
        .and_then(toml::Value::as_str)
        .map(str::to_string);
    let fault = |field: &str, reason: String| CalendarError::Entry {
        index,
        name: name
            .clone()
            .map_or_else(|| "no name".into(), |n| format!("{n:?}")),
        field: field.to_string(),
        reason,
    };
    let t = e
        .as_table()
        .ok_or_else(|| fault("trigger", "expected a table".into()))?;
    for k in t.keys() {
        if !FIELDS.contains(&k.as_str()) {
            return Err(fault(
                k,
                format!("unknown field; fields: {}", FIELDS.join(", ")),
            ));
        }
    }
    let name = match (t.get("name"), &name) {
        (_, Some(n)) if !n.trim().is_empty() => n.clone(),
        (None, _) => return Err(fault("name", "missing".into())),
        _ => return Err(fault("name", "expected a non-empty string".into())),
    };
    let kind = match t.get("kind") {
        None => return Err(fault("kind", "missing".into())),
        Some(v) => {
            let s = v.as_str().unwrap_or_default();
            TriggerKind::ALL
                .into_iter()
                .find(|k| k.as_str() == s)
                .ok_or_else(|| {
                    let names: Vec<&str> = TriggerKind::ALL.iter().map(|k| k.as_str()).collect();
                    fault(
                        "kind",
                        format!("unknown kind {}; kinds: {}", show(v), names.join(", ")),
                    )
                })?
        }
    };
    let given: Vec<&str> = ["date", "from", "yearly", "weekly"]
        .into_iter()
        .filter(|k| t.contains_key(*k))
        .collect();
    let when = match given.as_slice() {
        ["date"] => {
            if t.contains_key("to") {
                return Err(fault("to", "goes with \"from\", not \"date\"".into()));
            }
            When::Day(date_of(&t["date"]).map_err(|r| fault("date", r))?)
        }
        ["from"] => {
            let from = date_of(&t["from"]).map_err(|r| fault("from", r))?;
            let to = t
                .get("to")
                .ok_or_else(|| fault("to", "missing: \"from\" needs \"to\"".into()))?;
            let to = date_of(to).map_err(|r| fault("to", r))?;
            if to < from {
                return Err(fault(
                    "to",
                    format!("{to} is before \"from\" {from} (an inverted range)"),
                ));
            }
            When::Range(from, to)
        }
        ["yearly"] => {
            let y = t["yearly"].as_table().ok_or_else(|| {
                fault(
                    "yearly",
                    "expected { from = \"MM-DD\", to = \"MM-DD\" }".into(),
                )
            })?;
            if let Some(k) = y.keys().find(|k| *k != "from" && *k != "to") {
                return Err(fault(
                    &format!("yearly.{k}"),
                    "unknown field; fields: from, to".into(),
                ));
            }
            let md = |k: &str| {
                let f = format!("yearly.{k}");
                y.get(k)
                    .ok_or_else(|| fault(&f, "missing".into()))
                    .and_then(|v| month_day(v).map_err(|r| fault(&f, r)))
            };
            if t.contains_key("to") {
                return Err(fault("to", "goes with \"from\", not \"yearly\"".into()));
            }
            When::Yearly(md("from")?, md("to")?)
        }
        ["weekly"] => {
            if t.contains_key("to") {
                return Err(fault("to", "goes with \"from\", not \"weekly\"".into()));
            }
            let s = t["weekly"].as_str().unwrap_or_default();
            let day = s.parse::<Weekday>().map_err(|_| {
                fault(
                    "weekly",
                    format!(
                        "{} is not a day of the week (monday ... sunday)",
                        show(&t["weekly"])
                    ),
                )
            })?;
            When::Weekly(day)
        }
        [] => {
            return Err(fault(
                "date",
                "missing: one of \"date\", \"from\" and \"to\", \"yearly\" or \"weekly\"".into(),
            ))
        }
        more => {
            return Err(fault(
                more[1],
                format!("only one of {} may be given", more.join(", ")),
            ))
        }
    };
    let area = match (t.get("bbox"), t.get("place")) {
        (Some(_), Some(_)) => {
            return Err(fault(
                "place",
                "give \"bbox\" or \"place\", not both".into(),
            ))
        }
        (Some(b), None) => {
            let b = lonlat(b, 4).map_err(|r| fault("bbox", r))?;
            if b[0] > b[2] || b[1] > b[3] {
                return Err(fault(
                    "bbox",
                    "expected [min_lon, min_lat, max_lon, max_lat] with min <= max".into(),
                ));
            }
            Where::BBox([b[0], b[1], b[2], b[3]])
        }
        (None, Some(p)) => {
            let n = p
                .as_str()
                .ok_or_else(|| fault("place", "expected the name of a place".into()))?;
            let at = places.get(n).ok_or_else(|| {
                fault(
                    "place",
                    format!("{n:?} is not in the [places] table of the file"),
                )
            })?;
            Where::Place {
                name: n.to_string(),
                at: *at,
            }
        }
        (None, None) => Where::Everywhere,
    };
    let note = match t.get("note") {
        None => None,
        Some(toml::Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(fault("note", "expected a string".into())),
    };
    Ok(Trigger {
        name,
        kind,
        when,
        area,
        note,
    })
}

/// One occurrence of a trigger: its days, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Occurrence {
    /// First day.
    pub first: NaiveDate,
    /// Last day.
    pub last: NaiveDate,
    /// Days it falls on within the window (a weekly trigger's market
    /// days; otherwise the days of the range within the window).
    pub days: u32,
}

/// The window a trigger calendar is read over: the day after `as_of`
/// through three months later.
pub fn window(as_of: NaiveDate) -> (NaiveDate, NaiveDate) {
    let first = as_of.succ_opt().unwrap_or(as_of);
    let last = as_of.checked_add_months(Months::new(3)).unwrap_or(as_of);
    (first, last)
}

impl Trigger {
    /// Whether, and how, it falls in `[first, last]`: the span of its
    /// occurrences overlapping the window (a yearly range found in
    /// whichever year it starts, so one across the new year is whole).
    pub fn falls_in(&self, first: NaiveDate, last: NaiveDate) -> Option<Occurrence> {
        let overlap = |a: NaiveDate, b: NaiveDate| -> Option<Occurrence> {
            let (x, y) = (a.max(first), b.min(last));
            (x <= y).then(|| Occurrence {
                first: a,
                last: b,
                days: (y - x).num_days() as u32 + 1,
            })
        };
        match &self.when {
            When::Day(d) => overlap(*d, *d),
            When::Range(a, b) => overlap(*a, *b),
            When::Yearly(from, to) => (first.year() - 1..=last.year())
                .filter_map(|y| {
                    let a = from.in_year(y)?;
                    let b = to.in_year(if to < from { y + 1 } else { y })?;
                    overlap(a, b)
                })
                .reduce(|p, q| Occurrence {
                    first: p.first.min(q.first),
                    last: p.last.max(q.last),
                    days: p.days + q.days,
                }),
            When::Weekly(day) => {
                let ahead = (7 + day.num_days_from_monday() as i64
                    - first.weekday().num_days_from_monday() as i64)
                    % 7;
                let a = first + chrono::Duration::days(ahead);
                (a <= last).then(|| {
                    let n = (last - a).num_days() / 7;
                    Occurrence {
                        first: a,
                        last: a + chrono::Duration::days(7 * n),
                        days: n as u32 + 1,
                    }
                })
            }
        }
    }

    /// Distance in metres from `p` (lon, lat) to its area: 0 inside a
    /// bbox; `None` for a trigger without an area.
    pub fn distance_m(&self, p: [f64; 2]) -> Option<f64> {
        use geo::{Distance, Haversine};
        let q = match &self.area {
            Where::Everywhere => return None,
            Where::BBox(b) => [p[0].clamp(b[0], b[2]), p[1].clamp(b[1], b[3])],
            Where::Place { at, .. } => *at,
        };
        Some(Haversine.distance(
            geo_types::Point::new(p[0], p[1]),
            geo_types::Point::new(q[0], q[1]),
        ))
    }
}

impl fmt::Display for When {
    /// As the file writes it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            When::Day(d) => write!(f, "{d}"),
            When::Range(a, b) => write!(f, "{a} to {b}"),
            When::Yearly(a, b) => write!(
                f,
                "every year {:02}-{:02} to {:02}-{:02}",
                a.month, a.day, b.month, b.day
            ),
            When::Weekly(d) => write!(f, "every {d}"),
        }
    }
}

#[cfg(test)]
#[path = "calendar_tests.rs"]
mod tests;
