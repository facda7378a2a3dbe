//! Golden comparisons (tools/reference/trends.py: pymannkendall and a numpy
//! space-time Gi*) and whole-analysis checks of the trends module.

use super::mann_kendall::mann_kendall;
use super::sen::sen_slope;
use super::*;
use crate::analysis::weights::test_support::{assert_close, f64s, golden, with_threads, xy_pairs};

fn mk_close(what: &str, got: &MannKendall, slope: f64, want: &serde_json::Value) {
    assert_eq!(got.s as f64, want["s"].as_f64().unwrap(), "{what}: S");
    assert_close(
        &format!("{what} var_s"),
        &[got.var_s],
        &[want["var_s"].as_f64().unwrap()],
        1e-12,
        1.0,
    );
    assert_close(
        &format!("{what} z"),
        &[got.z],
        &[want["z"].as_f64().unwrap()],
        1e-12,
        1.0,
    );
    // pymannkendall's p is 2 (1 - Phi(|z|)): compared in absolute terms.
    let p = want["p"].as_f64().unwrap();
    assert!((got.p - p).abs() <= 1e-12, "{what}: p {} vs {p}", got.p);
    assert_close(
        &format!("{what} slope"),
        &[slope],
        &[want["slope"].as_f64().unwrap()],
        1e-12,
        1e-12,
    );
}

#[test]
fn mann_kendall_and_sen_match_pymannkendall_on_series_with_ties() {
    let g = golden("trends_mk.json");
    for (i, s) in g["series"].as_array().unwrap().iter().enumerate() {
        let x = f64s(&s["x"]);
        mk_close(&format!("series {i}"), &mann_kendall(&x), sen_slope(&x), s);
    }
}

#[test]
fn space_time_gi_star_matches_the_numpy_reference() {
    let g = golden("trends_stgistar.json");
    let xy = xy_pairs(&g["xy"]);
    let steps = g["steps"].as_u64().unwrap() as usize;
    let w = Weights::distance_band(&xy, g["band"].as_f64().unwrap()).unwrap();
    for case in g["cases"].as_array().unwrap() {
        let name = format!("{} window {}", case["name"], case["window"]);
        let values = f64s(&case["values"]);
        let window = case["window"].as_u64().unwrap() as usize;
        let gi = st_gistar::st_gi_star_values(&values, steps, &w, window).unwrap();
        assert_close(&format!("{name} z"), &gi.z, &f64s(&case["z"]), 1e-12, 1.0);
        assert_close(&format!("{name} p"), &gi.p, &f64s(&case["p"]), 1e-12, 1e-3);
        for c in 0..xy.len() {
            let r = c * steps..(c + 1) * steps;
            mk_close(
                &format!("{name} cell {c} values"),
                &mann_kendall(&values[r.clone()]),
                sen_slope(&values[r.clone()]),
                &case["mk_value"][c],
            );
            // On the reference's z-scores: z values equal in exact arithmetic
            // (a tie) may differ in the last bit between two summation
            // orders of weighted bins, which changes S by one; the z-scores
            // themselves are compared above. With integer counts they are
            // ties in both.
            let want_z = &f64s(&case["z"])[r.clone()];
            mk_close(
                &format!("{name} cell {c} z"),
                &mann_kendall(want_z),
                sen_slope(want_z),
                &case["mk_z"][c],
            );
            if case["name"] == "counts" {
                assert_eq!(
                    mann_kendall(&gi.z[r.clone()]).s,
                    mann_kendall(want_z).s,
                    "{name} cell {c}"
                );
            }
        }
        let four = with_threads(4, || {
            st_gistar::st_gi_star_values(&values, steps, &w, window)
        });
        assert_eq!(four.unwrap(), gi, "{name}: thread count");
    }
}

