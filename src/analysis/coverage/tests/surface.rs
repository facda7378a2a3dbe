//! The whole surface: order and thread count, the product, refused parameters.

use super::*;

/// A seeded mission: patrols of every mode (dense and sparse tracks),
/// point and polygon bases, reports.
fn world(g: &Grid, seed: u64, patrols: usize, reports: usize) -> (Presence, Events) {
    let m = middle(g);
    let mut rng = Rng::new(seed);
    let mut pr = Presence::default();
    for k in 0..patrols {
        let mut parts = Vec::new();
        let mut times = Vec::new();
        let mut t = T0 + rng.range(-5.0, 40.0) as i64 * DAY + rng.range(0.0, 86_400.0) as i64;
        for _ in 0..1 + usize::from(k % 7 == 0) {
            let mut xy = vec![off(m, rng.range(-25e3, 25e3), rng.range(-20e3, 20e3))];
            let step = [100.0, 800.0, 3_000.0][k % 3];
            let mut h = rng.range(0.0, std::f64::consts::TAU);
            for _ in 0..rng.range(0.0, 30_000.0 / step) as usize {
                let last = xy[xy.len() - 1];
                h += rng.range(-0.5, 0.5);
                xy.push(off(last, step * h.cos(), step * h.sin()));
            }
            let mut tt = Vec::new();
            for _ in 0..xy.len() {
                tt.push(t);
                t += rng.range(0.0, 900.0) as i64;
            }
            parts.push(xy.iter().map(|p| lonlat(g, *p)).collect());
            times.push(tt);
        }
        pr.patrols.push(Patrol {
            id: format!("p{k:05}"),
            mode: (k * 7 + k / 3) % 4,
            kind: "routine".into(),
            parts,
            times,
        });
    }
    for k in 0..8 {
        let c = off(m, rng.range(-25e3, 25e3), rng.range(-20e3, 20e3));
        let geometry = if k % 3 == 0 {
            let ring: Vec<(f64, f64)> = [(-1., -1.), (1., -1.), (1.5, 1.), (-1., 1.), (-1., -1.)]
                .iter()
                .map(|(dx, dy)| {
                    let [lon, lat] = lonlat(g, off(c, dx * 1500.0, dy * 1500.0));
                    (lon, lat)
                })
                .collect();
            geo_types::Polygon::new(ring.into(), vec![]).into()
        } else {
            geo_types::Point::from(lonlat(g, c)).into()
        };
        pr.bases.push(Base {
            id: format!("b{k}"),
            name: format!("Base {k}"),
            base_type: "tob".into(),
            geometry,
            reach_m: rng.range(3_000.0, 15_000.0),
            start: T0 - DAY,
            end: (k % 4 == 1).then_some(T0 + DAY),
        });
    }
    let mut ev = Events::default();
    for k in 0..reports {
        let [lon, lat] = lonlat(g, off(m, rng.range(-32e3, 32e3), rng.range(-28e3, 28e3)));
        let t = T0 + rng.range(-5.0, 40.0) as i64 * DAY;
        ev.push(
            format!("r{k}"),
            lon,
            lat,
            t,
            1.0,
            "other".into(),
            String::new(),
        );
    }
    (pr, ev)
}

#[test]
fn order_and_thread_count_do_not_change_anything() {
    let area = Area::BBox([18.0, 4.0, 18.6, 4.5]);
    for g in [
        Grid::square(&area, 1000.0).unwrap(),
        Grid::h3(&area, 7).unwrap(),
    ] {
        let (pr, ev) = world(&g, 3, 300, 5_000);
        let par = params(T0, T0 + 30 * DAY);
        let pool = |n: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .unwrap()
        };
        let one = pool(1).install(|| coverage(&g, &pr, &ev, &par)).unwrap();
        let two = pool(2).install(|| coverage(&g, &pr, &ev, &par)).unwrap();
        let four = pool(4).install(|| coverage(&g, &pr, &ev, &par)).unwrap();
        assert_eq!(one, two);
        assert_eq!(one, four);
        assert!(one.patrols_used > 100, "{}", one.patrols_used);
        assert!(one.cells.iter().filter(|c| c.base.is_some()).count() > 100);
        assert!(one.cells.iter().any(|c| c.reports > 0));

        // Permuted input: the same map (base indices follow the bases).
        let mut shuffled = pr.clone();
        shuffled.patrols.reverse();
        shuffled.patrols.rotate_left(17);
        shuffled.bases.rotate_left(3);
        let perm: Vec<usize> = (0..ev.len()).map(|i| (i * 7_919) % ev.len()).collect();
        let mut ev2 = Events::default();
        for &i in &perm {
            ev2.push(
                ev.id[i].clone(),
                ev.lon[i],
                ev.lat[i],
                ev.time[i],
                ev.weight[i],
                ev.category[i].clone(),
                ev.actor[i].clone(),
            );
        }
        let other = pool(2)
            .install(|| coverage(&g, &shuffled, &ev2, &par))
            .unwrap();
        assert_eq!(one.to_product(&g, true), other.to_product(&g, true));
        let unbase = |c: &Coverage| -> Vec<CellCoverage> {
            c.cells
                .iter()
                .map(|c| CellCoverage {
                    base: None,
                    ..c.clone()
                })
                .collect()
        };
        assert_eq!(unbase(&one), unbase(&other));
    }
}

