//! The threat surface and the POC handbook's risk scores, per grid cell.
//!
//! **Threat** is a recency-weighted density of harm and of armed presence,
//! in weighted events per 100 km2:
//!
//! ```text
//! threat = incident_density + sighting_factor * sighting_density
//! ```
//!
//! Each incident weighs its analysis weight (1 when counting) times its
//! recency, `0.5 ^ (age / half_life)` with the age taken at the end of the
//! window. Each sighting weighs its recency times a strength factor
//! `1 + log10(1 + strength)` (1 when the strength is unknown) times its source
//! grade: reliability A..F and credibility 1..6 each map to
//! 1.0, 0.8, 0.6, 0.4, 0.2 and, for "cannot be judged" (F, 6), 0.5.
//! Events are binned to their cell, then smoothed with the kernel (quartic,
//! 10 km by default) from the cell centres: a shift of at most half a cell
//! diagonal, small against the bandwidth, and the cost no longer grows with
//! the number of events. With a fixed bandwidth and window, adding an event
//! can only raise the threat anywhere (tested).
//!
//! **Likelihood** (1..5, rare .. almost certain) is the threat banded by
//! [`ThreatParams::likelihood_breaks`]. **Impact** (1..5) is the expected
//! gravity of harm near the cell: the kernel-weighted mean [`severity`] of the
//! incidents and sightings around it, rounded, plus one where a highly
//! vulnerable civilian site (vulnerability 4 or 5) lies within
//! [`ThreatParams::site_radius_m`]; 1 where nothing happened. **Risk** is
//! likelihood x impact on the handbook's 5 x 5 matrix ([`RiskLevel`]).
//!
//! Getis-Ord Gi* over the recency-weighted incident counts (distance band
//! chosen from the grid, FDR-corrected) marks statistically significant hot
//! spots at 95 % or more: an early-warning signal independent of the bands.

use super::fdr::{classify, HotspotClass};
use super::getis_ord::{gi_star, Transform};
use super::kde::{kde, Kernel};
use super::weights::{auto_distance_band, Weights};
use super::{AnalysisError, Events};
use crate::grid::Grid;
use crate::model::{Feature, Layer};
use crate::store::{FeatureSource, Query};
use rayon::prelude::*;

/// Seconds in a day.
const DAY: f64 = 86_400.0;

/// Severity (1..5) of an incident category: the gravity of the harm done.
pub fn severity(category: &str) -> f64 {
    match category {
        "killing" | "sexual-violence" => 5.0,
        "abduction"
        | "attack-on-civilian-site"
        | "forced-displacement"
        | "child-recruitment"
        | "explosive-ordnance" => 4.0,
        "injury" | "looting-burning" | "arbitrary-detention" => 3.0,
        _ => 2.0,
    }
}

/// Severity (1..5) of what an armed group was seen doing.
pub fn activity_severity(activity: &str) -> f64 {
    match activity {
        "attack" | "recruitment" => 4.0,
        "encampment" | "looting" => 3.0,
        _ => 2.0,
    }
}

/// Weight of a source grade letter (A..F) or credibility digit (1..6).
fn grade_weight(index: Option<usize>) -> f64 {
    match index {
        Some(0) => 1.0,
        Some(1) => 0.8,
        Some(2) => 0.6,
        Some(3) => 0.4,
        Some(4) => 0.2,
        _ => 0.5,
    }
}

/// Weight of a sighting before recency: strength factor x source grade.
pub fn sighting_weight(f: &Feature) -> f64 {
    let strength = f
        .int("strength")
        .map_or(1.0, |s| 1.0 + (1.0 + s.max(0) as f64).log10());
    let reliability = f
        .str("source_reliability")
        .and_then(|r| ["A", "B", "C", "D", "E", "F"].iter().position(|x| *x == r));
    let credibility = f
        .int("info_credibility")
        .and_then(|c| usize::try_from(c - 1).ok());
    strength * grade_weight(reliability) * grade_weight(credibility)
}

/// The handbook's risk levels on the 5 x 5 likelihood x impact matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RiskLevel {
    /// Score 1-4.
    Low,
    /// Score 5-9.
    Medium,
    /// Score 10-16.
    High,
    /// Score 20-25.
    Extreme,
}