#[test]
fn space_time_gi_star_refuses_bad_shapes() {
    let w = Weights::distance_band(&[[0.0, 0.0], [1.0, 0.0]], 2.0).unwrap();
    assert!(st_gistar::st_gi_star_values(&[1.0; 6], 3, &w, 0).is_err());
    assert!(st_gistar::st_gi_star_values(&[1.0; 5], 3, &w, 1).is_err());
    assert!(st_gistar::st_gi_star_values(&[1.0, f64::NAN, 0.0, 0.0, 0.0, 0.0], 3, &w, 1).is_err());
    let flat = st_gistar::st_gi_star_values(&[2.0; 6], 3, &w, 2).unwrap();
    assert!(flat.z.iter().all(|&z| z == 0.0) && flat.p.iter().all(|&p| p == 1.0));
}

const DAY: i64 = 86_400;
/// Monday 2024-01-01.
const T0: i64 = 1_704_067_200;

/// A seeded scenario: background events over 1 x 1 degree for 20 steps of
/// 14 days, an escalation at (20.8, 6.8) in the last three steps, and a
/// hot area at (20.2, 6.2) all along.
fn scenario(seed: u64) -> Events {
    let mut r = crate::rng::Rng::new(seed);
    let mut e = Events::default();
    let push = |e: &mut Events, x: f64, y: f64, t: i64| {
        let n = e.len();
        e.push(
            format!("e{n}"),
            x,
            y,
            t,
            1.0,
            "killing".into(),
            String::new(),
        );
    };
    for step in 0..20i64 {
        let t0 = T0 + step * 14 * DAY;
        for _ in 0..60 {
            let (x, y) = (20.0 + r.f64(), 6.0 + r.f64());
            push(&mut e, x, y, t0 + r.range_i(0, 14 * DAY - 1));
        }
        for _ in 0..25 {
            let (x, y) = (20.2 + 0.03 * r.f64(), 6.2 + 0.03 * r.f64());
            push(&mut e, x, y, t0 + r.range_i(0, 14 * DAY - 1));
        }
        if step >= 17 {
            for _ in 0..40 {
                let (x, y) = (20.8 + 0.03 * r.f64(), 6.8 + 0.03 * r.f64());
                push(&mut e, x, y, t0 + r.range_i(0, 14 * DAY - 1));
            }
        }
    }
    e
}

fn params() -> TrendParams {
    TrendParams {
        grid: GridSpec::Square { cell_m: 10_000.0 },
        anchor: Some([20.0, 6.0]),
        band_m: Some(15_000.0),
        as_of: Some(T0 + 20 * 14 * DAY - 1),
        ..TrendParams::default()
    }
}

fn pattern_at(t: &Trends, lon: f64, lat: f64) -> Pattern {
    let cell = t.cube.grid.locate(lon, lat).unwrap();
    t.cells.iter().find(|c| c.cell == cell).unwrap().pattern
}

#[test]
fn an_escalation_is_new_or_consecutive_and_a_lasting_hot_area_is_persistent() {
    let e = scenario(3);
    let t = trends(&e, &params()).unwrap();
    assert_eq!(t.cube.steps(), 20);
    assert_eq!(t.cube.steps.start(), T0);
    assert_eq!(t.cube.events, e.len());
    let esc = pattern_at(&t, 20.815, 6.815);
    assert!(
        matches!(esc, Pattern::NewHot | Pattern::ConsecutiveHot),
        "escalation: {esc}"
    );
    let lasting = pattern_at(&t, 20.215, 6.215);
    assert!(
        matches!(
            lasting,
            Pattern::PersistentHot | Pattern::IntensifyingHot | Pattern::DiminishingHot
        ),
        "lasting: {lasting}"
    );
    assert!(t.warnings.is_empty(), "{:?}", t.warnings);
    // Every cube cell has a count series summing to the events.
    let total: u64 = t.cube.counts.iter().map(|&c| u64::from(c)).sum();
    assert_eq!(total as usize, e.len());
}

#[test]
fn trends_are_the_same_whatever_the_thread_count() {
    let e = scenario(5);
    let one = with_threads(1, || trends(&e, &params()).unwrap());
    let four = with_threads(4, || trends(&e, &params()).unwrap());
    assert_eq!(one.cells, four.cells);
    assert_eq!(one.z, four.z);
    assert_eq!(one.to_product(true), four.to_product(true));
}

