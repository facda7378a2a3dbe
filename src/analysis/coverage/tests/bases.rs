//! Bases: reach of points and polygons, opening and closing, nearest base.

use super::*;
use crate::analysis::product::Field;
use crate::model::Layer;

#[test]
fn bases_cover_their_reach_while_open() {
    let g = square_grid();
    let m = middle(&g);
    let point = |id: &str, xy: [f64; 2], start: i64, end: Option<i64>| Base {
        id: id.into(),
        name: format!("{id} base"),
        base_type: "cob".into(),
        geometry: geo_types::Point::from(lonlat(&g, xy)).into(),
        reach_m: 10_000.5,
        start,
        end,
    };
    let to = T0 + 10 * DAY;
    let square = |c: [f64; 2], h: f64| {
        let ring: Vec<(f64, f64)> = [(-h, -h), (h, -h), (h, h), (-h, h), (-h, -h)]
            .iter()
            .map(|(dx, dy)| {
                let [lon, lat] = lonlat(&g, off(c, *dx, *dy));
                (lon, lat)
            })
            .collect();
        geo_types::Polygon::new(ring.into(), vec![])
    };
    let pc = off(m, -20_000.0, 12_000.0);
    let bases = vec![
        point("open", m, T0 - 100 * DAY, None),
        point(
            "closed",
            off(m, 25_000.0, 0.0),
            T0 - 100 * DAY,
            Some(to - DAY),
        ),
        point("later", off(m, 25_000.0, 0.0), to + 1, None),
        Base {
            geometry: square(pc, 2_000.0).into(),
            reach_m: 2_000.0,
            ..point("poly", pc, T0, Some(to))
        },
    ];
    let cov = coverage(
        &g,
        &Presence {
            patrols: vec![],
            bases: bases.clone(),
        },
        &Events::default(),
        &params(T0, to),
    )
    .unwrap();
    assert_eq!(cov.bases_active, 2);
    let open_xy = g.project(lonlat(&g, m)[0], lonlat(&g, m)[1]);
    for (i, c) in g.cells.iter().enumerate() {
        let d = dist(c.xy, open_xy);
        let cc = &cov.cells[i];
        if d <= 10_000.5 {
            assert_eq!(cc.base.map(|b| b.0), Some(0), "{}", c.key);
            assert!((cc.base.unwrap().1 - d).abs() < 1e-6);
            assert_eq!(cc.presence, 1.0);
        } else if cc.base.is_some() {
            assert_eq!(cc.base.unwrap().0, 3, "{}", c.key);
        } else {
            assert_eq!(cc.presence, 0.0);
        }
    }
    let at = |dx: f64, dy: f64| cov.cells[cell_at(&g, off(m, dx, dy))].base;
    // Just within and beyond the point base's reach (centres at 10 km, 11 km).
    assert_eq!(at(10_000.0, 0.0).map(|b| b.0), Some(0));
    assert_eq!(at(11_000.0, 0.0), None);
    // The closed base and the one not yet open cover nothing.
    assert_eq!(at(25_000.0, 0.0), None);
    // The polygon base: 0 inside, measured from its edge outside.
    assert_eq!(at(-20_000.0, 12_000.0), Some((3, 0.0)));
    let (bi, d) = at(-16_000.0, 12_000.0).unwrap();
    assert_eq!(bi, 3);
    assert!((d - 2_000.0).abs() < 1.0, "{d}");
    assert_eq!(at(-15_000.0, 12_000.0), None);
    // Without all cells, the product holds exactly the covered cells.
    let p = cov.to_product(&g, false);
    let n = cov.cells.iter().filter(|c| c.base.is_some()).count();
    assert_eq!(p.items.len(), n);
    let prop = |item: &crate::analysis::product::Item, name: &str| {
        item.properties
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    };
    let rel = |v: &str| {
        Some(Field::Relation {
            layer: Layer::Bases,
            id: "poly".into(),
            value: Box::new(Field::Key(v.into())),
        })
    };
    let f = p
        .items
        .iter()
        .find(|i| prop(i, "base_id") == rel("poly"))
        .unwrap();
    assert_eq!(prop(f, "base_name"), rel("poly base"));
    assert_eq!(prop(f, "presence"), Some(Field::Value(1.0)));
}
