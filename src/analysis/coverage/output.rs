//! The presence surface as a typed product: one item per cell, and every
//! parameter and the method in its metadata.

use super::track_length::piece_m;
use super::Coverage;
use crate::analysis::product::{Field, Fields, Item, Param, Product, ProductGrid, Shape};
use crate::grid::{Grid, GridKind};
use crate::model::schema::MODES;
use crate::model::Layer;

impl Coverage {
    /// Cells as a GeoJSON FeatureCollection of polygons with their presence
    /// figures. Unless `all_cells`, only cells with some presence, track or
    /// reports are written. A `jointmap` member records the method and every
    /// parameter used. `grid` must be the grid the coverage was computed on.
    pub fn to_product(&self, grid: &Grid, all_cells: bool) -> Product {
        const KM: [&str; 4] = ["km_foot", "km_vehicle", "km_air", "km_boat"];
        const HOURS: [&str; 4] = ["hours_foot", "hours_vehicle", "hours_air", "hours_boat"];
        debug_assert!(MODES.iter().zip(KM).all(|(m, k)| k.ends_with(m)));
        let p = &self.params;
        let items: Vec<Item> = self
            .cells
            .iter()
            .zip(&grid.cells)
            .filter(|(c, _)| all_cells || c.has_anything())
            .map(|(c, cell)| {
                let mut props: Fields = vec![("cell", Field::Key(cell.key.clone()))];
                for (m, name) in KM.iter().enumerate() {
                    props.push((name, Field::Value(c.km[m])));
                }
                for (m, name) in HOURS.iter().enumerate() {
                    props.push((name, Field::Value(c.hours[m])));
                }
                props.push((
                    "visits",
                    Field::Count {
                        layer: Layer::Patrols,
                        n: u64::from(c.visits),
                    },
                ));
                props.push(("patrol_score", Field::Value(c.patrol_score)));
                props.push(("last_patrol", Field::time(c.last_patrol)));
                let base = c.base.and_then(|(i, d)| self.bases.get(i).map(|b| (b, d)));
                match base {
                    Some((b, d)) => {
                        let rel = |value| Field::relation(Layer::Bases, &b.id, value);
                        props.extend([
                            ("base_id", rel(Field::Key(b.id.clone()))),
                            ("base_name", rel(Field::Key(b.name.clone()))),
                            ("base_type", rel(Field::Key(b.base_type.clone()))),
                            ("base_distance_km", rel(Field::Value(d / 1000.0))),
                        ])
                    }
                    None => props.extend([
                        ("base_id", Field::no_relation(Layer::Bases)),
                        ("base_name", Field::no_relation(Layer::Bases)),
                        ("base_type", Field::no_relation(Layer::Bases)),
                        ("base_distance_km", Field::no_relation(Layer::Bases)),
                    ]),
                }
                // Reports mix incidents and sightings with no sensitive
                // count: counted as incidents, so the gate presumes them
                // sensitive (k_sensitive).
                props.push((
                    "reports",
                    Field::Count {
                        layer: Layer::Incidents,
                        n: u64::from(c.reports),
                    },
                ));
                props.push(("info_score", Field::Value(c.info_score)));
                props.push(("last_report", Field::time(c.last_report)));
                props.push(("presence", Field::Value(c.presence)));
                // Patrols and reports behind the cell (bases are not counted:
                // a cell covered only by a base's reach holds no individual
                // record); each is held to its own minimum above.
                props.push((
                    "count",
                    Field::Tally(u64::from(c.visits) + u64::from(c.reports)),
                ));
                Item {
                    id: Field::Key(cell.key.clone()),
                    geometry: Shape::Cell(cell.ring.clone()),
                    properties: props,
                }
            })
            .collect();
        let (grid_param, km_method, product_grid) = match grid.kind {
            GridKind::Square { cell_m } => (
                Param::Object(vec![
                    ("type", "square".into()),
                    ("cell_m", cell_m.into()),
                    ("projection", "Lambert azimuthal equal-area".into()),
                ]),
                "exact length per cell (tracks cut at cell edges)".to_string(),
                ProductGrid::Square(cell_m),
            ),
            GridKind::H3 { resolution } => (
                Param::Object(vec![
                    ("type", "h3".into()),
                    ("resolution", resolution.into()),
                ]),
                format!(
                    "tracks cut in pieces of at most {} m, each given to the cell of its midpoint",
                    piece_m(grid)
                ),
                ProductGrid::H3(resolution),
            ),
        };
        let corridor = Param::Object(
            MODES
                .iter()
                .zip(p.corridor_m)
                .map(|(m, w)| (*m, Param::Num(w)))
                .collect(),
        );
        let mut out = Product::new("coverage");
        out.grid = Some(product_grid);
        out.meta.extend([
            (
                "method",
                Field::param(
                    "patrol corridors (cells whose centre is within the mode's half-width of the \
                     track, segment/circle intersection in equal-area metres, vertex times \
                     interpolated and clipped to the window); bases open at `to` cover cells \
                     within their reach; reports binned to cells, then spread to cells whose \
                     centres lie within the information radius; recency weight \
                     0.5^(age / half_life); presence = 1 within a base's reach, else \
                     min(1, patrol_score)",
                ),
            ),
            ("from", Field::Param(time_param(p.from))),
            ("to", Field::Param(time_param(p.to))),
            ("as_of", Field::Param(time_param(p.to))),
            ("corridor_m", Field::Param(corridor)),
            ("half_life_days", Field::param(p.half_life_days)),
            ("info_radius_m", Field::param(p.info_radius_m)),
            ("km_per_cell", Field::param(km_method)),
            (
                "report_binning",
                Field::param(
                    "each report counts in the cell holding it; a cell is informed by \
                     the cells whose centres lie within info_radius_m of its centre",
                ),
            ),
            ("cells", Field::param(grid.len())),
            ("grid", Field::Param(grid_param)),
            (
                "patrols_used",
                Field::Count {
                    layer: Layer::Patrols,
                    n: self.patrols_used as u64,
                },
            ),
            (
                "bases_active",
                Field::Count {
                    layer: Layer::Bases,
                    n: self.bases_active as u64,
                },
            ),
            (
                "reports_used",
                Field::Count {
                    layer: Layer::Incidents,
                    n: self.reports_used as u64,
                },
            ),
            (
                "reports_outside",
                Field::Count {
                    layer: Layer::Incidents,
                    n: self.reports_outside as u64,
                },
            ),
        ]);
        out.items = items;
        out
    }
}

/// A Unix time as an RFC 3339 parameter.
pub(crate) fn time_param(t: i64) -> Param {
    chrono::DateTime::from_timestamp(t, 0).map_or(Param::Null, |d| {
        Param::Text(crate::model::time::format_time(&d))
    })
}
