use super::super::local_moran::{local_moran, local_moran_tested, Quadrant};
use super::super::weights::test_support::{ucdp_path, with_threads};
use super::*;
use crate::rng::Rng;

/// The UCDP events as counted events (weight 1), read from the raw file.
fn ucdp_events(path: &std::path::Path) -> Events {
    let text = std::fs::read_to_string(path).expect("read UCDP");
    let fc: serde_json::Value = serde_json::from_str(&text).expect("parse UCDP");
    let mut ev = Events::default();
    for f in fc["features"].as_array().expect("features") {
        let c = &f["geometry"]["coordinates"];
        ev.lon.push(c[0].as_f64().expect("lon"));
        ev.lat.push(c[1].as_f64().expect("lat"));
    }
    ev.weight = vec![1.0; ev.lon.len()];
    ev
}

fn moran_types(h: &Hotspots) -> [usize; 4] {
    ["HH", "LH", "HL", "LL"].map(|t| {
        h.cells
            .iter()
            .filter(|c| c.moran_type.as_deref() == Some(t))
            .count()
    })
}

/// Untested cells (no event in the cell or its neighbourhood) carry no
/// p-value and no class; tested cells carry both.
fn assert_untested_have_no_class(h: &Hotspots) {
    for c in &h.cells {
        if c.events_nearby {
            assert!(c.class.is_some() && c.p.is_finite(), "cell {}", c.cell);
        } else {
            assert_eq!((c.class, c.moran_type.as_deref()), (None, None));
            assert!(c.p.is_nan() && c.moran_p.is_nan(), "cell {}", c.cell);
            assert!(!c.significant());
        }
    }
}

/// README's example, `jointmap hotspots --cell-km 5 --band-km 15`, on the
/// UCDP events, at the default settings (FDR, 999 permutations): the FDR
/// family is the 8,487 tested cells, no significant cell lacks an event in
/// its neighbourhood, untested cells have no class, a Local Moran map left
/// empty by the correction says how many permutations it needs, and
/// row-standardised Gi* finds the hot cells binary Gi* finds.
#[test]
#[cfg_attr(
    not(jointmap_shared_data),
    ignore = "../shared/data/ucdp-ged-23.1-car.geojson is absent"
)]
fn readme_example_calls_no_empty_neighbourhood_significant() {
    let path = ucdp_path().expect("../shared/data/ucdp-ged-23.1-car.geojson");
    let events = ucdp_events(&path);
    let params = HotspotParams {
        neighbours: Neighbours::DistanceBand(15_000.0),
        ..HotspotParams::default()
    };
    assert_eq!((params.permutations, params.fdr), (None, true));
    let h = hotspots(&events, &params).unwrap();
    let significant: Vec<&HotspotCell> = h.cells.iter().filter(|c| c.significant()).collect();
    let far = significant.iter().filter(|c| !c.events_nearby).count();
    let tested = h.cells.iter().filter(|c| c.events_nearby).count();
    let hot = |h: &Hotspots| {
        h.cells
            .iter()
            .filter(|c| c.class.is_some_and(|k| k.is_significant()) && c.z > 0.0)
            .count()
    };
    let cold = h
        .cells
        .iter()
        .filter(|c| c.class.is_some_and(|k| k.is_significant()) && c.z < 0.0)
        .count();
    let row = hotspots(
        &events,
        &HotspotParams {
            transform: Transform::RowStandardized,
            permutations: Some(0),
            ..params.clone()
        },
    )
    .unwrap();
    let [hh, lh, hl, ll] = moran_types(&h);
    eprintln!(
        "README example: {} cells, {tested} tested, {} significant (Gi* or Local Moran), {far} of \
         them with no event nearby; Local Moran HH {hh} LH {lh} HL {hl} LL {ll}; Gi* hot {} cold \
         {cold} (row-standardised hot {}); warnings {:?}",
        h.cells.len(),
        significant.len(),
        hot(&h),
        hot(&row),
        h.warnings
    );
    assert_eq!(h.cells.len(), 47_770);
    // 8,487 of 47,770 cells have an event within 15 km: the family shrinks
    // 5.6 times, but 999 permutations (p >= 0.001) would still need 170
    // cells at p = 0.001 for Benjamini-Hochberg to keep any. The default
    // draws up to 169,739 (1 / 169,740 <= 0.05 / 8,487), sequentially, and
    // finds Local Moran clusters that survive the correction.
    assert_eq!(tested, 8487);
    assert_eq!(far, 0);
    assert_eq!(h.permutations, 169_739);
    assert_eq!(auto_permutations(8487, true, usize::MAX), 169_739);
    assert!(hh + lh + hl + ll > 0, "no Local Moran type at the default");
    assert!(
        !h.warnings.iter().any(|w| w.starts_with("Local Moran's I")),
        "{:?}",
        h.warnings
    );
    // At GeoDa's fixed 999 the correction leaves nothing, and the warning
    // says how many cells would have to reach the floor.
    let fixed = hotspots(
        &events,
        &HotspotParams {
            permutations: Some(999),
            ..params.clone()
        },
    )
    .unwrap();
    assert_eq!(moran_types(&fixed), [0, 0, 0, 0]);
    assert!(
        fixed
            .warnings
            .iter()
            .any(|w| w.contains("over 8487 tested cells at least 170 cells")),
        "{:?}",
        fixed.warnings
    );
    assert_untested_have_no_class(&h);
    assert_eq!(hot(&row), hot(&h));
    assert!(hot(&h) > 300);
    // Far fewer than half the cells hold an event: the warning says so.
    assert!(h.warnings.iter().any(|w| w.starts_with("sparse data")));
    // Empty cells with an event nearby are written, empty ones without are not.
    let product = h.to_product(false);
    let written = h
        .cells
        .iter()
        .filter(|c| c.count > 0 || c.significant())
        .count();
    assert_eq!(product.items.len(), written);
    assert_eq!(h.to_product(true).items.len(), h.cells.len());
}

