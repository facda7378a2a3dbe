//! The quarterly outlook (`jointmap brief quarterly-outlook`): the last
//! quarter's emerging hot spots (counts per pattern, the new, intensifying
//! and persistent areas ranked, their persistence), casualties of the
//! quarter and of the one before by sex and age, and the mission's trigger
//! calendar for the next three months with the hot spots near each
//! trigger.
//!
//! Like every brief it reads only gated products: the casualty figures
//! are trends parts weighted by casualty fields, asked of the [`Runner`]
//! like any other part, so a role receives only the sums the gate gives
//! it (over released groups of at least k for a partner), and a role that
//! may not see the sex and age fields receives the totals alone. Rules in
//! docs/briefs.md.

use super::calendar::{self, Calendar, Occurrence, Trigger, Where};
use super::cells::{param_num, text};
use super::{none_match, parse, rfc3339, weekly_tier, Area, Brief, BriefRequest, Part, Runner};
use crate::analysis::product::{Field, Param, Product};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use std::sync::Arc;

/// Days in a quarter of the outlook: 13 weeks (the default protection
/// step of the access policy is the same, so a partner's quarters are
/// whole protection steps).
pub const QUARTER_DAYS: u32 = 91;

/// The sex and age groups of the incident model's casualty fields.
pub const GROUPS: [&str; 5] = ["women", "men", "girls", "boys", "unknown"];

/// The patterns the outlook lists as areas, in tier order.
pub const LISTED: [&str; 3] = ["intensifying-hot", "new-hot", "persistent-hot"];

/// The part names of the casualty parts: totals, then killed and injured
/// per group (`killed_women` ... `injured_unknown`).
const PARTS: [&str; 12] = [
    "casualties_fatalities",
    "casualties_total",
    "casualties_killed_women",
    "casualties_killed_men",
    "casualties_killed_girls",
    "casualties_killed_boys",
    "casualties_killed_unknown",
    "casualties_injured_women",
    "casualties_injured_men",
    "casualties_injured_girls",
    "casualties_injured_boys",
    "casualties_injured_unknown",
];

/// One quarter's figures, as the role received them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Quarter {
    /// First instant (RFC 3339), as the gate applied it.
    pub from: String,
    /// End (RFC 3339, excluded).
    pub to: String,
    /// Incidents (sum over the cells the role received).
    pub incidents: u64,
    /// People killed.
    pub killed: f64,
    /// People injured.
    pub injured: f64,
    /// Killed per [`GROUPS`]; `None` when the role may not have them.
    pub killed_by: Option<[f64; 5]>,
    /// Injured per [`GROUPS`]; `None` when the role may not have them.
    pub injured_by: Option<[f64; 5]>,
}

/// A trigger of the calendar in the next three months.
#[derive(Debug, Clone, PartialEq)]
pub struct Upcoming {
    /// The calendar entry.
    pub trigger: Trigger,
    /// When it falls.
    pub occurrence: Occurrence,
    /// Ranks of the listed areas whose centre is within `near_km` of its
    /// area; `None` for a trigger of the whole mission area.
    pub near: Option<Vec<usize>>,
}

/// What the outlook adds to a brief.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Outlook {
    /// Steps of the trends cube as applied (for persistence).
    pub steps: u64,
    /// Cells per emerging hot spot pattern (the cells the role received).
    pub patterns: Vec<(String, u64)>,
    /// The previous quarter, then the last one.
    pub quarters: [Quarter; 2],
    /// The calendar's window: the day after the as-of date to three months later.
    pub window: (NaiveDate, NaiveDate),
    /// Whether a calendar was given.
    pub calendar: bool,
    /// Its triggers in the window, by first day then name.
    pub triggers: Vec<Upcoming>,
}

/// An area's persistence: the share of the cube's steps it was hot in.
pub fn persistence(hot_steps: u64, steps: u64) -> f64 {
    if steps == 0 {
        0.0
    } else {
        hot_steps as f64 / steps as f64
    }
}

/// The outlook's order of areas: intensifying, new, persistent; then
/// more incidents; then cell key.
pub fn rank(areas: &mut [Area]) {
    for a in areas.iter_mut() {
        a.score = weekly_tier(&a.pattern);
    }
    areas.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| super::count_of(&b.count).cmp(&super::count_of(&a.count)))
            .then_with(|| a.cell.cmp(&b.cell))
    });
}

/// The triggers of `cal` in the window after `as_of`, each with the ranks
/// of the `areas` (in rank order) within `near_km`.
pub fn upcoming(cal: &Calendar, as_of: NaiveDate, areas: &[Area], near_km: f64) -> Vec<Upcoming> {
    let (first, last) = calendar::window(as_of);
    let mut out: Vec<Upcoming> = cal
        .triggers
        .iter()
        .filter_map(|t| {
            let occurrence = t.falls_in(first, last)?;
            let near = match t.area {
                Where::Everywhere => None,
                _ => Some(
                    areas
                        .iter()
                        .enumerate()
                        .filter(|(_, a)| t.distance_m(a.centre).is_some_and(|m| m <= near_km * 1e3))
                        .map(|(i, _)| i + 1)
                        .collect(),
                ),
            };
            Some(Upcoming {
                trigger: t.clone(),
                occurrence,
                near,
            })
        })
        .collect();
    out.sort_by(|a, b| {
        (a.occurrence.first.max(first), &a.trigger.name)
            .cmp(&(b.occurrence.first.max(first), &b.trigger.name))
    });
    out
}

