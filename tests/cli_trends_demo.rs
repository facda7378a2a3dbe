//! The demo's seeded escalation found where the generator put it: on the
//! default demo (`jointmap demo`, 5,000 incidents), `jointmap trends` as of
//! the end of the period classes the cells around [`ESCALATION`]'s village
//! as new or intensifying hot spots, and `jointmap brief early-warning` lists
//! an area there; a control place and the same place before the campaign do
//! not show it.

mod common;

use common::*;
use jointmap::demo::{DemoConfig, ESCALATION};
use serde_json::Value;
use std::f64::consts::FRAC_1_SQRT_2;
use std::path::Path;
use tempfile::TempDir;

/// The end of the demo period (the escalation's last day), as a date.
const AS_OF: &str = "2025-12-31";

/// A control place without escalation: the heart of Front Alpha's home area
/// in the north-west, hot on and off all period (sporadic hot spots), busy
/// in this dry season too, but with no campaign at the end.
const CONTROL: [f64; 2] = [16.15, 7.0];

/// Great-circle distance in km.
fn km(a: [f64; 2], b: [f64; 2]) -> f64 {
    let (la1, la2) = (a[1].to_radians(), b[1].to_radians());
    let dlat = la2 - la1;
    let dlon = (b[0] - a[0]).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * 6371.0088 * h.sqrt().asin()
}

/// The centre of a feature's cell (the mean of its outer ring's vertices,
/// without the closing one).
fn centre(f: &Value) -> [f64; 2] {
    let g = &f["geometry"];
    let ring = match g["type"].as_str() {
        Some("Polygon") => &g["coordinates"][0],
        Some("MultiPolygon") => &g["coordinates"][0][0],
        other => panic!("cell geometry {other:?}"),
    };
    let pts: Vec<[f64; 2]> = ring
        .as_array()
        .unwrap()
        .iter()
        .map(|p| [p[0].as_f64().unwrap(), p[1].as_f64().unwrap()])
        .collect();
    let n = (pts.len() - 1) as f64;
    let sum = pts[..pts.len() - 1]
        .iter()
        .fold([0.0, 0.0], |s, p| [s[0] + p[0], s[1] + p[1]]);
    [sum[0] / n, sum[1] / n]
}

fn read(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// `(pattern, distance in km)` of every cell of `fc` within `radius_km` of `p`.
fn near(fc: &Value, p: [f64; 2], radius_km: f64) -> Vec<(String, f64)> {
    fc["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let pattern = f["properties"]["pattern"]
                .as_str()
                .unwrap_or("")
                .to_string();
            (pattern, km(centre(f), p))
        })
        .filter(|(_, d)| *d <= radius_km)
        .collect()
}

fn is_new_or_intensifying(p: &str) -> bool {
    p == "new-hot" || p == "intensifying-hot"
}

fn brief(store: &Path, dir: &Path, as_of: &str) -> Value {
    let out = dir.join(format!("ew-{as_of}.geojson"));
    let o = run(
        store,
        &[
            "brief",
            "early-warning",
            "--as-of",
            as_of,
            "--format",
            "geojson",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    read(&out)
}

#[test]
fn the_seeded_escalation_is_a_new_hot_spot_and_an_early_warning() {
    let dir = TempDir::new().unwrap();
    let store = dir.path().join("demo.gpkg");
    // The default demo: the one people run.
    let o = run(&store, &["demo"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let e = ESCALATION;
    assert!(e.count(DemoConfig::default().incidents) >= 20);
    assert!(km(CONTROL, e.centre) > 100.0);

    // Trends on fortnightly steps of 5 km cells, as of the end of the period.
    let out = dir.path().join("trends.geojson");
    let o = run(
        &store,
        &["trends", "--as-of", AS_OF, "-o", out.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let trends = read(&out);
    // Cells within 5 km of the village (the campaign's spread is 2 km).
    let around = near(&trends, e.centre, 5.0);
    let hot: Vec<_> = around
        .iter()
        .filter(|(p, _)| is_new_or_intensifying(p))
        .collect();
    assert!(
        !hot.is_empty(),
        "no new or intensifying hot spot at {}: {around:?}",
        e.village
    );
    // The cell holding the village is one of them.
    assert!(
        hot.iter().any(|(_, d)| *d <= 5.0 * FRAC_1_SQRT_2 + 0.5),
        "{around:?}"
    );
    // The control place has hot spots of its own, none new or intensifying.
    let control = near(&trends, CONTROL, 15.0);
    assert!(
        control.iter().any(|(p, _)| p.ends_with("-hot")),
        "the control place is not busy: {control:?}"
    );
    assert!(
        !control.iter().any(|(p, _)| is_new_or_intensifying(p)),
        "the control place: {control:?}"
    );

    // The early-warning brief as of the end of the period lists the area
    // holding the village (its 10 km cell's centre within half a diagonal;
    // without the campaign the nearest area listed is 10 km off), none at
    // the control place.
    let ew = brief(&store, dir.path(), AS_OF);
    let areas: Vec<(String, f64, f64)> = ew["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            let c = centre(f);
            (
                f["properties"]["pattern"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                km(c, e.centre),
                km(c, CONTROL),
            )
        })
        .collect();
    assert!(
        areas
            .iter()
            .any(|(p, d, _)| *d <= 10.0 * FRAC_1_SQRT_2 + 0.5 && is_new_or_intensifying(p)),
        "the early-warning brief does not name {}: {areas:?}",
        e.village
    );
    assert!(!areas.iter().any(|(_, _, d)| *d <= 15.0), "{areas:?}");

    // Before the campaign the same brief lists nothing there.
    let before = chrono::DateTime::from_timestamp(e.start - 86_400, 0)
        .unwrap()
        .format("%Y-%m-%d")
        .to_string();
    let ew = brief(&store, dir.path(), &before);
    let early: Vec<f64> = ew["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| km(centre(f), e.centre))
        .filter(|d| *d <= 20.0)
        .collect();
    assert!(early.is_empty(), "listed before the campaign: {early:?}");
}