/// A 60 x 60 lattice, empty but for a 5 x 5 block of 4 events per cell and
/// a few single events far from it.
fn sparse_lattice() -> (Weights, Vec<f64>) {
    let side = 60;
    let xy: Vec<[f64; 2]> = (0..side * side)
        .map(|i| [(i % side) as f64, (i / side) as f64])
        .collect();
    let mut rng = Rng::new(21);
    let y: Vec<f64> = xy
        .iter()
        .map(|p| {
            if (20.0..25.0).contains(&p[0]) && (20.0..25.0).contains(&p[1]) {
                4.0
            } else if p[0] > 40.0 && p[1] > 40.0 && rng.chance(0.05) {
                1.0
            } else {
                0.0
            }
        })
        .collect();
    (Weights::distance_band(&xy, 1.5).unwrap(), y)
}

#[test]
fn fdr_family_is_the_tested_cells() {
    let (w, y) = sparse_lattice();
    let tested = tested_cells(&y, &w);
    let m = tested.iter().filter(|&&t| t).count();
    // The block and its ring (49 cells) and the single events' neighbourhoods.
    assert!(m > 49 && m < 600, "tested {m}");
    for (c, &t) in tested.iter().enumerate() {
        let nearby = y[c] > 0.0 || w.neighbors(c).0.iter().any(|&j| y[j as usize] > 0.0);
        assert_eq!(t, nearby, "cell {c}");
    }
    let centre = 22 * 60 + 22;
    let all = local_moran(&y, &w, 99, 5).unwrap();
    let some = local_moran_tested(&y, &w, 99, 5, Some(&tested)).unwrap();
    // With every cell in the family (m = 3,600) a p-value of 0.01 passes
    // Benjamini-Hochberg at 0.05 only when 720 cells reach it: the block's
    // centre is lost. Over the tested cells it is kept.
    assert_eq!(
        (all.quadrant[centre], all.p_sim[centre]),
        (Quadrant::HH, 0.01)
    );
    assert!(all.significant(MORAN_ALPHA, false)[centre]);
    assert!(!all.significant(MORAN_ALPHA, true).iter().any(|&s| s));
    let kept = some.significant(MORAN_ALPHA, true);
    assert!(kept[centre]);
    assert!(kept.iter().zip(&tested).all(|(&k, &t)| !k || t));
    // A tested cell's p-value does not depend on which others are tested;
    // untested cells have none, and keep I and the quadrant.
    for (c, &t) in tested.iter().enumerate() {
        if t {
            assert_eq!(some.p_sim[c].to_bits(), all.p_sim[c].to_bits(), "cell {c}");
        } else {
            assert!(some.p_sim[c].is_nan());
        }
    }
    assert_eq!((&some.i, &some.quadrant), (&all.i, &all.quadrant));
    let run = || local_moran_tested(&y, &w, 99, 5, Some(&tested)).unwrap();
    let (one, two) = (with_threads(1, run), with_threads(2, run));
    assert_eq!(
        one.p_sim.iter().map(|p| p.to_bits()).collect::<Vec<_>>(),
        two.p_sim.iter().map(|p| p.to_bits()).collect::<Vec<_>>()
    );
    // The mask must fit the map.
    assert!(local_moran_tested(&y, &w, 99, 5, Some(&tested[1..])).is_err());
    // Gi*: the same family keeps more of the block than all cells do.
    let gi = gi_star(&y, &w, Transform::Binary).unwrap();
    let masked: Vec<f64> =
        gi.p.iter()
            .zip(&tested)
            .map(|(&p, &t)| if t { p } else { f64::NAN })
            .collect();
    let hot = |p: &[f64]| {
        classify(&gi.z, p, true)
            .iter()
            .filter(|c| c.is_significant())
            .count()
    };
    assert!(hot(&masked) >= hot(&gi.p));
}

