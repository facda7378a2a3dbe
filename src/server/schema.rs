//! What a collection holds for one caller, as JSON Schema 2020-12: the
//! queryables (OGC API - Features Part 3, `/collections/{id}/queryables`),
//! the feature schema (Part 5, `/collections/{id}/schema`), and the same
//! fields as a GeoJSON Feature schema (`/collections/{id}/schema/geojson`,
//! the `describedBy` link GDAL's OAPIF driver reads its columns from, so a
//! client knows every column before the first page).
//!
//! Every list comes from the caller's redacted view
//! ([`FeatureView::schema_fields`], [`FeatureView::totals`]): a property the
//! role never sees is in none of these documents, and a CQL2 filter naming
//! it fails like one naming a property that does not exist.

use super::auth::Caller;
use super::ogc::{self, base, layer, negotiate};
use super::params::{self, pairs};
use super::problem::ApiError;
use crate::access::FeatureView;
use crate::model::{FieldKind, GeomKind, Layer};
use crate::request::cql2::{Queryables, Type};
use axum::extract::{Path, RawQuery};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{json, Map, Value};

/// The JSON Schema media type.
pub const SCHEMA_JSON: &str = "application/schema+json";

/// The JSON Schema dialect of every document here.
const DIALECT: &str = "https://json-schema.org/draft/2020-12/schema";

/// One property of a collection as a caller sees it.
struct Property {
    name: String,
    /// JSON Schema of its values, with `title`.
    schema: Value,
    /// Its type in CQL2 filters; `None`: not queryable (vertex time lists).
    ty: Option<Type>,
}

/// The feature's properties the caller sees (schema fields not hidden,
/// then the totals shown in place of hidden counts).
fn properties(view: &FeatureView<'_>) -> Vec<Property> {
    let mut out: Vec<Property> = view
        .schema_fields()
        .map(|f| {
            let (mut schema, ty) = match f.kind {
                _ if matches!(f.name, "time_start" | "time_end") => (
                    json!({"type": "string", "format": "date-time"}),
                    Some(Type::Instant),
                ),
                FieldKind::Text => (json!({"type": "string"}), Some(Type::String)),
                FieldKind::Enum(values) => (
                    json!({"type": "string", "enum": values}),
                    Some(Type::String),
                ),
                FieldKind::Count => (json!({"type": "integer", "minimum": 0}), Some(Type::Number)),
                FieldKind::IntRange(a, b) => (
                    json!({"type": "integer", "minimum": a, "maximum": b}),
                    Some(Type::Number),
                ),
                FieldKind::PositiveReal => (
                    json!({"type": "number", "exclusiveMinimum": 0}),
                    Some(Type::Number),
                ),
                FieldKind::Fraction => (
                    json!({"type": "number", "exclusiveMinimum": 0, "maximum": 1}),
                    Some(Type::Number),
                ),
                FieldKind::TimeList => (
                    json!({"type": "array", "items": {"type": "string", "format": "date-time"}}),
                    None,
                ),
            };
            schema["title"] = json!(f.doc);
            Property {
                name: f.name.to_string(),
                schema,
                ty,
            }
        })
        .collect();
    out.extend(view.totals().map(|name| Property {
        schema: json!({"type": "integer", "minimum": 0,
            "title": format!("{} (sum of the per-sex and age counts)", name.replace('_', " "))}),
        name,
        ty: Some(Type::Number),
    }));
    out
}

/// Part 5's format of a layer's geometry.
fn geometry_format(layer: Layer) -> &'static str {
    match layer.geometry_kinds() {
        [GeomKind::Point] => "geometry-point",
        [GeomKind::LineString, GeomKind::MultiLineString] => {
            "geometry-linestring-or-multilinestring"
        }
        _ => "geometry-any",
    }
}

/// The caller's view of `layer` (403 when it may see no feature of it).
fn view<'c>(caller: &'c Caller, layer: Layer) -> Result<FeatureView<'c>, ApiError> {
    caller
        .access
        .gate
        .features(&caller.principal, layer)
        .map_err(|e| ApiError::forbidden(e.to_string()))
}

