//! Patrols: corridors, hours within them, track length per cell, the window, recency.

use super::*;

#[test]
fn foot_corridor_is_exactly_the_cells_within_2_km() {
    let g = square_grid();
    let m = middle(&g);
    // East-west, 1 m north of the middle row's centres: rows at 1, 999,
    // 1001, 1999 and 2001 m from the line.
    let (a, b) = (off(m, -15_300.0, 1.0), off(m, 14_700.0, 1.0));
    for (mode, r) in [(0, 2_000.0), (1, 5_000.0)] {
        let p = patrol(&g, "p", mode, &[a, b], &[T0, T0 + 3 * H]);
        let cov = coverage(
            &g,
            &patrols_only(vec![p.clone()]),
            &Events::default(),
            &params(T0 - H, T0 + 4 * H),
        )
        .unwrap();
        let mut covered = 0;
        for (i, c) in g.cells.iter().enumerate() {
            let inside = track_dist(&g, &p, c.xy) <= r;
            assert_eq!(cov.cells[i].visits, u32::from(inside), "cell {}", c.key);
            assert_eq!(cov.cells[i].last_patrol.is_some(), inside);
            covered += usize::from(inside);
        }
        assert_eq!(cov.patrols_used, 1);
        let at = |dx: f64, dy: f64| &cov.cells[cell_at(&g, off(m, dx, dy))];
        let k = r / 1000.0;
        // Just inside (r - 1 m) to the north, just outside (r + 1 m) to the south.
        assert_eq!(at(0.0, 1000.0 * k).visits, 1);
        assert_eq!(at(0.0, -1000.0 * k).visits, 0);
        assert_eq!(at(0.0, -1000.0 * (k - 1.0)).visits, 1);
        assert_eq!(at(0.0, 1000.0 * (k + 1.0)).visits, 0);
        // Round caps at the ends: 1.7 km west of the start in, 2.7 km out.
        if mode == 0 {
            assert_eq!(at(-17_000.0, 0.0).visits, 1);
            assert_eq!(at(-18_000.0, 0.0).visits, 0);
            assert_eq!(at(17_000.0, 0.0).visits, 0);
            assert!(at(16_000.0, 0.0).hours[0] > 0.0);
            assert!(at(0.0, 0.0).hours[1..].iter().all(|h| *h == 0.0));
        }
        // About 30 km x 2r plus the caps.
        let expect = 30.0 * 2.0 * k + std::f64::consts::PI * k * k;
        assert!(
            (covered as f64 - expect).abs() < 0.1 * expect,
            "{covered} {expect}"
        );
    }
}

#[test]
fn corridor_matches_brute_force_on_square_and_h3_grids() {
    let area = Area::BBox([18.0, 4.0, 18.6, 4.5]);
    for g in [
        Grid::square(&area, 1000.0).unwrap(),
        Grid::h3(&area, 8).unwrap(),
    ] {
        let m = middle(&g);
        let mut rng = Rng::new(7);
        let mut patrols = Vec::new();
        for k in 0..12 {
            let mut xy = vec![off(m, rng.range(-15e3, 15e3), rng.range(-12e3, 12e3))];
            // Some dense (GPS-like) tracks, some sparse ones.
            let step = if k % 2 == 0 { 150.0 } else { 4_000.0 };
            for _ in 0..rng.range(1.0, 40.0) as usize {
                let last = xy[xy.len() - 1];
                let h = rng.range(0.0, std::f64::consts::TAU);
                xy.push(off(last, step * h.cos(), step * h.sin()));
            }
            let times: Vec<i64> = (0..xy.len() as i64).map(|i| T0 + 60 * i).collect();
            patrols.push(patrol(&g, &format!("p{k}"), k % 4, &xy, &times));
        }
        let par = params(T0, T0 + DAY);
        let cov = coverage(&g, &patrols_only(patrols.clone()), &Events::default(), &par).unwrap();
        for (i, c) in g.cells.iter().enumerate() {
            let want = patrols
                .iter()
                .filter(|p| track_dist(&g, p, c.xy) <= par.corridor_m[p.mode])
                .count();
            assert_eq!(cov.cells[i].visits as usize, want, "{:?} {}", g.kind, c.key);
        }
    }
}

