//! A brief's parts matched to its areas: the gated cells of a product,
//! their values, and which of them cover an area.

use crate::analysis::product::{Field, Item, Param, Product, Shape};

/// A gated cell of a part: centre, ring and properties.
#[derive(Debug, Clone)]
pub struct PartCell {
    /// Its closed lon/lat ring (empty for a point).
    pub ring: Vec<[f64; 2]>,
    /// Its centre.
    pub centre: [f64; 2],
    /// A value for the map (presence, count).
    pub value: f64,
}

pub(super) fn param_num(p: &Product, name: &str) -> Option<f64> {
    match p.meta(name)? {
        Field::Param(Param::Num(x)) => Some(*x),
        Field::Param(Param::Int(n)) => Some(*n as f64),
        Field::Value(x) | Field::Fixed(x) => Some(*x),
        _ => None,
    }
}

pub(super) fn prop<'a>(item: &'a Item, name: &str) -> Option<&'a Field> {
    item.properties
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

pub(super) fn text(item: &Item, name: &str) -> Option<String> {
    match prop(item, name)? {
        Field::Class(s) | Field::Key(s) => Some(s.clone()),
        _ => None,
    }
}

pub(super) fn number(item: &Item, name: &str) -> Option<f64> {
    match prop(item, name)? {
        Field::Value(x) | Field::Fixed(x) => Some(*x),
        Field::Tally(n) | Field::Count { n, .. } => Some(*n as f64),
        _ => None,
    }
}

/// Mean of a closed ring's corners.
pub(super) fn centre(ring: &[[f64; 2]]) -> [f64; 2] {
    let corners = if ring.len() > 1 && ring.first() == ring.last() {
        &ring[..ring.len() - 1]
    } else {
        ring
    };
    let n = corners.len().max(1) as f64;
    let (x, y) = corners
        .iter()
        .fold((0.0, 0.0), |(x, y), p| (x + p[0], y + p[1]));
    [x / n, y / n]
}

pub(super) fn polygon(ring: &[[f64; 2]]) -> geo_types::Polygon<f64> {
    geo_types::Polygon::new(ring.iter().map(|p| (p[0], p[1])).collect(), vec![])
}

/// The cells of a gated product: ring, centre and the value of `value`.
pub(super) fn cells<'a>(p: &'a Product, value: &str) -> Vec<(PartCell, &'a Item)> {
    p.items
        .iter()
        .filter_map(|it| match &it.geometry {
            Shape::Cell(ring) => Some((
                PartCell {
                    ring: ring.clone(),
                    centre: centre(ring),
                    value: number(it, value).unwrap_or(0.0),
                },
                it,
            )),
            _ => None,
        })
        .collect()
}

/// The share of `area`'s surface each cell of `cells` covers (cells
/// overlapping it only). Grids of different parts may be anchored apart
/// (for the operator each analysis anchors its grid on its own area), so
/// cells are matched by overlap, not by key.
pub(super) fn overlaps<'a, 'b>(
    cells: &'a [(PartCell, &'b Item)],
    area: &[[f64; 2]],
) -> Vec<(&'a (PartCell, &'b Item), f64)> {
    use geo::{Area as _, BooleanOps, BoundingRect, Intersects};
    let a = polygon(area);
    let (Some(rect), total) = (a.bounding_rect(), a.unsigned_area()) else {
        return Vec::new();
    };
    if total <= 0.0 {
        return Vec::new();
    }
    cells
        .iter()
        .filter_map(|c| {
            let p = polygon(&c.0.ring);
            if !p.bounding_rect().is_some_and(|r| r.intersects(&rect)) {
                return None;
            }
            let share = a.intersection(&p).unsigned_area() / total;
            (share > 1e-9).then_some((c, share))
        })
        .collect()
}

/// The cell of `cells` covering most of `area`, if it covers at least half.
pub(super) fn matching<'a, 'b>(
    cells: &'a [(PartCell, &'b Item)],
    area: &[[f64; 2]],
) -> Option<&'a (PartCell, &'b Item)> {
    overlaps(cells, area)
        .into_iter()
        .filter(|(_, s)| *s >= 0.5)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(c, _)| c)
}

/// The mean value of `cells` over `area`, weighted by the share each
/// covers (cells absent count 0).
pub(super) fn weighted(cells: &[(PartCell, &Item)], area: &[[f64; 2]]) -> f64 {
    overlaps(cells, area)
        .into_iter()
        // A fold from +0: an empty sum of floats is -0.
        .fold(0.0, |acc, (c, s)| acc + c.0.value * s)
}