/// The queryables CQL2 filters on `layer` may name, for the caller.
pub fn cql_queryables(caller: &Caller, layer: Layer) -> Result<Queryables, ApiError> {
    let v = view(caller, layer)?;
    let mut q = Queryables::default();
    q.add("id", Type::String);
    q.add("geometry", Type::Geometry);
    for p in properties(&v) {
        if let Some(ty) = p.ty {
            q.add(p.name, ty);
        }
    }
    Ok(q)
}

/// The Part 3 / Part 5 document: `id`, `geometry` and the properties,
/// with their roles (`queryables` leaves out what filters cannot use).
fn flat(caller: &Caller, layer: Layer, queryables: bool) -> Result<Value, ApiError> {
    let v = view(caller, layer)?;
    let b = base(caller);
    let name = layer.name();
    let mut props = Map::new();
    props.insert(
        "id".into(),
        json!({"type": "string", "title": "feature id", "x-ogc-role": "id"}),
    );
    props.insert(
        "geometry".into(),
        json!({"format": geometry_format(layer), "title": "geometry (CRS84)",
            "x-ogc-role": "primary-geometry"}),
    );
    for p in properties(&v) {
        if queryables && p.ty.is_none() {
            continue;
        }
        let mut s = p.schema;
        match p.name.as_str() {
            "time_start" => s["x-ogc-role"] = json!("primary-interval-start"),
            "time_end" => s["x-ogc-role"] = json!("primary-interval-end"),
            _ => {}
        }
        props.insert(p.name, s);
    }
    let (path, title) = if queryables {
        ("queryables", "queryables")
    } else {
        ("schema", "schema")
    };
    Ok(json!({
        "$schema": DIALECT,
        "$id": format!("{b}/collections/{name}/{path}"),
        "type": "object",
        "title": format!("{}: {title} (as your role sees them)", ogc::title(layer)),
        "properties": props,
        "additionalProperties": !queryables,
    }))
}

/// The properties as a GeoJSON Feature (what a feature of an items page
/// looks like): GDAL's OAPIF driver takes its columns from this.
fn geojson(caller: &Caller, layer: Layer) -> Result<Value, ApiError> {
    let v = view(caller, layer)?;
    let b = base(caller);
    let name = layer.name();
    let mut props = Map::new();
    for p in properties(&v) {
        props.insert(p.name, p.schema);
    }
    Ok(json!({
        "$schema": DIALECT,
        "$id": format!("{b}/collections/{name}/schema/geojson"),
        "title": format!("{}: GeoJSON feature (as your role sees it)", ogc::title(layer)),
        "type": "object",
        "required": ["type", "geometry", "properties"],
        "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "id": {"type": "string"},
            "geometry": {"type": "object", "title": "GeoJSON geometry (CRS84)"},
            "properties": {"type": "object", "properties": props},
        },
    }))
}

/// What a handler here answers for.
#[derive(Clone, Copy)]
enum Doc {
    Queryables,
    Schema,
    GeoJson,
}

async fn answer(
    caller: Caller,
    id: String,
    headers: HeaderMap,
    q: Option<String>,
    doc: Doc,
) -> Result<Response, ApiError> {
    params::check_plain(&pairs(q.as_deref()), params::COMMON)?;
    negotiate(&headers)?;
    let layer = layer(&id)?;
    caller.may_see(layer)?;
    let v = match doc {
        Doc::Queryables => flat(&caller, layer, true)?,
        Doc::Schema => flat(&caller, layer, false)?,
        Doc::GeoJson => geojson(&caller, layer)?,
    };
    Ok(ogc::respond(
        serde_json::to_vec(&v).map_err(ApiError::internal)?,
        SCHEMA_JSON,
    ))
}

/// `GET /collections/{id}/queryables`
pub async fn queryables(
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    answer(caller, id, headers, q, Doc::Queryables).await
}

/// `GET /collections/{id}/schema`
pub async fn schema(
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    answer(caller, id, headers, q, Doc::Schema).await
}

/// `GET /collections/{id}/schema/geojson`
pub async fn geojson_schema(
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    answer(caller, id, headers, q, Doc::GeoJson).await
}
