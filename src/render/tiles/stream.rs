//! A store layer's tile content gathered from the gate feature by feature
//! ([`crate::access::Gate::tile_each`]): below [`AGGREGATE_BELOW_ZOOM`] a
//! point layer's tile is drawn as counts per screen cell, so only those
//! counts are kept while the features stream past, and memory no longer
//! grows with the number of features in the tile. At other zooms, and for
//! a tile that holds anything but points (drawn one by one, as always),
//! the features are collected as [`crate::access::Gate::tile`] does.
//!
//! The counts are made by the same [`ScreenCells`] as the collected
//! path's, in a fixed cell order, so both draw the same bytes.

use super::aggregate::{Bin, ScreenCells};
use super::{TileId, TileLayer, AGGREGATE_BELOW_ZOOM};
use crate::access::{TileContent, TileFeature, TileRequest, TileStream};
use geo_types::Geometry;

/// Where a store layer's tile content comes from: the gate's streamed tile
/// of a request (features handed to the visitor one by one), or `None`
/// when the role gets no tile of the layer (a part the joint map leaves
/// out).
pub type Source<'a> =
    dyn FnMut(&TileRequest, &mut dyn FnMut(TileFeature)) -> crate::Result<Option<TileStream>> + 'a;

/// A source that always gives a tile: the gate's streamed tile of a
/// request, a refusal being its error.
pub type OneSource<'a> =
    dyn FnMut(&TileRequest, &mut dyn FnMut(TileFeature)) -> crate::Result<TileStream> + 'a;

/// Gated point features counted per screen cell as they streamed past.
#[derive(Debug, Clone, PartialEq)]
pub struct Counted {
    bins: Vec<Bin>,
    features: u64,
}

impl Counted {
    /// The non-empty screen cells, in their fixed order.
    pub(super) fn bins(&self) -> &[Bin] {
        &self.bins
    }

    /// How many features were counted.
    pub fn features(&self) -> u64 {
        self.features
    }
}

/// What a store layer's tile is drawn from.
#[derive(Debug, Clone, PartialEq)]
pub enum LayerContent {
    /// The gate's content, collected.
    Gated(TileContent),
    /// Point features counted per screen cell (a low-zoom tile).
    Counted(Counted),
}

impl LayerContent {
    /// The number of features (or protection cells) the tile was drawn
    /// from: what the audit counts.
    pub fn len(&self) -> u64 {
        match self {
            LayerContent::Gated(TileContent::Features(f)) => f.len() as u64,
            LayerContent::Gated(TileContent::Cells { cells, .. }) => cells.len() as u64,
            LayerContent::Counted(c) => c.features,
        }
    }

    /// Whether it was drawn from nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Whether a tile of `layer` is drawn as screen-cell counts when all its
/// features are points (the renderers' rule: not patrols, not the heat
/// surface).
pub fn counts(layer: TileLayer, tile: TileId) -> bool {
    tile.z < AGGREGATE_BELOW_ZOOM && !matches!(layer, TileLayer::Patrols | TileLayer::Heat)
}

/// The content of `req` for `layer`'s tile `tile`, `None` when the role
/// gets no such tile: counted while streaming where the tile is drawn as
/// counts, else collected. A tile that turns out to hold something other
/// than points is read again and collected (it is drawn one by one).
pub fn gather(
    layer: TileLayer,
    tile: TileId,
    req: &TileRequest,
    source: &mut Source<'_>,
) -> crate::Result<Option<LayerContent>> {
    if !counts(layer, tile) {
        return Ok(collect(req, source)?.map(LayerContent::Gated));
    }
    let mut cells = ScreenCells::new(tile);
    let mut mixed = false;
    let got = source(req, &mut |f| match f.geometry {
        Geometry::Point(p) if !mixed => cells.add([p.x(), p.y()], 1),
        Geometry::Point(_) => {}
        _ => mixed = true,
    })?;
    Ok(match got {
        None => None,
        Some(TileStream::Cells { cell_m, cells }) => {
            Some(LayerContent::Gated(TileContent::Cells { cell_m, cells }))
        }
        Some(TileStream::Features(_)) if mixed => collect(req, source)?.map(LayerContent::Gated),
        Some(TileStream::Features(features)) => Some(LayerContent::Counted(Counted {
            bins: cells.bins(),
            features,
        })),
    })
}

/// The content of `req` collected, as [`crate::access::Gate::tile`] gives
/// it; `None` when the role gets no such tile.
pub fn collect(req: &TileRequest, source: &mut Source<'_>) -> crate::Result<Option<TileContent>> {
    let mut out = Vec::new();
    Ok(match source(req, &mut |f| out.push(f))? {
        None => None,
        Some(TileStream::Features(_)) => Some(TileContent::Features(out)),
        Some(TileStream::Cells { cell_m, cells }) => Some(TileContent::Cells { cell_m, cells }),
    })
}

/// [`gather`] for a source that always gives a tile (one layer's own
/// tile: a refusal is its error).
pub fn gather_one(
    layer: TileLayer,
    tile: TileId,
    req: &TileRequest,
    source: &mut OneSource<'_>,
) -> crate::Result<LayerContent> {
    let got = gather(layer, tile, req, &mut |r, each| source(r, each).map(Some))?;
    Ok(got.unwrap_or(LayerContent::Gated(TileContent::Features(Vec::new()))))
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