#[test]
fn hours_equal_the_chord_time_at_constant_speed() {
    let g = square_grid();
    let m = middle(&g);
    // 30 km at 2.5 m/s in 12 000 s, through four collinear vertices.
    let a = off(m, -15_300.0, 1.0);
    let xs = [0.0, 10_300.0, 19_300.0, 30_000.0];
    let xy: Vec<[f64; 2]> = xs.iter().map(|x| off(a, *x, 0.0)).collect();
    let times: Vec<i64> = xs.iter().map(|x| T0 + (x / 2.5) as i64).collect();
    let p = patrol(&g, "p", 0, &xy, &times);
    let cov = coverage(
        &g,
        &patrols_only(vec![p]),
        &Events::default(),
        &params(T0, T0 + DAY),
    )
    .unwrap();
    let r: f64 = 2_000.0;
    let chord = |h: f64| 2.0 * (r * r - h * h).sqrt();
    // (cell offset from the middle, length of track within r of its centre)
    let cases = [
        (0.0, 0.0, chord(1.0)),
        (0.0, 1_000.0, chord(999.0)),
        (0.0, -1_000.0, chord(1_001.0)),
        (0.0, 2_000.0, chord(1_999.0)),
        // Spans the vertex at 10.3 km.
        (-5_000.0, 0.0, chord(1.0)),
        // 300 m beyond the end: from centre - half chord to the end.
        (15_000.0, 0.0, chord(1.0) / 2.0 - 300.0),
    ];
    for (dx, dy, len) in cases {
        let c = &cov.cells[cell_at(&g, off(m, dx, dy))];
        let want = len / 2.5 / 3600.0;
        assert!(
            (c.hours[0] - want).abs() < 1e-7,
            "({dx}, {dy}): {} h, want {want} h",
            c.hours[0]
        );
    }
    // Length: cells crossed from edge to edge hold exactly 1 km; the
    // first cell 0.8 km (the track starts 300 m into it).
    let km = |dx: f64| cov.cells[cell_at(&g, off(m, dx, 0.0))].km[0];
    assert!((km(0.0) - 1.0).abs() < 1e-9, "{}", km(0.0));
    assert!((km(-5_000.0) - 1.0).abs() < 1e-9);
    assert!((km(-15_000.0) - 0.8).abs() < 1e-9, "{}", km(-15_000.0));
    assert!((km(15_000.0) - 0.2).abs() < 1e-9, "{}", km(15_000.0));
    assert_eq!(km(16_000.0), 0.0);
}

#[test]
fn km_per_cell_sum_to_the_track_length() {
    let area = Area::BBox([18.0, 4.0, 18.6, 4.5]);
    for g in [
        Grid::square(&area, 1000.0).unwrap(),
        Grid::square(&area, 730.0).unwrap(),
        Grid::h3(&area, 7).unwrap(),
    ] {
        let m = middle(&g);
        let mut rng = Rng::new(11);
        let mut xy = vec![m];
        for _ in 0..25 {
            let last = xy[xy.len() - 1];
            let h = rng.range(0.0, std::f64::consts::TAU);
            let len = rng.range(10.0, 3_000.0);
            let next = off(last, len * h.cos(), len * h.sin());
            // Stay well inside the area.
            if dist(next, m) < 15_000.0 {
                xy.push(next);
            }
        }
        // Exactly along a lattice line and through a lattice corner too.
        xy.push(off(m, 500.0, 500.0));
        xy.push(off(m, 2_500.0, 500.0));
        xy.push(off(m, 4_500.0, 2_500.0));
        let times: Vec<i64> = (0..xy.len() as i64).map(|i| T0 + 600 * i).collect();
        let p = patrol(&g, "p", 1, &xy, &times);
        let total: f64 = projected(&g, &p)[0]
            .windows(2)
            .map(|w| dist(w[0], w[1]))
            .sum::<f64>()
            / 1000.0;
        let cov = coverage(
            &g,
            &patrols_only(vec![p]),
            &Events::default(),
            &params(T0, T0 + DAY),
        )
        .unwrap();
        let sum: f64 = cov.cells.iter().map(|c| c.km[1]).sum();
        assert!(
            ((sum - total) / total).abs() < 1e-6,
            "{:?}: {sum} km of {total} km",
            g.kind
        );
        assert!(cov.cells.iter().all(|c| c.km[0] == 0.0 && c.km[2] == 0.0));
    }
}