impl RiskLevel {
    /// The level of a likelihood x impact score.
    pub fn of(score: u8) -> RiskLevel {
        match score {
            0..=4 => RiskLevel::Low,
            5..=9 => RiskLevel::Medium,
            10..=16 => RiskLevel::High,
            _ => RiskLevel::Extreme,
        }
    }

    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            RiskLevel::Low => "low",
            RiskLevel::Medium => "medium",
            RiskLevel::High => "high",
            RiskLevel::Extreme => "extreme",
        }
    }
}

impl std::str::FromStr for RiskLevel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "low" => Ok(RiskLevel::Low),
            "medium" => Ok(RiskLevel::Medium),
            "high" => Ok(RiskLevel::High),
            "extreme" => Ok(RiskLevel::Extreme),
            _ => Err(format!("{s:?} is not one of low, medium, high, extreme")),
        }
    }
}

/// Parameters of the threat surface. Every weight and threshold is here,
/// with its default in [`ThreatParams::new`].
#[derive(Debug, Clone, PartialEq)]
pub struct ThreatParams {
    /// Window start, Unix seconds.
    pub from: i64,
    /// Window end and "as of" time, Unix seconds.
    pub to: i64,
    /// Smoothing kernel (default quartic).
    pub kernel: Kernel,
    /// Kernel bandwidth, metres (default 10 km). Fixed, not chosen from the
    /// data, so that more events can only mean more threat.
    pub bandwidth_m: f64,
    /// Half-life of an event's weight, days (default 60).
    pub half_life_days: f64,
    /// Weight of armed-group sightings against incidents (default 0.5).
    pub sighting_factor: f64,
    /// Threat (weighted events per 100 km2) at which likelihood reaches 2, 3,
    /// 4 and 5 (default 1, 2, 4, 8: one recent event within the bandwidth gives a peak of about 1).
    pub likelihood_breaks: [f64; 4],
    /// A civilian site within this distance of a cell centre counts for the
    /// cell's vulnerability, metres (default 5 km).
    pub site_radius_m: f64,
}

impl ThreatParams {
    /// Defaults for the window `[from, to]`.
    pub fn new(from: i64, to: i64) -> ThreatParams {
        ThreatParams {
            from,
            to,
            kernel: Kernel::Quartic,
            bandwidth_m: 10_000.0,
            half_life_days: 60.0,
            sighting_factor: 0.5,
            likelihood_breaks: [1.0, 2.0, 4.0, 8.0],
            site_radius_m: 5_000.0,
        }
    }

    /// Checks every parameter, naming the bad one.
    pub fn validate(&self) -> Result<(), AnalysisError> {
        if self.to < self.from {
            return Err(AnalysisError::param(
                "to",
                "the window ends before it starts",
            ));
        }
        let positive = |name, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(AnalysisError::param(
                    name,
                    format!("{v} must be a positive number"),
                ))
            }
        };
        positive("bandwidth", self.bandwidth_m)?;
        positive("threat-half-life-days", self.half_life_days)?;
        if !(self.sighting_factor.is_finite() && self.sighting_factor >= 0.0) {
            return Err(AnalysisError::param(
                "sighting-factor",
                "must be a non-negative number",
            ));
        }
        if !(self.site_radius_m.is_finite() && self.site_radius_m >= 0.0) {
            return Err(AnalysisError::param(
                "site-radius",
                "must be a non-negative distance",
            ));
        }
        let b = self.likelihood_breaks;
        if !(b.iter().all(|x| x.is_finite() && *x > 0.0) && b.windows(2).all(|w| w[0] < w[1])) {
            return Err(AnalysisError::param(
                "likelihood-breaks",
                "need 4 increasing positive thresholds",
            ));
        }
        Ok(())
    }

    /// Recency weight of an event at `t`.
    pub fn recency(&self, t: i64) -> f64 {
        let age_days = (self.to - t).max(0) as f64 / DAY;
        0.5f64.powf(age_days / self.half_life_days)
    }

    /// Likelihood band (1..5) of a threat value.
    pub fn likelihood(&self, threat: f64) -> u8 {
        1 + self
            .likelihood_breaks
            .iter()
            .filter(|b| threat >= **b)
            .count() as u8
    }
}