/// Sums of a two-step casualty part per step: `(values, counts)`, the
/// previous quarter first, with the quarters' bounds.
fn by_quarter(p: &Product) -> ([f64; 2], [u64; 2], Option<[String; 3]>) {
    let first = match p.meta("first_step_start") {
        Some(Field::Param(Param::Text(s))) => Some(s.clone()),
        _ => None,
    };
    let mut v = [0.0; 2];
    let mut n = [0u64; 2];
    for (name, rows) in &p.tables {
        if *name != "series" {
            continue;
        }
        for r in rows {
            let get = |k: &str| r.iter().find(|(n, _)| *n == k).map(|(_, f)| f);
            let i = match get("step") {
                Some(Field::Key(s)) if Some(s) == first.as_ref() => 0,
                Some(Field::Key(_)) => 1,
                _ => continue,
            };
            if let Some(Field::Value(x)) = get("value") {
                v[i] += x;
            }
            if let Some(Field::Count { n: c, .. }) = get("count") {
                n[i] += c;
            }
        }
    }
    let bounds = first.and_then(|f| {
        let days = param_num(p, "step_days")?;
        let start = DateTime::parse_from_rfc3339(&f).ok()?.with_timezone(&Utc);
        let mid = start + Duration::seconds((days * 86_400.0) as i64);
        let end = match p.meta("cube_end") {
            Some(Field::Param(Param::Text(s))) => s.clone(),
            _ => rfc3339(mid + Duration::seconds((days * 86_400.0) as i64)),
        };
        Some([f, rfc3339(mid), end])
    });
    (v, n, bounds)
}

/// Builds the outlook's content into `brief` (called by
/// [`Brief::assemble`] after the trends and blind spot parts).
pub(super) fn build(
    brief: &mut Brief,
    req: &BriefRequest,
    common: &[String],
    runner: &mut dyn Runner,
    areas: &mut [Area],
) -> crate::Result<()> {
    let mut o = Outlook::default();
    if let Some((_, trends)) = brief.parts.iter().find(|(n, _)| *n == "trends") {
        o.steps = param_num(trends, "steps").unwrap_or(0.0) as u64;
        for it in &trends.items {
            if let Some(p) = text(it, "pattern") {
                match o.patterns.iter_mut().find(|(q, _)| *q == p) {
                    Some((_, n)) => *n += 1,
                    None => o.patterns.push((p, 1)),
                }
            }
        }
        let order = |p: &str| {
            crate::analysis::trends::emerging::Pattern::ALL
                .iter()
                .position(|q| q.as_str() == p)
                .unwrap_or(usize::MAX)
        };
        o.patterns.sort_by_key(|(p, _)| order(p));
    }
    rank(areas);
    // The casualty parts: two quarters of QUARTER_DAYS ending at the
    // as-of time, every cell, weighted.
    let weights = ["fatalities", "casualties"]
        .into_iter()
        .map(String::from)
        .chain(
            ["killed", "injured"]
                .into_iter()
                .flat_map(|k| GROUPS.into_iter().map(move |g| format!("field:{k}_{g}"))),
        );
    let mut sums: Vec<Option<([f64; 2], [u64; 2])>> = Vec::new();
    let mut bounds = None;
    for (i, w) in weights.enumerate() {
        // Once the gate refuses a group field, it refuses them all: the
        // fields are hidden together.
        if i > 2 && sums.get(2).is_some_and(Option::is_none) {
            sums.push(None);
            continue;
        }
        let mut args = common.to_vec();
        args.extend([
            "--step-days".into(),
            QUARTER_DAYS.to_string(),
            "--steps".into(),
            "2".into(),
            "--as-of".into(),
            rfc3339(req.as_of),
            "--weight".into(),
            w,
            "--all-cells".into(),
        ]);
        let r = none_match(runner.run(Part::Trends(Box::new(parse(&args)?))));
        match brief.optional(PARTS[i], r)? {
            Some(p) => {
                let (v, n, b) = by_quarter(&p);
                bounds = bounds.or(b);
                sums.push(Some((v, n)));
                brief.parts.push((PARTS[i], p));
            }
            None => sums.push(None),
        }
    }
    let start = req.as_of - Duration::days(2 * i64::from(QUARTER_DAYS));
    let [a, b, c] = bounds.unwrap_or_else(|| {
        [
            rfc3339(start),
            rfc3339(req.as_of - Duration::days(i64::from(QUARTER_DAYS))),
            rfc3339(req.as_of),
        ]
    });
    for (q, (from, to)) in [(a, b.clone()), (b, c)].into_iter().enumerate() {
        let at = |i: usize| sums.get(i).copied().flatten();
        let group = |base: usize| -> Option<[f64; 5]> {
            let mut g = [0.0; 5];
            for (j, x) in g.iter_mut().enumerate() {
                *x = at(base + j)?.0[q];
            }
            Some(g)
        };
        let killed = at(0).map_or(0.0, |s| s.0[q]);
        o.quarters[q] = Quarter {
            from,
            to,
            incidents: at(0).map_or(0, |s| s.1[q]),
            killed,
            injured: at(1).map_or(0.0, |s| s.0[q] - killed),
            killed_by: group(2),
            injured_by: group(7),
        };
    }
    let as_of_day = req.as_of.date_naive();
    o.window = calendar::window(as_of_day);
    if let Some(cal) = &req.calendar {
        o.calendar = true;
        o.triggers = upcoming(cal, as_of_day, areas, req.near_km);
    }
    brief.outlook = Some(o);
    Ok(())
}