#[test]
fn the_window_clips_patrols() {
    let g = square_grid();
    let m = middle(&g);
    let (a, b) = (off(m, -5_000.0, 1.0), off(m, 5_000.0, 1.0));
    let total = |c: &Coverage| c.cells.iter().map(|c| c.km[0]).sum::<f64>();
    // Wholly before the window: nothing.
    let before = patrol(&g, "before", 0, &[a, b], &[T0, T0 + H]);
    let cov = coverage(
        &g,
        &patrols_only(vec![before]),
        &Events::default(),
        &params(T0 + 2 * H, T0 + 3 * H),
    )
    .unwrap();
    assert_eq!(cov.patrols_used, 0);
    assert!(cov.cells.iter().all(|c| c == &CellCoverage::default()));
    // Half in the window: half the km, only the second half's cells.
    let half = patrol(&g, "half", 0, &[a, b], &[T0 - H, T0 + H]);
    let cov = coverage(
        &g,
        &patrols_only(vec![half.clone()]),
        &Events::default(),
        &params(T0, T0 + DAY),
    )
    .unwrap();
    assert!((total(&cov) - 5.0).abs() < 1e-9, "{}", total(&cov));
    let at = |cov: &Coverage, dx: f64| cov.cells[cell_at(&g, off(m, dx, 0.0))].clone();
    assert_eq!(at(&cov, -5_000.0).visits, 0);
    assert_eq!(at(&cov, 5_000.0).visits, 1);
    assert_eq!(at(&cov, 5_000.0).last_patrol, Some(T0 + H));
    // The middle cell: within 2 km from 3 to 7 km along, i.e. T0 - 1440 s
    // to T0 + 1440 s, of which the window holds the second half.
    let mid = at(&cov, 0.0);
    assert!((mid.hours[0] - 0.4).abs() < 1e-6, "{}", mid.hours[0]);
    assert_eq!(mid.last_patrol, Some(T0 + 1440));
    // A window ending at T0 + 1800: t_last is clipped to it.
    let cov = coverage(
        &g,
        &patrols_only(vec![half]),
        &Events::default(),
        &params(T0 - 2 * DAY, T0 + 1800),
    )
    .unwrap();
    assert_eq!(at(&cov, 5_000.0).visits, 0);
    assert_eq!(at(&cov, 3_000.0).last_patrol, Some(T0 + 1800));
    assert!((total(&cov) - 7.5).abs() < 1e-9, "{}", total(&cov));
}

#[test]
fn recency_halves_the_score_at_one_half_life() {
    let g = square_grid();
    let m = middle(&g);
    let to = T0 + 100 * DAY;
    let hl = 30 * DAY;
    // Point patrols (one vertex) and a zero-length track still visit.
    let stop = |id: &str, t: i64| patrol(&g, id, 0, &[m], &[t]);
    let score = |patrols: Vec<Patrol>| {
        let cov = coverage(
            &g,
            &patrols_only(patrols),
            &Events::default(),
            &params(T0, to),
        )
        .unwrap();
        cov.cells[cell_at(&g, m)].clone()
    };
    let eps = 1e-9;
    let c = score(vec![stop("now", to)]);
    assert!((c.patrol_score - 1.0).abs() < eps && c.presence == 1.0 && c.visits == 1);
    let c = score(vec![stop("a", to - hl)]);
    assert!((c.patrol_score - 0.5).abs() < eps, "{}", c.patrol_score);
    assert!((c.presence - 0.5).abs() < eps);
    assert_eq!(c.last_patrol, Some(to - hl));
    let c = score(vec![stop("a", to - hl), stop("b", to - 2 * hl)]);
    assert!((c.patrol_score - 0.75).abs() < eps, "{}", c.patrol_score);
    assert_eq!((c.visits, c.last_patrol), (2, Some(to - hl)));
    let still = patrol(&g, "still", 0, &[m, m], &[to - hl - H, to - hl]);
    let c = score(vec![still]);
    assert!((c.patrol_score - 0.5).abs() < eps);
    assert!((c.hours[0] - 1.0).abs() < eps);
    assert_eq!(c.km[0], 0.0);
    // A longer half-life: the same visit weighs more.
    let p = CoverageParams {
        half_life_days: 60.0,
        ..params(T0, to)
    };
    let cov = coverage(
        &g,
        &patrols_only(vec![stop("a", to - hl)]),
        &Events::default(),
        &p,
    )
    .unwrap();
    let s = cov.cells[cell_at(&g, m)].patrol_score;
    assert!((s - 0.5f64.sqrt()).abs() < eps, "{s}");
    // Reports: the same recency weights.
    let mut ev = Events::default();
    let [lon, lat] = lonlat(&g, m);
    for t in [to - hl, to] {
        ev.push(
            "r".into(),
            lon,
            lat,
            t,
            1.0,
            "killing".into(),
            String::new(),
        );
    }
    let cov = coverage(&g, &Presence::default(), &ev, &params(T0, to)).unwrap();
    let c = &cov.cells[cell_at(&g, m)];
    assert_eq!((c.reports, c.last_report), (2, Some(to)));
    assert!((c.info_score - 1.5).abs() < eps);
    assert_eq!(c.presence, 0.0);
}