/// A civilian site, from the `sites` layer (the vulnerability layer).
#[derive(Debug, Clone, PartialEq)]
pub struct Site {
    /// Feature id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Kind of site.
    pub site_type: String,
    /// Position (the centroid of a polygon site), lon/lat.
    pub lonlat: [f64; 2],
    /// Vulnerability 1..5.
    pub vulnerability: u8,
    /// Share of the time civilians are exposed there, (0, 1].
    pub exposure: f64,
    /// People at or using the site (0 when unknown).
    pub population: u64,
}

/// Reads the sites existing at `at` within `bbox` (None: everywhere).
pub fn load_sites(
    store: &dyn FeatureSource,
    bbox: Option<[f64; 4]>,
    at: i64,
) -> Result<Vec<Site>, AnalysisError> {
    use geo::Centroid;
    let mut sites = Vec::new();
    let query = Query {
        bbox,
        from: None,
        to: None,
    };
    store.query(Layer::Sites, &query, &mut |f| {
        if f.time.start.timestamp() > at || f.time.end.is_some_and(|e| e.timestamp() < at) {
            return Ok(());
        }
        let Some(c) = f.geometry.centroid() else {
            return Ok(());
        };
        sites.push(Site {
            name: f.str("name").unwrap_or("").to_string(),
            site_type: f.str("site_type").unwrap_or("other").to_string(),
            lonlat: [c.x(), c.y()],
            vulnerability: f.int("vulnerability").unwrap_or(3).clamp(1, 5) as u8,
            exposure: f
                .properties
                .get("exposure")
                .and_then(|v| v.as_f64())
                .unwrap_or(1.0)
                .clamp(0.0, 1.0),
            population: f.int("population").unwrap_or(0).max(0) as u64,
            id: f.id,
        });
        Ok(())
    })?;
    Ok(sites)
}

/// Reads the sightings in `[from, to]` within `bbox`, weighted by
/// [`sighting_weight`] (recency is applied by [`threat`]).
pub fn load_sightings(
    store: &dyn FeatureSource,
    from: i64,
    to: i64,
    bbox: Option<[f64; 4]>,
) -> Result<Events, AnalysisError> {
    let t = |s: i64| chrono::DateTime::from_timestamp(s, 0);
    let query = Query {
        bbox,
        from: t(from),
        to: t(to),
    };
    let mut events = Events::default();
    store.query(Layer::Sightings, &query, &mut |f| {
        let geo_types::Geometry::Point(p) = f.geometry else {
            return Ok(());
        };
        let w = sighting_weight(&f);
        let activity = f.str("activity").unwrap_or("other").to_string();
        let actor = f.str("actor").unwrap_or("").to_string();
        events.push(
            f.id,
            p.x(),
            p.y(),
            f.time.start.timestamp(),
            w,
            activity,
            actor,
        );
        Ok(())
    })?;
    Ok(events)
}

/// One cell's threat and risk.
#[derive(Debug, Clone, PartialEq)]
pub struct CellThreat {
    /// Recency-weighted incidents per 100 km2.
    pub incident_density: f64,
    /// Recency- and grade-weighted sightings per 100 km2.
    pub sighting_density: f64,
    /// The threat score (see the module docs).
    pub threat: f64,
    /// 1..5.
    pub likelihood: u8,
    /// 1..5.
    pub impact: u8,
    /// likelihood x impact, 1..25.
    pub risk: u8,
    /// Gi* z-score of the recency-weighted incident counts.
    pub gi_z: f64,
    /// A significant hot spot (Gi*, 95 % or more, FDR-corrected).
    pub hot: bool,
    /// Incidents in the window located in the cell.
    pub incidents: u32,
    /// Of which sexual-violence or child cases.
    pub sensitive: u32,
    /// Sightings in the window located in the cell.
    pub sightings: u32,
    /// Highest vulnerability of a civilian site within reach (0: none).
    pub vulnerability: u8,
    /// That site's exposure (0 when none).
    pub exposure: f64,
    /// People at civilian sites within reach.
    pub population: u64,
}

impl CellThreat {
    /// The handbook's risk level.
    pub fn level(&self) -> RiskLevel {
        RiskLevel::of(self.risk)
    }
}

