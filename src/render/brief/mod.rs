//! A brief ([`crate::request::brief::Brief`]) written for people and
//! tools: GeoJSON (its areas and their attributes, with every part's
//! provenance), CSV (the areas' table) and a self-contained HTML document
//! (`html.rs`: title block, map image (`map.rs`), tables and the "how this
//! was computed" box; labels from `i18n.rs`).
//!
//! [`through_gate`] runs a brief's parts for a role through
//! [`crate::access::Gate`], the one way a role's brief reaches data: what
//! is written here is only what the gate returned.

pub mod handover;
pub mod html;
pub mod i18n;
pub mod map;
pub mod outlook;
pub mod threat_matrix;

use crate::access::{Budget, Gate, Principal};
use crate::analysis::product::Product;
use crate::render::tiles::TileError;
use crate::request::brief::{Brief, Part};
use crate::store::FeatureSource;
use chrono::{DateTime, Utc};
use serde_json::Value;

/// The formats a brief is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BriefFormat {
    /// The document (prints to A4 PDF from a browser).
    Html,
    /// The areas as a GeoJSON FeatureCollection with a `jointmap` member.
    Geojson,
    /// The areas as CSV: `wkt`, then a column per attribute.
    Csv,
}

impl BriefFormat {
    /// The media type.
    pub fn media_type(self) -> &'static str {
        match self {
            BriefFormat::Html => "text/html; charset=utf-8",
            BriefFormat::Geojson => "application/geo+json",
            BriefFormat::Csv => "text/csv; charset=utf-8",
        }
    }
}

/// The brief as GeoJSON: its product, and under `jointmap.parts` the
/// metadata of each gated part (method, parameters, request, data
/// version, gate) by name.
pub fn geojson(brief: &Brief) -> Value {
    let mut v = crate::render::geojson::to_value(&brief.to_product());
    let parts: serde_json::Map<String, Value> = brief
        .parts
        .iter()
        .map(|(name, p)| {
            (
                name.to_string(),
                Value::Object(crate::render::geojson::fields(&p.meta)),
            )
        })
        .collect();
    if let Some(m) = v.get_mut("jointmap").and_then(Value::as_object_mut) {
        m.insert("parts".into(), Value::Object(parts));
    }
    v
}

/// The brief in `format`, with its number of areas (for the audit log).
pub fn encode(brief: &Brief, format: BriefFormat) -> Result<(Vec<u8>, u64), TileError> {
    let n = brief
        .handover
        .as_ref()
        .map_or(brief.areas.len(), |h| h.hot.len()) as u64;
    let bytes = match format {
        BriefFormat::Html => html::document(brief)?.into_bytes(),
        // Serialising a Value of strings and finite numbers cannot fail.
        BriefFormat::Geojson => serde_json::to_vec(&geojson(brief)).unwrap_or_default(),
        BriefFormat::Csv => {
            let mut out = Vec::new();
            crate::render::table::collection(&mut out, &geojson(brief))
                .map_err(|e| TileError::Encode(e.to_string()))?;
            out
        }
    };
    Ok((bytes, n))
}

/// Runs one part of a brief for `principal` through the gate: planned
/// under the role's rules and `budget`, run on `store`, disclosed.
pub fn through_gate(
    gate: &Gate,
    principal: &Principal,
    budget: &Budget,
    now: DateTime<Utc>,
    store: &dyn FeatureSource,
    part: Part,
) -> crate::Result<Product> {
    fn one<A: crate::access::Analysis>(
        gate: &Gate,
        principal: &Principal,
        budget: &Budget,
        now: DateTime<Utc>,
        store: &dyn FeatureSource,
        mut req: A,
    ) -> crate::Result<Product> {
        let plan = gate.plan(principal, &mut req, budget, now)?;
        Ok(gate.run(&plan, &req, store)?.0)
    }
    match part {
        Part::Trends(r) => one(gate, principal, budget, now, store, *r),
        Part::Coverage(r) => one(gate, principal, budget, now, store, *r),
        Part::Blindspots(r) => one(gate, principal, budget, now, store, *r),
        Part::Layer(r) => threat_matrix::layer_through_gate(gate, principal, store, &r),
    }
}

/// Runs one part of a brief as the operator (every record, no gate): the
/// command line without `--as-role`.
pub fn as_operator(store: &dyn FeatureSource, part: Part) -> crate::Result<Product> {
    Ok(match part {
        Part::Trends(r) => r.run(store)?.product,
        Part::Coverage(r) => r.run(store)?.product,
        Part::Blindspots(r) => r.run(store)?.product,
        Part::Layer(r) => threat_matrix::layer_as_operator(store, &r)?,
    })
}

#[cfg(test)]
mod tests;
