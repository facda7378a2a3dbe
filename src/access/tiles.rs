//! What a map tile of a store layer shows a role: the gate's entry point
//! for tiles ([`Gate::tile`]). Renderers draw what it returns and decide
//! nothing.
//!
//! - **Events** (incidents, sightings): a role whose aggregate rules for the
//!   layer are `full` gets the features its view shows, one by one; any
//!   other role gets counts per cell of the gate's protection grid, made by
//!   [`Gate::plan`] and [`Gate::run`] like every analysis: admitted under
//!   the layer's rules, released in whole groups of at least k
//!   ([`super::release`]), disclosed by type. An area with fewer than k
//!   events gives exactly what an empty store gives.
//! - **Patrols, bases, sites**: the features the role's view shows (the
//!   same features and properties as the OGC API items); a role that may
//!   see patrols only as aggregates gets no patrol tile (the `presence`
//!   analysis is that aggregate).

use super::requests::restrict_filter;
use super::run::{Analysis, Budget, Context};
use super::{AccessError, Gate, Principal};
use crate::analysis::events::EventFilter;
use crate::analysis::product::{Field, Item, Product, ProductGrid, Shape};
use crate::analysis::AnalysisError;
use crate::model::{Feature, Layer};
use crate::request::events::{EventArgs, FilterArgs};
use crate::request::{widen_bbox, Outcome, Protect};
use crate::store::{FeatureSource, Query};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// One feature of a tile, as the role's view shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct TileFeature {
    /// Its id.
    pub id: String,
    /// Its geometry, lon/lat.
    pub geometry: geo_types::Geometry<f64>,
    /// The properties the role's view shows (and nothing else).
    pub properties: Map<String, Value>,
}

/// A count of released events in one cell of the protection grid.
#[derive(Debug, Clone, PartialEq)]
pub struct TileCell {
    /// The cell's closed lon/lat ring.
    pub ring: Vec<[f64; 2]>,
    /// Events counted (at least the role's minimum count).
    pub count: u64,
}

/// What a tile shows a role.
#[derive(Debug, Clone, PartialEq)]
pub enum TileContent {
    /// Individual features.
    Features(Vec<TileFeature>),
    /// Counts per protection cell, for a role without full view of events.
    Cells {
        /// Side of the cells, metres.
        cell_m: f64,
        /// The cells released to the role.
        cells: Vec<TileCell>,
    },
}

/// What a streamed tile ([`Gate::tile_each`]) gave besides the features
/// it handed on.
#[derive(Debug, Clone, PartialEq)]
pub enum TileStream {
    /// This many features were handed on, one by one.
    Features(u64),
    /// Counts per protection cell, for a role without full view of events
    /// (no feature was handed on).
    Cells {
        /// Side of the cells, metres.
        cell_m: f64,
        /// The cells released to the role.
        cells: Vec<TileCell>,
    },
}

/// A tile's request: a store layer, the analyses' filter parameters and
/// the area (lon/lat, already widened by what a symbol reaches).
#[derive(Debug, Clone)]
pub struct TileRequest {
    /// The store layer.
    pub layer: Layer,
    /// Time window and filters, by the analyses' names.
    pub filter: FilterArgs,
    /// `[min_lon, min_lat, max_lon, max_lat]`.
    pub bbox: [f64; 4],
}

/// How a role's tiles of a layer are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TileKind {
    /// Individual features as the role's view shows them.
    Features,
    /// Counts per protection cell of released events.
    Cells,
}

impl Gate {
    /// How `p`'s tiles of `layer` are made; `Forbidden` when `p` gets no
    /// tile of it.
    pub fn tile_kind(&self, p: &Principal, layer: Layer) -> Result<TileKind, AccessError> {
        if matches!(layer, Layer::Incidents | Layer::Sightings) {
            return Ok(if self.aggregate_rules(p, layer)?.full {
                TileKind::Features
            } else {
                TileKind::Cells
            });
        }
        match self.features(p, layer) {
            Ok(_) => Ok(TileKind::Features),
            Err(AccessError::Forbidden { reason }) if layer == Layer::Patrols => {
                Err(AccessError::Forbidden {
                    reason: format!("{reason}; the presence layer is that aggregate"),
                })
            }
            Err(e) => Err(e),
        }
    }

    /// What the tile `req` shows `p` (see the module docs), collected. The
    /// filter is restricted as the analyses' are: `Forbidden` or a
    /// parameter error when the role may not ask for it.
    pub fn tile(
        &self,
        p: &Principal,
        req: &TileRequest,
        now: DateTime<Utc>,
        store: &dyn FeatureSource,
    ) -> crate::Result<TileContent> {
        let mut out = Vec::new();
        Ok(
            match self.tile_each(p, req, now, store, &mut |f| out.push(f))? {
                TileStream::Features(_) => TileContent::Features(out),
                TileStream::Cells { cell_m, cells } => TileContent::Cells { cell_m, cells },
            },
        )
    }