/// The threat surface over a grid.
#[derive(Debug, Clone)]
pub struct Threat {
    /// Per cell, in grid order.
    pub cells: Vec<CellThreat>,
    /// Gi* distance band used, metres.
    pub band_m: f64,
    /// Incidents and sightings outside the grid (counted, not used).
    pub outside: usize,
    /// The parameters.
    pub params: ThreatParams,
    /// Each civilian site (in id order): its population and the cells
    /// within reach of it, so that areas made of several cells count each
    /// site once.
    pub site_reach: Vec<(u64, Vec<u32>)>,
}

/// Per-cell sums of a set of events: weight, weight x severity, count,
/// sensitive count. Events outside the window or the grid are skipped
/// (the latter counted).
struct Binned {
    w: Vec<f64>,
    ws: Vec<f64>,
    n: Vec<u32>,
    sensitive: Vec<u32>,
    outside: usize,
}

fn bin(grid: &Grid, events: &Events, params: &ThreatParams, sev: fn(&str) -> f64) -> Binned {
    // An event counts when its interval overlaps the window, as recent as
    // its last moment within the window (an event still going on is recent).
    let ends = events.ends();
    let inside = |i: usize| ends[i] >= params.from && events.time[i] <= params.to;
    let located: Vec<Option<(usize, f64, f64)>> = (0..events.len())
        .into_par_iter()
        .map(|i| {
            if !inside(i) {
                return None;
            }
            let c = grid.locate(events.lon[i], events.lat[i])?;
            let w = events.weight[i] * params.recency(ends[i].min(params.to));
            Some((c, w, w * sev(&events.category[i])))
        })
        .collect();
    let n_cells = grid.len();
    let mut b = Binned {
        w: vec![0.0; n_cells],
        ws: vec![0.0; n_cells],
        n: vec![0; n_cells],
        sensitive: vec![0; n_cells],
        outside: 0,
    };
    // Sequential, in event order: identical sums whatever the thread count.
    for (i, l) in located.into_iter().enumerate() {
        match l {
            Some((c, w, ws)) => {
                b.w[c] += w;
                b.ws[c] += ws;
                b.n[c] += 1;
                if events.sensitive.get(i).copied().unwrap_or(false) {
                    b.sensitive[c] += 1;
                }
            }
            None if inside(i) => b.outside += 1,
            None => {}
        }
    }
    b
}

/// Smooths per-cell sums from the non-empty cell centres, per 100 km2.
///
/// The quartic kernel has a support of one bandwidth, so each cell gathers
/// from the cells whose centres lie within it ([`Grid::for_each_cell_within`],
/// ascending, so sums are made in a fixed order), all channels in one pass.
/// The Gaussian kernel's support (8 bandwidths) is too wide for that; it goes
/// through [`kde`] channel by channel.
fn smooth<const C: usize>(
    grid: &Grid,
    centres: &[[f64; 2]],
    sums: [&[f64]; C],
    params: &ThreatParams,
) -> Result<Vec<[f64; C]>, AnalysisError> {
    let nonempty: Vec<bool> = (0..grid.len())
        .map(|i| sums.iter().any(|s| s[i] > 0.0))
        .collect();
    let h = params.bandwidth_m;
    if params.kernel == Kernel::Quartic {
        let h2 = h * h;
        let scale = 3.0 / (std::f64::consts::PI * h2) * 1e6 * 100.0;
        let stop = crate::cancel::current();
        let out = (0..grid.len())
            .into_par_iter()
            .map(|c| {
                let mut acc = [0.0; C];
                if stop.stopped() {
                    return acc;
                }
                let xy = centres[c];
                grid.for_each_cell_within(xy, h, |s| {
                    if !nonempty[s] {
                        return;
                    }
                    let d2 = (centres[s][0] - xy[0]).powi(2) + (centres[s][1] - xy[1]).powi(2);
                    if d2 < h2 {
                        let t = 1.0 - d2 / h2;
                        let k = t * t;
                        for (a, src) in acc.iter_mut().zip(&sums) {
                            *a += src[s] * k;
                        }
                    }
                });
                acc.map(|a| a * scale)
            })
            .collect();
        crate::cancel::check()?;
        return Ok(out);
    }
    let idx: Vec<usize> = (0..grid.len()).filter(|&i| nonempty[i]).collect();
    let points: Vec<[f64; 2]> = idx.iter().map(|&i| centres[i]).collect();
    let mut out = vec![[0.0; C]; grid.len()];
    for (ch, s) in sums.iter().enumerate() {
        let w: Vec<f64> = idx.iter().map(|&i| s[i]).collect();
        let d = kde(&points, &w, centres, params.kernel, h)?;
        for (o, x) in out.iter_mut().zip(d) {
            o[ch] = x * 100.0;
        }
    }
    Ok(out)
}