/// Events in a small patch of a larger bounding box: untested cells (no
/// event nearby) get no p-value and no class, in the cells and in the
/// written product; the product records the family size and the rule.
#[test]
fn untested_cells_have_no_class() {
    let mut rng = Rng::new(31);
    let mut ev = Events::default();
    for _ in 0..400 {
        ev.lon.push(20.0 + rng.f64() * 0.3);
        ev.lat.push(6.0 + rng.f64() * 0.3);
    }
    ev.weight = vec![1.0; ev.lon.len()];
    let params = HotspotParams {
        area: Some(Area::BBox([19.5, 5.5, 21.5, 7.5])),
        neighbours: Neighbours::DistanceBand(10_000.0),
        permutations: Some(99),
        ..HotspotParams::default()
    };
    let h = hotspots(&ev, &params).unwrap();
    let tested = h.cells.iter().filter(|c| c.events_nearby).count();
    assert!(tested > 0 && tested < h.cells.len() / 2);
    assert_untested_have_no_class(&h);
    let json = |all: bool| {
        let p = h.to_product(all);
        let meta: Vec<(&str, String)> =
            p.meta.iter().map(|(k, v)| (*k, format!("{v:?}"))).collect();
        let null_class = p
            .items
            .iter()
            .filter(|i| {
                i.properties
                    .iter()
                    .any(|(k, v)| *k == "class" && matches!(v, Field::Null))
            })
            .count();
        (meta, null_class, p.items.len())
    };
    let (meta, nulls, _) = json(false);
    assert_eq!(nulls, 0, "written cells are tested");
    assert!(meta.contains(&("tested_cells", format!("{:?}", Field::Tally(tested as u64)))));
    assert!(meta.iter().any(|(k, _)| *k == "tested_rule"));
    let (_, nulls, items) = json(true);
    assert_eq!((nulls, items - nulls), (h.cells.len() - tested, tested));
}