#[test]
fn steps_end_at_the_as_of_or_on_the_reference_grid() {
    let mut e = Events::default();
    e.push(
        "a".into(),
        20.0,
        6.0,
        T0 + 3 * DAY,
        1.0,
        "killing".into(),
        String::new(),
    );
    e.push(
        "b".into(),
        20.0,
        6.0,
        T0 + 40 * DAY,
        1.0,
        "killing".into(),
        String::new(),
    );
    // Default: the as-of is the latest event, steps end right after it and
    // reach back over the first.
    let p = TrendParams::default();
    let (s, as_of) = resolve_steps(&e, &p).unwrap();
    assert_eq!(as_of, T0 + 40 * DAY);
    assert_eq!(s.end, T0 + 40 * DAY + 1);
    assert_eq!(s.count, 3);
    assert!(s.start() <= T0 + 3 * DAY);
    // On a reference grid: the step holding the as-of ends on a boundary.
    let p = TrendParams {
        reference: Some(T0),
        as_of: Some(T0 + 28 * DAY - 1),
        ..TrendParams::default()
    };
    let (s, _) = resolve_steps(&e, &p).unwrap();
    assert_eq!((s.end, s.count), (T0 + 28 * DAY, 2));
    let p = TrendParams {
        reference: Some(T0),
        as_of: Some(T0 + 28 * DAY),
        ..TrendParams::default()
    };
    let (s, _) = resolve_steps(&e, &p).unwrap();
    assert_eq!(s.end, T0 + 42 * DAY);
    // A reference after the as-of aligns backwards just the same.
    let p = TrendParams {
        reference: Some(T0 + 700 * DAY),
        as_of: Some(T0 + 28 * DAY - 1),
        ..TrendParams::default()
    };
    assert_eq!(resolve_steps(&e, &p).unwrap().0.end, T0 + 28 * DAY);
    // Too many steps, none, or a non-positive step: refused.
    for bad in [
        TrendParams {
            steps: Some(MAX_STEPS + 1),
            ..TrendParams::default()
        },
        TrendParams {
            steps: Some(0),
            ..TrendParams::default()
        },
        TrendParams {
            step_s: 0,
            ..TrendParams::default()
        },
        TrendParams {
            step_s: 1,
            from: Some(i64::MIN),
            ..TrendParams::default()
        },
    ] {
        assert!(resolve_steps(&e, &bad).is_err(), "{bad:?}");
    }
}

#[test]
fn bad_parameters_are_refused_by_name() {
    let e = scenario(1);
    for (bad, name) in [
        (
            TrendParams {
                window: 0,
                ..params()
            },
            "window",
        ),
        (
            TrendParams {
                band_m: Some(-1.0),
                ..params()
            },
            "band-km",
        ),
        (
            TrendParams {
                band_m: Some(f64::NAN),
                ..params()
            },
            "band-km",
        ),
        (
            TrendParams {
                trend_alpha: 1.0,
                ..params()
            },
            "trend-alpha",
        ),
        (
            TrendParams {
                max_bins: 10,
                ..params()
            },
            "steps",
        ),
        (
            TrendParams {
                as_of: Some(T0 - 100 * DAY),
                steps: Some(3),
                ..params()
            },
            "as-of",
        ),
    ] {
        match trends(&e, &bad) {
            Err(AnalysisError::InvalidParameter { name: n, .. }) => assert_eq!(n, name),
            other => panic!("{name}: {other:?}"),
        }
    }
    assert!(trends(&Events::default(), &params()).is_err());
}

#[test]
fn the_product_has_one_series_row_per_bin_of_each_written_cell() {
    let t = trends(&scenario(2), &params()).unwrap();
    let p = t.to_product(false);
    let rows = &p.tables.iter().find(|(n, _)| *n == "series").unwrap().1;
    assert_eq!(rows.len(), p.items.len() * t.cube.steps());
    assert!(p.items.iter().all(|i| !matches!(
        i.properties.iter().find(|(k, _)| *k == "pattern"),
        Some((_, Field::Class(c))) if c == "no-pattern"
    )));
    let all = t.to_product(true);
    assert_eq!(all.items.len(), t.cube.len());
}