    /// [`Gate::tile`] streamed: each feature the tile shows `p` is handed
    /// to `each` as soon as it is admitted, in store order, and not kept,
    /// so that a caller that needs only part of it (a low-zoom tile counts
    /// positions) holds memory independent of the number of features.
    /// Same rules, filters and views as [`Gate::tile`], which is this
    /// collected; cells (few, and made by the analysis path) are returned.
    pub fn tile_each(
        &self,
        p: &Principal,
        req: &TileRequest,
        now: DateTime<Utc>,
        store: &dyn FeatureSource,
        each: &mut dyn FnMut(TileFeature),
    ) -> crate::Result<TileStream> {
        let kind = self.tile_kind(p, req.layer)?;
        let events = matches!(req.layer, Layer::Incidents | Layer::Sightings);
        if !events {
            if !req.filter.is_plain() || req.filter.weight != "count" {
                return Err(AnalysisError::param(
                    "category",
                    format!("{} tiles take only from, to and bbox as filters", req.layer),
                )
                .into());
            }
            let view = self.features(p, req.layer)?;
            return features(store, req, &EventFilter::default(), &|f| view.show(f), each);
        }
        if kind == TileKind::Features {
            let mut filter = req.filter.event_filter()?;
            filter.validate(req.layer)?;
            filter.bbox = Some(req.bbox);
            let view = self.features(p, req.layer)?;
            return features(store, req, &filter, &|f| view.show(f), each);
        }
        let mut groups = TileGroups {
            events: EventArgs {
                layer: req.layer,
                filter: req.filter.clone(),
            },
            bbox: req.bbox,
        };
        let plan = self.plan(p, &mut groups, &Budget::unlimited(), now)?;
        let (product, _) = self.run(&plan, &groups, store)?;
        let cells = product
            .items
            .iter()
            .filter_map(|i| match (&i.geometry, i.count(req.layer)) {
                (Shape::Cell(ring), Some(count)) if count > 0 => Some(TileCell {
                    ring: ring.clone(),
                    count,
                }),
                _ => None,
            })
            .collect();
        Ok(TileStream::Cells {
            cell_m: plan.partition.cell_m,
            cells,
        })
    }
}

/// Hands `each` the features of `req.layer` within its bbox and window
/// that pass `filter` and that `show` shows, in store order.
fn features(
    store: &dyn FeatureSource,
    req: &TileRequest,
    filter: &EventFilter,
    show: &dyn Fn(&Feature) -> Option<Value>,
    each: &mut dyn FnMut(TileFeature),
) -> crate::Result<TileStream> {
    let query = Query {
        bbox: Some(req.bbox),
        from: req.filter.from,
        to: req.filter.to,
    };
    if query.from.zip(query.to).is_some_and(|(a, b)| a > b) {
        return Ok(TileStream::Features(0));
    }
    let mut n = 0u64;
    store.query(req.layer, &query, &mut |f: Feature| {
        if matches!(req.layer, Layer::Incidents | Layer::Sightings) && !filter.keeps(req.layer, &f)
        {
            return Ok(());
        }
        if let Some(Value::Object(mut shown)) = show(&f) {
            let properties = match shown.remove("properties") {
                Some(Value::Object(p)) => p,
                _ => Map::new(),
            };
            n += 1;
            each(TileFeature {
                id: f.id.clone(),
                geometry: f.geometry,
                properties,
            });
        }
        Ok(())
    })?;
    Ok(TileStream::Features(n))
}

/// Events of a tile counted per protection cell: an analysis the gate
/// plans and runs like any other.
#[derive(Debug)]
struct TileGroups {
    events: EventArgs,
    bbox: [f64; 4],
}

impl Analysis for TileGroups {
    const NAME: &'static str = "tiles";

    fn layer(&self) -> Layer {
        self.events.layer
    }

    fn restrict(&mut self, cx: &Context<'_>) -> crate::Result<()> {
        restrict_filter(&mut self.events.filter, self.events.layer, cx)?;
        if self.events.filter.weight != "count" {
            return Err(AnalysisError::param("weight", "tiles count events").into());
        }
        // Cells are released when their centre is in the box: widen it by a
        // cell so that every cell reaching into the tile is drawn.
        self.events.filter.bbox = Some(widen_bbox(self.bbox, cx.partition.cell_m));
        Ok(())
    }

    fn run(
        &self,
        store: &dyn FeatureSource,
        protect: Option<&Protect<'_>>,
    ) -> crate::Result<Outcome> {
        let (anchor, cell_m) = match protect {
            Some(p) => (p.anchor, p.cell_m),
            None => {
                return Err(AnalysisError::param(
                    "layer",
                    "tile cells are made for roles without full view only",
                )
                .into())
            }
        };
        let events = self.events.load_protected(store, protect)?;
        let laea = crate::grid::Laea::wgs84(anchor[0], anchor[1]);
        // Released events sit at their cell's centre: count them per cell.
        let mut cells: BTreeMap<(i64, i64), (u64, u64)> = BTreeMap::new();
        for i in 0..events.len() {
            let [x, y] = laea.forward(events.lon[i], events.lat[i]);
            let key = ((x / cell_m).floor() as i64, (y / cell_m).floor() as i64);
            let c = cells.entry(key).or_default();
            c.0 += 1;
            c.1 += u64::from(events.sensitive.get(i).copied().unwrap_or(false));
        }
        let mut product = Product::new(Self::NAME);
        product.grid = Some(ProductGrid::Square(cell_m));
        for ((cx, cy), (n, sensitive)) in cells {
            let corner = |dx: i64, dy: i64| {
                laea.inverse((cx + dx) as f64 * cell_m, (cy + dy) as f64 * cell_m)
            };
            let ring = vec![
                corner(0, 0),
                corner(1, 0),
                corner(1, 1),
                corner(0, 1),
                corner(0, 0),
            ];
            product.items.push(Item {
                id: Field::Key(format!("{cx}:{cy}")),
                geometry: Shape::Cell(ring),
                properties: vec![
                    (
                        "count",
                        Field::Count {
                            layer: self.events.layer,
                            n,
                        },
                    ),
                    ("count_sensitive", Field::Sensitive(sensitive)),
                ],
            });
        }
        Ok(Outcome {
            product,
            summary: String::new(),
        })
    }
}