#[test]
fn geojson_records_the_method_and_parameters() {
    let g = square_grid();
    let (pr, ev) = world(&g, 5, 40, 500);
    let par = params(T0, T0 + 30 * DAY);
    let cov = coverage(&g, &pr, &ev, &par).unwrap();
    let all = crate::render::geojson::to_value(&cov.to_product(&g, true));
    assert_eq!(all["features"].as_array().unwrap().len(), g.len());
    let some = crate::render::geojson::to_value(&cov.to_product(&g, false));
    let n = some["features"].as_array().unwrap().len();
    assert!(n > 0 && n < g.len(), "{n}");
    for (f, c) in all["features"].as_array().unwrap().iter().zip(&cov.cells) {
        assert_eq!(f["properties"]["count"], u64::from(c.visits + c.reports));
    }
    let j = &some["jointmap"];
    assert_eq!(j["analysis"], "coverage");
    assert_eq!(j["from"], "2025-01-01T00:00:00Z");
    assert_eq!(j["to"], "2025-01-31T00:00:00Z");
    assert_eq!(
        j["corridor_m"],
        json!({"foot": 2000.0, "vehicle": 5000.0, "air": 10000.0, "boat": 3000.0})
    );
    assert_eq!(j["half_life_days"], 30.0);
    assert_eq!(j["info_radius_m"], 5000.0);
    assert_eq!(j["patrols_used"], cov.patrols_used);
    assert_eq!(j["grid"]["cell_m"], 1000.0);
    assert!(j["km_per_cell"].as_str().unwrap().starts_with("exact"));
    let f = some["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["properties"]["visits"].as_u64() > Some(0))
        .unwrap();
    let p = &f["properties"];
    for k in [
        "cell",
        "km_foot",
        "km_vehicle",
        "km_air",
        "km_boat",
        "hours_foot",
        "hours_vehicle",
        "hours_air",
        "hours_boat",
        "visits",
        "patrol_score",
        "last_patrol",
        "base_id",
        "base_name",
        "base_type",
        "base_distance_km",
        "reports",
        "info_score",
        "last_report",
        "presence",
    ] {
        assert!(p.get(k).is_some(), "{k} missing");
    }
    assert!(p["last_patrol"].as_str().unwrap().ends_with('Z'));
    assert_eq!(f["geometry"]["type"], "Polygon");
}

#[test]
fn refuses_bad_parameters_by_name() {
    let g = square_grid();
    let m = middle(&g);
    let ok = patrol(&g, "p", 0, &[m, off(m, 100.0, 0.0)], &[T0, T0 + 60]);
    let run = |pr: &Presence, p: &CoverageParams| {
        coverage(&g, pr, &Events::default(), p)
            .unwrap_err()
            .to_string()
    };
    let pr = patrols_only(vec![ok.clone()]);
    let cases: Vec<(CoverageParams, &str)> = vec![
        (params(T0, T0 - 1), "parameter `to`"),
        (
            CoverageParams {
                corridor_m: [2_000.0, 0.0, 1.0, 1.0],
                ..params(T0, T0)
            },
            "parameter `corridor`: vehicle",
        ),
        (
            CoverageParams {
                corridor_m: [f64::NAN, 1.0, 1.0, 1.0],
                ..params(T0, T0)
            },
            "parameter `corridor`: foot",
        ),
        (
            CoverageParams {
                half_life_days: 0.0,
                ..params(T0, T0)
            },
            "parameter `presence-half-life-days`",
        ),
        (
            CoverageParams {
                info_radius_m: -1.0,
                ..params(T0, T0)
            },
            "parameter `info-radius`",
        ),
    ];
    for (p, want) in cases {
        let e = run(&pr, &p);
        assert!(e.contains(want), "{e}");
    }
    let par = params(T0, T0 + H);
    let bad_mode = Patrol {
        mode: 4,
        ..ok.clone()
    };
    assert!(run(&patrols_only(vec![bad_mode]), &par).contains("parameter `patrols`: patrol p"));
    let backwards = Patrol {
        times: vec![vec![T0 + 60, T0]],
        ..ok.clone()
    };
    assert!(run(&patrols_only(vec![backwards]), &par).contains("backwards"));
    let short = Patrol {
        times: vec![vec![T0]],
        ..ok.clone()
    };
    assert!(run(&patrols_only(vec![short]), &par).contains("1 vertex times for 2 vertices"));
    let base = Base {
        id: "b".into(),
        name: "B".into(),
        base_type: "cob".into(),
        geometry: geo_types::Point::new(18.3, 4.2).into(),
        reach_m: f64::NAN,
        start: T0,
        end: None,
    };
    let pr = Presence {
        patrols: vec![],
        bases: vec![base],
    };
    assert!(run(&pr, &par).contains("parameter `bases`: base b"));
    // An empty window is fine: one instant.
    assert!(coverage(
        &g,
        &patrols_only(vec![ok]),
        &Events::default(),
        &params(T0, T0)
    )
    .is_ok());
}
