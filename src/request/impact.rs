//! The impact request (`jointmap impact`, `/analysis/impact`): incident
//! counts before and after patrol or base presence began, against
//! comparable cells without presence. Association, not proof.

use super::events::FilterArgs;
use super::surface::{window, GridArgs, PresenceArgs, DAY};
use super::Outcome;
use crate::analysis::coverage::load_presence;
use crate::analysis::impact::{impact, Impact, ImpactParams};
use crate::analysis::json_num as num;
use crate::analysis::visits::patrol_visits;
use crate::model::Layer;
use crate::store::Store;
use chrono::DateTime;
use serde_json::{json, Value};

/// Parameters of the impact comparison.
#[derive(Debug, clap::Args)]
pub struct ImpactRequest {
    /// Which incidents are counted (--from/--to: the period in which presence
    /// onsets are sought; by default the 365 days up to the latest data).
    #[command(flatten)]
    pub incidents: FilterArgs,
    /// The grid.
    #[command(flatten)]
    pub grid: GridArgs,
    /// Presence parameters (what counts as a patrol visit).
    #[command(flatten)]
    pub presence: PresenceArgs,
    /// Length of the before and after windows, days.
    #[arg(long, default_value_t = 30)]
    pub window_days: i64,
}

/// Length of the default impact period, days.
const DEFAULT_PERIOD_DAYS: i64 = 365;

impl ImpactRequest {
    /// Runs the analysis against `store`.
    pub fn run(&self, store: &dyn Store) -> crate::Result<Outcome> {
        let (_, to) = window(store, self.incidents.from, self.incidents.to)?;
        let from = self
            .incidents
            .from
            .map_or(to - DEFAULT_PERIOD_DAYS * DAY, |t| t.timestamp());
        let params = ImpactParams {
            from,
            to,
            window_days: self.window_days,
        };
        params.validate()?;
        let w = self.window_days * DAY;
        let cov = self.presence.params(from - w, to)?;
        let bbox = self.incidents.bbox;
        let pad = cov.corridor_m.iter().fold(0.0f64, |a, b| a.max(*b));
        let grid = self.grid.build(store, bbox, pad)?;
        let presence = load_presence(store, from - w, to, bbox)?;
        let visits = patrol_visits(&grid, &presence, &cov)?;
        let incidents = self.incidents.load_window(
            store,
            Layer::Incidents,
            DateTime::from_timestamp(from - w, 0),
            DateTime::from_timestamp(to, 0),
        )?;
        let result = impact(&grid, &presence, &visits, &incidents, &params)?;
        let mut summary = format!(
            "impact: {} incidents, {} patrols, {} bases on {} cells; {} onsets in {} groups (association, not proof)",
            incidents.len(),
            presence.patrols.len(),
            presence.bases.len(),
            grid.len(),
            result.treated.len(),
            result.groups.len()
        );
        for g in &result.groups {
            summary.push_str(&format!(
                "\n  {} {:<12} cells {:>6}  before {:>6} after {:>6}  comparable cells: before {:>8.1} after {:>8.1}  did {:+.1}",
                g.kind, g.key, g.cells, g.before, g.after, g.control_before, g.control_after, g.did()
            ));
        }
        Ok(Outcome {
            geojson: to_geojson(&result, &grid),
            summary,
        })
    }
}

/// The table row of a group as JSON properties.
fn row(result: &Impact, i: usize) -> Value {
    let g = &result.groups[i];
    let (rb, ra) = g.rates(result.params.window_days);
    let cells = g.cells as f64;
    let months = result.params.window_days as f64 / 30.0;
    let (cb, ca) = if cells > 0.0 {
        (
            g.control_before / cells / months,
            g.control_after / cells / months,
        )
    } else {
        (f64::NAN, f64::NAN)
    };
    json!({
        "group": format!("{}:{}", g.kind, g.key),
        "kind": g.kind,
        "key": g.key,
        "name": g.name,
        "cells": g.cells,
        "unmatched": g.unmatched,
        "before": g.before,
        "after": g.after,
        "rate_before": num(rb),
        "rate_after": num(ra),
        "control_before": num(g.control_before),
        "control_after": num(g.control_after),
        "control_rate_before": num(cb),
        "control_rate_after": num(ca),
        "did": num(g.did()),
        "count": g.before + g.after,
        "count_sensitive": g.sensitive,
    })
}

/// Column order of the CSV table.
pub const CSV_COLUMNS: &[&str] = &[
    "group",
    "kind",
    "key",
    "name",
    "cells",
    "unmatched",
    "before",
    "after",
    "rate_before",
    "rate_after",
    "control_before",
    "control_after",
    "control_rate_before",
    "control_rate_after",
    "did",
];

/// The impact table as CSV (RFC 4180), from the `table` member of the
/// GeoJSON written by [`ImpactRequest::run`], so both outputs agree and
/// the CSV can be made from a filtered result.
pub fn table_csv(geojson: &Value) -> String {
    let mut out = CSV_COLUMNS.join(",");
    out.push_str("\r\n");
    let rows = geojson["jointmap"]["table"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for r in rows {
        let fields: Vec<String> = CSV_COLUMNS
            .iter()
            .map(|c| match &r[*c] {
                Value::String(s) if s.contains([',', '"', '\n', '\r']) => {
                    format!("\"{}\"", s.replace('"', "\"\""))
                }
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                v => v.to_string(),
            })
            .collect();
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    }
    out
}

fn to_geojson(result: &Impact, grid: &crate::grid::Grid) -> Value {
    let features: Vec<Value> = result
        .treated
        .iter()
        .map(|t| {
            let cell = &grid.cells[t.cell];
            let g = &result.groups[t.group];
            json!({
                "type": "Feature",
                "id": format!("{}:{}:{}", g.kind, g.key, cell.key),
                "geometry": {"type": "Polygon", "coordinates": [cell.ring]},
                "properties": {
                    "kind": "treated-cell",
                    "group": format!("{}:{}", g.kind, g.key),
                    "cell": cell.key,
                    "onset": crate::analysis::json_time(Some(t.onset)),
                    "before": t.before,
                    "after": t.after,
                    "control_before": t.control.map_or(Value::Null, |c| num(c.0)),
                    "control_after": t.control.map_or(Value::Null, |c| num(c.1)),
                    "comparable_cells": t.controls,
                    "count": t.before + t.after,
                    "count_sensitive": t.sensitive,
                }
            })
        })
        .collect();
    let table: Vec<Value> = (0..result.groups.len()).map(|i| row(result, i)).collect();
    let p = &result.params;
    json!({
        "type": "FeatureCollection",
        "features": features,
        "jointmap": {
            "analysis": "impact",
            "caution": "Association, not proof: patrols and bases go where trouble is expected, incidents are reported more where the mission is, and much else changes at the same time.",
            "method": "per patrol mode and per base opened in the period: cells where presence began (after a window without any), incidents in the window before and after onset, against cells without presence on the same dates and in the same stratum of incidents before (0, 1, 2-3, 4+); rates are incidents per cell per 30 days; did = (after - before) - (control_after - control_before) (docs/analysis.md)",
            "period": {"from": crate::analysis::json_time(Some(p.from)), "to": crate::analysis::json_time(Some(p.to))},
            "window_days": p.window_days,
            "table": table,
        }
    })
}