impl Outlook {
    /// Its figures as the brief product's metadata (GeoJSON `jointmap`).
    pub fn meta(&self) -> Vec<(&'static str, Field)> {
        let num = |x: Option<[f64; 5]>, j: usize| x.map_or(Param::Null, |g| Param::Num(g[j]));
        let quarters = self
            .quarters
            .iter()
            .zip(["previous", "last"])
            .map(|(q, name)| {
                let mut m: Vec<(&'static str, Param)> = vec![
                    ("quarter", name.into()),
                    ("from", q.from.clone().into()),
                    ("to", q.to.clone().into()),
                    ("incidents", q.incidents.into()),
                    ("killed", q.killed.into()),
                    ("injured", q.injured.into()),
                ];
                for j in 0..GROUPS.len() {
                    m.push((KILLED[j], num(q.killed_by, j)));
                    m.push((INJURED[j], num(q.injured_by, j)));
                }
                Param::Object(m)
            })
            .collect();
        let triggers = self
            .triggers
            .iter()
            .map(|u| {
                let t = &u.trigger;
                Param::Object(vec![
                    ("name", t.name.clone().into()),
                    ("kind", t.kind.as_str().into()),
                    ("when", t.when.to_string().into()),
                    ("first_day", u.occurrence.first.to_string().into()),
                    ("last_day", u.occurrence.last.to_string().into()),
                    ("days_in_window", u64::from(u.occurrence.days).into()),
                    ("area", area_text(&t.area).into()),
                    ("note", t.note.clone().map_or(Param::Null, Param::Text)),
                    (
                        "areas_near",
                        u.near.as_ref().map_or(Param::Null, |v| {
                            Param::List(v.iter().map(|&r| r.into()).collect())
                        }),
                    ),
                ])
            })
            .collect();
        vec![
            ("quarter_days", Field::param(u64::from(QUARTER_DAYS))),
            (
                "patterns",
                Field::Param(Param::Object(
                    self.patterns
                        .iter()
                        .filter_map(|(p, n)| {
                            crate::analysis::trends::emerging::Pattern::ALL
                                .iter()
                                .find(|q| q.as_str() == p)
                                .map(|q| (q.as_str(), Param::from(*n)))
                        })
                        .collect(),
                )),
            ),
            ("casualties", Field::Param(Param::List(quarters))),
            (
                "trigger_window",
                Field::param(format!("{} to {}", self.window.0, self.window.1)),
            ),
            ("calendar", Field::param(self.calendar)),
            ("triggers", Field::Param(Param::List(triggers))),
        ]
    }

    /// Per-area fields of the brief product: persistence.
    pub fn area_fields(&self, a: &Area) -> Vec<(&'static str, Field)> {
        vec![(
            "persistence",
            Field::Value(persistence(a.hot_steps, self.steps)),
        )]
    }
}

/// The metadata names of killed per group.
pub const KILLED: [&str; 5] = [
    "killed_women",
    "killed_men",
    "killed_girls",
    "killed_boys",
    "killed_unknown",
];
/// The metadata names of injured per group.
pub const INJURED: [&str; 5] = [
    "injured_women",
    "injured_men",
    "injured_girls",
    "injured_boys",
    "injured_unknown",
];

/// A trigger's area in words: the place's name, the bbox, or the whole area.
pub fn area_text(w: &Where) -> String {
    match w {
        Where::Everywhere => "whole mission area".into(),
        Where::BBox(b) => format!("{},{},{},{}", b[0], b[1], b[2], b[3]),
        Where::Place { name, .. } => name.clone(),
    }
}

/// The calendar to attach to a request: read from `path`.
pub fn load_calendar(path: &std::path::Path) -> crate::Result<Arc<Calendar>> {
    Calendar::read(path)
        .map(Arc::new)
        .map_err(|e| crate::analysis::AnalysisError::param("calendar", e.to_string()).into())
}

#[cfg(test)]
#[path = "outlook_tests.rs"]
mod tests;