#[test]
fn fdr_warning_names_the_permutations_needed() {
    // 2,000 tested cells, 99 permutations: floor 0.01, BH line 0.05 k / 2000:
    // 400 cells must reach the floor; 39,999 permutations let one cell alone.
    let w = fdr_warning(0, 120, 2000, 99);
    assert!(
        w.contains("over 2000 tested cells at least 400 cells"),
        "{w}"
    );
    assert!(
        w.contains("39999 permutations would let a single cell"),
        "{w}"
    );
    let w = fdr_warning(3, 10, 10, 999);
    assert!(w.contains("at least 1 cells"), "{w}");
}

#[test]
fn default_permutations_let_one_cell_pass_the_correction() {
    // Small families keep GeoDa's 999; without the correction nothing is raised.
    assert_eq!(auto_permutations(0, true, usize::MAX), 999);
    assert_eq!(auto_permutations(40, true, usize::MAX), 999);
    assert_eq!(auto_permutations(8487, false, usize::MAX), 999);
    for m in [50, 51, 1000, 8487, 12_345, 47_770] {
        let r = auto_permutations(m, true, usize::MAX);
        let passes = |r: usize| 1.0 / (r + 1) as f64 <= (1.0 / m as f64) * 0.05;
        assert!(passes(r), "{m}: {r}");
        assert!(r == 999 || !passes(r - 1), "{m}: {r} is not the least");
    }
    // The cap (a server's budget) wins, and never raises the base.
    assert_eq!(auto_permutations(8487, true, 5000), 5000);
    assert_eq!(auto_permutations(8487, true, 99), 99);
}

/// Random events around a few centres, weight 1, some sensitive.
fn random_events(rng: &mut Rng, n: usize, centre: [f64; 2]) -> Events {
    let mut ev = Events::default();
    for i in 0..n {
        let k = (i % 3) as f64;
        ev.lon.push(centre[0] + k * 0.4 + (rng.f64() - 0.5) * 0.6);
        ev.lat.push(centre[1] - k * 0.3 + (rng.f64() - 0.5) * 0.6);
        ev.weight.push(1.0);
        ev.sensitive.push(i % 7 == 0);
    }
    ev
}

/// After rows are added (a server's ingest), the hotspot layer computed
/// with what the previous analysis kept (the projected events) equals the
/// one computed afresh, bit for bit: rows inside the grid's extent, and
/// rows that move the extent (another grid, another projection).
#[test]
fn kept_projections_give_the_fresh_result_after_an_ingest() {
    let mut rng = Rng::new(20261203);
    let mut events = random_events(&mut rng, 3_000, [18.0, 5.0]);
    let params = HotspotParams {
        permutations: Some(99),
        ..HotspotParams::default()
    };
    let fingerprint = |h: &Hotspots| {
        format!(
            "{:?} {} {:?} {}",
            h.cells,
            h.bandwidth_m,
            h.area,
            h.grid.len()
        )
    };
    let fresh = |e: &Events| {
        crate::analysis::projected::forget();
        fingerprint(&hotspots(e, &params).unwrap())
    };
    fresh(&events);
    // Inside the extent: the centres' spread is unchanged.
    let inside = random_events(&mut rng, 200, [18.0, 5.0]);
    events.extend_from(&inside);
    let kept = fingerprint(&hotspots(&events, &params).unwrap());
    assert_eq!(kept, fresh(&events));
    // Far outside: the area, grid and projection move.
    hotspots(&events, &params).unwrap();
    let before = hotspots(&events, &params).unwrap().area;
    let outside = random_events(&mut rng, 300, [21.0, 7.5]);
    events.extend_from(&outside);
    let moved = hotspots(&events, &params).unwrap();
    assert_ne!(format!("{:?}", moved.area), format!("{before:?}"));
    assert_eq!(fingerprint(&moved), fresh(&events));
}