/// Computes the threat surface from incidents (weighted as the caller chose),
/// sightings (weighted by [`sighting_weight`]) and civilian sites.
pub fn threat(
    grid: &Grid,
    incidents: &Events,
    sightings: &Events,
    sites: &[Site],
    params: &ThreatParams,
) -> Result<Threat, AnalysisError> {
    params.validate()?;
    if grid.len() < 3 {
        return Err(AnalysisError::param(
            "cell",
            "the grid has fewer than 3 cells: use smaller cells or a larger area",
        ));
    }
    let inc = bin(grid, incidents, params, severity);
    let sig = bin(grid, sightings, params, activity_severity);
    let centres = grid.centres_xy();
    let smoothed = smooth(
        grid,
        &centres,
        [&inc.w[..], &inc.ws[..], &sig.w[..], &sig.ws[..]],
        params,
    )?;
    crate::cancel::check()?;
    let band_m = auto_distance_band(&centres)?;
    let w = Weights::distance_band(&centres, band_m)?;
    let gi = gi_star(&inc.w, &w, Transform::Binary)?;
    let classes = classify(&gi.z, &gi.p, true);
    crate::cancel::check()?;

    // Vulnerability: the most vulnerable site within reach of each centre.
    let mut vuln = vec![(0u8, 0.0f64, 0u64); grid.len()];
    let mut ordered: Vec<&Site> = sites.iter().collect();
    ordered.sort_by(|a, b| a.id.cmp(&b.id));
    let mut site_reach = Vec::with_capacity(ordered.len());
    for s in ordered {
        let xy = grid.project(s.lonlat[0], s.lonlat[1]);
        let mut reach = Vec::new();
        grid.for_each_cell_within(xy, params.site_radius_m, |c| {
            reach.push(c as u32);
            let v = &mut vuln[c];
            v.2 += s.population;
            if (s.vulnerability, s.exposure) > (v.0, v.1) {
                v.0 = s.vulnerability;
                v.1 = s.exposure;
            }
        });
        site_reach.push((s.population, reach));
    }

    let f = params.sighting_factor;
    let cells = (0..grid.len())
        .into_par_iter()
        .map(|i| {
            let [inc_d, inc_s, sig_d, sig_s] = smoothed[i];
            let threat = inc_d + f * sig_d;
            let likelihood = params.likelihood(threat);
            let mass = threat;
            let mean_sev = if mass > 0.0 {
                (inc_s + f * sig_s) / mass
            } else {
                1.0
            };
            let (vulnerability, exposure, population) = vuln[i];
            let bump = if vulnerability >= 4 && mass > 0.0 {
                1.0
            } else {
                0.0
            };
            let impact = (mean_sev.round() + bump).clamp(1.0, 5.0) as u8;
            CellThreat {
                incident_density: inc_d,
                sighting_density: sig_d,
                threat,
                likelihood,
                impact,
                risk: likelihood * impact,
                gi_z: gi.z[i],
                hot: matches!(classes[i], HotspotClass::Hot95 | HotspotClass::Hot99),
                incidents: inc.n[i],
                sensitive: inc.sensitive[i],
                sightings: sig.n[i],
                vulnerability,
                exposure,
                population,
            }
        })
        .collect();
    Ok(Threat {
        cells,
        band_m,
        outside: inc.outside + sig.outside,
        params: params.clone(),
        site_reach,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::weights::test_support::with_threads;
    use crate::grid::Area;

    const DAY_S: i64 = 86_400;

    fn grid() -> Grid {
        Grid::square(&Area::BBox([18.0, 5.0, 18.6, 5.5]), 1_000.0).unwrap()
    }

    fn events_at(grid: &Grid, cells: &[(usize, usize, &str, i64)]) -> Events {
        // (cell index, repeats, category, time)
        let mut e = Events::default();
        let mut k = 0;
        for &(c, n, cat, t) in cells {
            let [lon, lat] = grid.cells[c].center;
            for _ in 0..n {
                e.push(format!("e{k}"), lon, lat, t, 1.0, cat.into(), String::new());
                k += 1;
            }
        }
        e
    }

    #[test]
    fn risk_levels_follow_the_matrix() {
        assert_eq!(RiskLevel::of(4), RiskLevel::Low);
        assert_eq!(RiskLevel::of(5), RiskLevel::Medium);
        assert_eq!(RiskLevel::of(9), RiskLevel::Medium);
        assert_eq!(RiskLevel::of(10), RiskLevel::High);
        assert_eq!(RiskLevel::of(16), RiskLevel::High);
        assert_eq!(RiskLevel::of(20), RiskLevel::Extreme);
        assert_eq!(RiskLevel::of(25), RiskLevel::Extreme);
        let p = ThreatParams::new(0, 1);
        assert_eq!(p.likelihood(0.0), 1);
        assert_eq!(p.likelihood(0.99), 1);
        assert_eq!(p.likelihood(1.0), 2);
        assert_eq!(p.likelihood(7.9), 4);
        assert_eq!(p.likelihood(8.0), 5);
    }

    #[test]
    fn a_point_mass_gives_the_analytic_quartic_density() {
        let g = grid();
        let c = g.len() / 2 + 10;
        let to = 100 * DAY_S;
        let e = events_at(&g, &[(c, 12, "killing", to)]);
        let p = ThreatParams::new(0, to);
        let t = threat(&g, &e, &Events::default(), &[], &p).unwrap();
        let h = p.bandwidth_m;
        for (i, cell) in g.cells.iter().enumerate() {
            let d2 =
                (cell.xy[0] - g.cells[c].xy[0]).powi(2) + (cell.xy[1] - g.cells[c].xy[1]).powi(2);
            let k = if d2 < h * h {
                3.0 / (std::f64::consts::PI * h * h) * (1.0 - d2 / (h * h)).powi(2)
            } else {
                0.0
            };
            let want = 12.0 * k * 1e6 * 100.0;
            assert!(
                (t.cells[i].threat - want).abs() <= 1e-9 * want.max(1.0),
                "cell {i}"
            );
        }
        assert_eq!(t.cells[c].incidents, 12);
        assert_eq!(t.cells[c].impact, 5);
        assert_eq!(t.cells[c].likelihood, 5);
        assert_eq!(t.cells[c].level(), RiskLevel::Extreme);
        assert!(t.cells[c].hot);
    }

    #[test]
    fn recency_halves_at_one_half_life() {
        let p = ThreatParams::new(0, 120 * DAY_S);
        assert!((p.recency(60 * DAY_S) - 0.5).abs() < 1e-12);
        assert!((p.recency(120 * DAY_S) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn events_outside_the_window_count_nothing() {
        let g = grid();
        let e = events_at(&g, &[(100, 5, "killing", -DAY_S)]);
        let t = threat(
            &g,
            &e,
            &Events::default(),
            &[],
            &ThreatParams::new(0, DAY_S),
        )
        .unwrap();
        assert!(t.cells.iter().all(|c| c.threat == 0.0 && c.incidents == 0));
        assert_eq!(t.outside, 0);
    }

    #[test]
    fn an_event_lasting_into_the_window_counts_as_recent_as_its_end() {
        let g = grid();
        let p = ThreatParams::new(0, 10 * DAY_S);
        // Began a day before the window, ended on day 4; an instant on day 4.
        let mut lasting = events_at(&g, &[(100, 1, "killing", -DAY_S)]);
        lasting.set_last_end(4 * DAY_S);
        let instant = events_at(&g, &[(100, 1, "killing", 4 * DAY_S)]);
        let a = threat(&g, &lasting, &Events::default(), &[], &p).unwrap();
        let b = threat(&g, &instant, &Events::default(), &[], &p).unwrap();
        assert_eq!(a.cells[100].incidents, 1);
        assert!(a.cells[100].threat > 0.0);
        assert_eq!(a.cells, b.cells);
        // Ending before the window: nothing.
        lasting.set_last_end(-1);
        let c = threat(&g, &lasting, &Events::default(), &[], &p).unwrap();
        assert!(c.cells.iter().all(|c| c.threat == 0.0 && c.incidents == 0));
    }

    #[test]
    fn adding_incidents_never_lowers_threat() {
        let g = grid();
        let to = 50 * DAY_S;
        let p = ThreatParams::new(0, to);
        let mut rng = crate::rng::Rng::new(7);
        let mut spec = Vec::new();
        for _ in 0..40 {
            spec.push((
                rng.below(g.len() as u64) as usize,
                1 + rng.below(3) as usize,
                "injury",
                rng.below(to as u64) as i64,
            ));
        }
        let base = threat(&g, &events_at(&g, &spec), &Events::default(), &[], &p).unwrap();
        for _ in 0..20 {
            spec.push((
                rng.below(g.len() as u64) as usize,
                1,
                "killing",
                rng.below(to as u64) as i64,
            ));
        }
        let more = threat(&g, &events_at(&g, &spec), &Events::default(), &[], &p).unwrap();
        for (a, b) in base.cells.iter().zip(&more.cells) {
            assert!(b.threat >= a.threat - 1e-12 * a.threat.max(1.0));
            assert!(b.likelihood >= a.likelihood);
        }
    }

    #[test]
    fn independent_of_input_order_and_threads() {
        let g = grid();
        let to = 50 * DAY_S;
        let p = ThreatParams::new(0, to);
        let mut rng = crate::rng::Rng::new(11);
        let mut spec: Vec<(usize, usize, &str, i64)> = (0..200)
            .map(|_| {
                (
                    rng.below(g.len() as u64) as usize,
                    1,
                    "abduction",
                    rng.below(to as u64) as i64,
                )
            })
            .collect();
        let a = with_threads(1, || {
            threat(&g, &events_at(&g, &spec), &Events::default(), &[], &p).unwrap()
        });
        spec.reverse();
        let b = with_threads(2, || {
            threat(&g, &events_at(&g, &spec), &Events::default(), &[], &p).unwrap()
        });
        for (x, y) in a.cells.iter().zip(&b.cells) {
            // Sums of the same terms in another order: equal to rounding.
            assert!((x.threat - y.threat).abs() <= 1e-12 * x.threat.max(1.0));
            assert_eq!(
                (x.likelihood, x.impact, x.incidents),
                (y.likelihood, y.impact, y.incidents)
            );
        }
    }

    #[test]
    fn sightings_weigh_by_grade_and_strength_and_sites_raise_impact() {
        let g = grid();
        let to = 10 * DAY_S;
        let c = 300;
        let mut s = events_at(&g, &[(c, 1, "attack", to)]);
        s.weight[0] = 2.0;
        let p = ThreatParams::new(0, to);
        let t = threat(&g, &Events::default(), &s, &[], &p).unwrap();
        let h = p.bandwidth_m;
        let want = 0.5 * 2.0 * 3.0 / (std::f64::consts::PI * h * h) * 1e8;
        assert!((t.cells[c].threat - want).abs() < 1e-9 * want);
        assert_eq!(t.cells[c].impact, 4);
        let site = Site {
            id: "s".into(),
            name: "IDP site".into(),
            site_type: "idp-site".into(),
            lonlat: g.cells[c].center,
            vulnerability: 5,
            exposure: 1.0,
            population: 900,
        };
        let t = threat(&g, &Events::default(), &s, &[site], &p).unwrap();
        assert_eq!(t.cells[c].impact, 5);
        assert_eq!(t.cells[c].vulnerability, 5);
        assert_eq!(t.cells[c].population, 900);
        // No threat: a site alone does not raise impact.
        let far = g.len() - 1;
        assert_eq!(t.cells[far].impact, 1);
    }

    #[test]
    fn bad_parameters_are_named() {
        let g = grid();
        let mut p = ThreatParams::new(10, 0);
        let e = Events::default();
        let err = threat(&g, &e, &e, &[], &p).unwrap_err().to_string();
        assert!(err.contains("`to`"), "{err}");
        p = ThreatParams::new(0, 10);
        p.likelihood_breaks = [1.0, 0.5, 2.0, 3.0];
        let err = threat(&g, &e, &e, &[], &p).unwrap_err().to_string();
        assert!(err.contains("likelihood-breaks"), "{err}");
    }
}
