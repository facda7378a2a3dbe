//! Releasing events to a role without full view: the fixed partition.
//!
//! Every event is put in a group: its cell of the *protection grid* (square
//! cells of the policy's `min_cell_km`, anchored at `grid_anchor`) and its
//! time step (`time_step_days`, from Monday 1970-01-05), all categories
//! together (a category in the key would leave almost nothing of sparse
//! data; category filters are refused instead, see `requests.rs`). A group
//! of fewer than `k` events (`k_sensitive` when it holds a sexual-violence or
//! child case) is left out whole; the events of the other groups are moved
//! to the centre of their cell and the start of their step. The analysis
//! then runs on what is left, so every number the role receives (counts,
//! sums, densities, z-scores, centroids, totals, and whether an error
//! occurs) is a function of whole groups of at least k events:
//!
//! - narrowing a bbox or a window selects whole groups, since windows are
//!   snapped to whole steps and an event is in a bbox when its cell's centre is;
//! - the difference of two answers (two windows, two bboxes, two cell
//!   sizes) is a sum of whole groups, each 0 or at least k;
//! - fewer than k events of one group change nothing at all.
//!
//! Filters that would split a group (category, perpetrator, verification,
//! precision) are refused for these roles (see `requests.rs`).

use super::AggregateRules;
use crate::analysis::Events;
use crate::grid::Laea;
use std::collections::HashMap;

/// Monday 1970-01-05T00:00:00Z, where time steps start.
const EPOCH_MONDAY: i64 = 4 * 86_400;

/// The fixed partition of space and time that aggregates for a role
/// without full view are built from.
#[derive(Debug, Clone, PartialEq)]
pub struct Partition {
    /// Origin of the protection grid (lon, lat).
    pub anchor: [f64; 2],
    /// Side of its cells, metres.
    pub cell_m: f64,
    /// Length of a time step, seconds.
    pub step_s: i64,
}

impl Partition {
    /// The step holding Unix time `t`.
    pub fn step_of(&self, t: i64) -> i64 {
        (t - EPOCH_MONDAY).div_euclid(self.step_s)
    }

    /// The first second of step `s`.
    pub fn step_start(&self, s: i64) -> i64 {
        EPOCH_MONDAY.saturating_add(s.saturating_mul(self.step_s))
    }

    /// `[from, to]` widened to whole steps (`to` inclusive, at the last
    /// second of its step).
    pub fn snap_window(&self, from: Option<i64>, to: Option<i64>) -> (Option<i64>, Option<i64>) {
        (
            from.map(|t| self.step_start(self.step_of(t))),
            to.map(|t| self.step_start(self.step_of(t) + 1) - 1),
        )
    }

    fn projection(&self) -> Laea {
        Laea::wgs84(self.anchor[0], self.anchor[1])
    }
}

/// Releases `events` under `rules` on `partition`: keeps the events whose
/// start lies in `window` (when given; already snapped to whole steps) and
/// whose group holds enough events, moved to their cell's centre and their
/// step's start, and keeps of those the ones whose cell centre lies in
/// `bbox` (when given). Ids are dropped: nothing downstream may name an
/// event. Order is kept, so results stay deterministic.
pub fn release(
    events: &Events,
    rules: &AggregateRules,
    partition: &Partition,
    window: (Option<i64>, Option<i64>),
    bbox: Option<[f64; 4]>,
) -> Events {
    let projection = partition.projection();
    let cell_m = partition.cell_m;
    // (cell, step) of each event in the window, None otherwise.
    let keys: Vec<Option<(i64, i64, i64)>> = (0..events.len())
        .map(|i| {
            let t = events.time[i];
            if window.0.is_some_and(|from| t < from) || window.1.is_some_and(|to| t > to) {
                return None;
            }
            let [x, y] = projection.forward(events.lon[i], events.lat[i]);
            let (cx, cy) = ((x / cell_m).floor(), (y / cell_m).floor());
            if !(cx.is_finite() && cy.is_finite()) || cx.abs() > 1e12 || cy.abs() > 1e12 {
                return None;
            }
            Some((cx as i64, cy as i64, partition.step_of(t)))
        })
        .collect();
    let mut groups: HashMap<(i64, i64, i64), (u64, u64)> = HashMap::new();
    for (i, key) in keys.iter().enumerate() {
        if let Some(key) = key {
            let g = groups.entry(*key).or_default();
            g.0 += 1;
            g.1 += u64::from(events.sensitive.get(i).copied().unwrap_or(false));
        }
    }
    let mut out = Events::default();
    for (i, key) in keys.iter().enumerate() {
        let Some(key) = key else { continue };
        let (n, sensitive) = groups.get(key).copied().unwrap_or((0, 0));
        let k = if sensitive > 0 {
            rules.k.max(rules.k_sensitive)
        } else {
            rules.k
        };
        if n < k as u64 {
            continue;
        }
        let (cx, cy, step) = *key;
        let [lon, lat] = projection.inverse((cx as f64 + 0.5) * cell_m, (cy as f64 + 0.5) * cell_m);
        if let Some(b) = bbox {
            if !(lon >= b[0] && lon <= b[2] && lat >= b[1] && lat <= b[3]) {
                continue;
            }
        }
        out.push(
            String::new(),
            lon,
            lat,
            partition.step_start(step),
            events.weight[i],
            events.category[i].clone(),
            events.actor[i].clone(),
        );
        out.set_last_sensitive(events.sensitive.get(i).copied().unwrap_or(false));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::{Gate, Policy, Principal, Role};
    use crate::model::Layer;

    fn rules() -> AggregateRules {
        let gate = Gate::new(Policy::default(), None).unwrap();
        let p = Principal {
            name: "p".into(),
            role: Role::Partner,
            ingest: vec![],
        };
        gate.aggregate_rules(&p, Layer::Incidents).unwrap()
    }

    fn partition() -> Partition {
        Partition {
            anchor: [20.0, 6.0],
            cell_m: 10_000.0,
            step_s: 7 * 86_400,
        }
    }

    /// `n` events of `category` at (lon, lat), time t.
    fn add(e: &mut Events, n: usize, lon: f64, lat: f64, t: i64, category: &str, sensitive: bool) {
        for i in 0..n {
            e.push(
                format!("id{i}"),
                lon + i as f64 * 1e-5,
                lat,
                t + i as i64,
                1.0,
                category.into(),
                "A".into(),
            );
            e.set_last_sensitive(sensitive);
        }
    }

    const T: i64 = 1_740_960_000; // Monday 2025-03-03

    #[test]
    fn small_groups_go_whole_and_the_rest_is_snapped() {
        let mut e = Events::default();
        add(&mut e, 3, 20.5, 6.5, T, "killing", false);
        add(&mut e, 3, 20.5, 6.5, T, "abduction", false);
        add(&mut e, 9, 21.5, 6.5, T, "sexual-violence", true);
        add(&mut e, 3, 20.5, 6.5, T + 8 * 86_400, "killing", false);
        let out = release(&e, &rules(), &partition(), (None, None), None);
        assert_eq!(
            out.len(),
            6,
            "only the six events of one cell and week stay"
        );
        assert!(out.id.iter().all(String::is_empty));
        assert!(
            out.lon.windows(2).all(|w| w[0] == w[1]) && out.lat.windows(2).all(|w| w[0] == w[1])
        );
        assert!(out.time.iter().all(|t| *t == T));
        assert_eq!(out.category.iter().filter(|c| *c == "killing").count(), 3);
        // The centre is the centre of a 10 km cell anchored at (20, 6).
        let p = partition().projection();
        let [x, y] = p.forward(out.lon[0], out.lat[0]);
        assert!(((x / 10_000.0).fract().abs() - 0.5).abs() < 1e-6, "{x}");
        assert!(((y / 10_000.0).fract().abs() - 0.5).abs() < 1e-6, "{y}");
        // A group with a sensitive case needs k_sensitive: nine are not
        // enough, ten are, and so is a group of other events with them.
        add(&mut e, 1, 21.5, 6.5, T + 3600, "killing", false);
        let out = release(&e, &rules(), &partition(), (None, None), None);
        assert_eq!(out.len(), 16);
        assert_eq!(out.sensitive.iter().filter(|s| **s).count(), 9);
        add(&mut e, 1, 20.5, 6.5, T, "sexual-violence", true);
        let out = release(&e, &rules(), &partition(), (None, None), None);
        assert_eq!(
            out.len(),
            10,
            "the first cell now holds a sensitive case: 7 < 10"
        );
    }

    #[test]
    fn windows_select_whole_steps_by_start() {
        let part = partition();
        let (from, to) = part.snap_window(Some(T + 86_400 * 2 + 5), Some(T + 86_400 * 3));
        assert_eq!(from, Some(T));
        assert_eq!(to, Some(T + 7 * 86_400 - 1));
        let mut e = Events::default();
        add(&mut e, 5, 20.5, 6.5, T - 100, "killing", false);
        add(&mut e, 5, 20.5, 6.5, T + 6 * 86_400, "killing", false);
        let out = release(&e, &rules(), &part, (from, to), None);
        assert_eq!(out.len(), 5);
        assert!(out.time.iter().all(|t| *t == T));
        assert_eq!(part.step_of(EPOCH_MONDAY - 1), -1);
    }

    #[test]
    fn a_bbox_takes_whole_cells_by_their_centre() {
        let mut e = Events::default();
        add(&mut e, 5, 20.51, 6.51, T, "killing", false);
        let all = release(&e, &rules(), &partition(), (None, None), None);
        let (lon, lat) = (all.lon[0], all.lat[0]);
        let inside = [lon - 0.001, lat - 0.001, lon + 0.001, lat + 0.001];
        assert_eq!(
            release(&e, &rules(), &partition(), (None, None), Some(inside)).len(),
            5
        );
        let beside = [lon + 0.001, lat - 0.001, lon + 0.04, lat + 0.001];
        assert_eq!(
            release(&e, &rules(), &partition(), (None, None), Some(beside)).len(),
            0
        );
    }

    #[test]
    fn widening_covers_half_a_cell_diagonal() {
        use crate::request::widen_bbox;
        let b = widen_bbox([20.0, 6.0, 20.1, 6.1], 7_100.0);
        assert!(b[1] < 6.0 - 0.0639 && b[3] > 6.1 + 0.0639);
        assert!(b[0] < 20.0 - 0.064 && b[2] > 20.1 + 0.064);
        let all = widen_bbox([-180.0, -90.0, 180.0, 90.0], 1e9);
        assert_eq!(all, [-180.0, -90.0, 180.0, 90.0]);
    }
}
