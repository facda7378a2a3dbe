//! The OpenAPI 3.0 document at `/api`, written for the caller: the
//! collections they may see, with the property filters they may use, and the
//! analysis endpoints with the parameters of the shared request grammar.

use super::analysis;
use super::auth::Caller;
use super::ogc::{self, GEOJSON, JSON};
use super::params;
use super::problem::ApiError;
use crate::model::{FieldKind, Layer};
use axum::extract::RawQuery;
use axum::response::Response;
use serde_json::{json, Map, Value};

fn problem_responses() -> Value {
    let p = json!({"description": "A problem (RFC 9457)", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}});
    json!({"400": p, "401": p, "403": p, "404": p, "406": p, "413": p, "415": p, "503": p})
}

fn ok(ty: &str, schema: Value, description: &str) -> Value {
    let mut r = problem_responses();
    r["200"] = json!({"description": description, "content": {ty: {"schema": schema}}});
    r
}

fn param(name: &str, location: &str, description: &str, schema: Value, required: bool) -> Value {
    json!({"name": name, "in": location, "description": description, "required": required, "schema": schema})
}

fn f_param() -> Value {
    param(
        "f",
        "query",
        "Format: json or geojson (the same document).",
        json!({"type": "string", "enum": ["json", "geojson"]}),
        false,
    )
}

fn get(summary: &str, op: &str, params: Vec<Value>, responses: Value) -> Value {
    json!({"get": {"summary": summary, "operationId": op, "parameters": params, "responses": responses}})
}

fn field_schema(kind: FieldKind) -> Value {
    match kind {
        FieldKind::Enum(values) => json!({"type": "string", "enum": values}),
        FieldKind::Count => json!({"type": "integer", "minimum": 0}),
        FieldKind::IntRange(a, b) => json!({"type": "integer", "minimum": a, "maximum": b}),
        FieldKind::PositiveReal | FieldKind::Fraction => json!({"type": "number"}),
        FieldKind::Text | FieldKind::TimeList => json!({"type": "string"}),
    }
}

fn crs_param(name: &str, description: &str) -> Value {
    param(
        name,
        "query",
        description,
        json!({"type": "string", "format": "uri", "default": ogc::CRS84}),
        false,
    )
}

fn items_params(caller: &Caller, layer: Layer) -> Vec<Value> {
    let max = caller.settings().paging.max_limit;
    let default = caller.settings().paging.default_limit;
    let mut v = vec![
        param("limit", "query", &format!("Features per page (1 to {max}; larger is refused)."),
            json!({"type": "integer", "minimum": 1, "maximum": max, "default": default}), false),
        json!({"name": "bbox", "in": "query", "required": false, "style": "form", "explode": false,
            "description": "min_lon,min_lat,max_lon,max_lat in CRS84 (min_lon > max_lon crosses the antimeridian; 6 numbers with heights accepted).",
            "schema": {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}}}),
        param("datetime", "query", "An instant, a closed interval start/end, or a half-open one (../end, start/..). A bare date is the whole day.",
            json!({"type": "string"}), false),
        param("after", "query", "Paging: features whose id follows this one (from a `next` link).", json!({"type": "string"}), false),
        param("before", "query", "Paging: the features just before this id (from a `prev` link).", json!({"type": "string"}), false),
        param("filter", "query", &format!(
            "A CQL2 filter on the collection's queryables (see its `queryables` link), in CQL2 text or, with `filter-lang=cql2-json`, CQL2 JSON: comparisons, AND/OR/NOT, IN, BETWEEN, LIKE, IS NULL, S_INTERSECTS with a box, point or polygon, T_INTERSECTS with timestamps, dates and intervals. At most {} characters; a bad filter is a 400 naming the fault and where it lies (`column` in text; `pointer`, a JSON Pointer, or `line` and `column` in JSON).",
            crate::request::cql2::MAX_CHARS),
            json!({"type": "string", "maxLength": crate::request::cql2::MAX_CHARS}), false),
        param("filter-lang", "query", "The language of `filter`: cql2-text (the default) or cql2-json.",
            json!({"type": "string", "enum": crate::request::cql2::Lang::ALL.map(|l| l.name()), "default": params::CQL2_TEXT}), false),
        param("filter-crs", "query", "The CRS of coordinates in `filter`: CRS84 only.",
            json!({"type": "string", "enum": [ogc::CRS84], "default": ogc::CRS84}), false),
        crs_param("crs", "The CRS of the answer's coordinates (OGC API - Features Part 2): CRS84 (the default), EPSG:4326 (latitude first), EPSG:3857 or a UTM zone on WGS 84 (EPSG:32601-32660, 32701-32760), as an http://www.opengis.net/def/crs/ URI; the answer's Content-Crs header names it."),
        crs_param("bbox-crs", "The CRS of `bbox` (same values as `crs`; default CRS84)."),
        f_param(),
    ];
    let specs = crate::model::schema::COMMON.iter().chain(layer.fields());
    for spec in specs {
        if super::view::queryables(layer).any(|q| q == spec.name)
            && !caller.hidden(layer, spec.name)
        {
            v.push(param(
                spec.name,
                "query",
                &format!(
                    "Only features whose {} equals this value (repeat for any of several).",
                    spec.name
                ),
                field_schema(spec.kind),
                false,
            ));
        }
    }
    v
}

fn analysis_params(cmd: &clap::Command, local_only: &[&str]) -> Vec<Value> {
    let mut out = vec![f_param()];
    for a in cmd.get_arguments() {
        let Some(long) = a.get_long() else { continue };
        if local_only.contains(&long) {
            continue;
        }
        let help = a.get_help().map(|h| h.to_string()).unwrap_or_default();
        let defaults: Vec<String> = a
            .get_default_values()
            .iter()
            .map(|d| d.to_string_lossy().into_owned())
            .collect();
        let possible: Vec<String> = a
            .get_possible_values()
            .iter()
            .map(|p| p.get_name().to_string())
            .collect();
        let mut schema = if matches!(a.get_action(), clap::ArgAction::SetTrue) {
            json!({"type": "boolean", "default": false})
        } else if !possible.is_empty() {
            json!({"type": "string", "enum": possible})
        } else if long.ends_with("-km") || long.ends_with("-days") {
            json!({"type": "number", "minimum": 0, "exclusiveMinimum": true})
        } else if defaults.first().is_some_and(|d| d.parse::<u64>().is_ok()) || long == "knn" {
            json!({"type": "integer", "minimum": 0})
        } else {
            json!({"type": "string"})
        };
        if let (Some(d), Some(m)) = (defaults.first(), schema.as_object_mut()) {
            if !m.contains_key("default") {
                let v = d
                    .parse::<u64>()
                    .map(Value::from)
                    .or_else(|_| d.parse::<f64>().map(Value::from))
                    .unwrap_or_else(|_| Value::from(d.clone()));
                let v = if m["type"] == "string" {
                    Value::from(d.clone())
                } else {
                    v
                };
                m.insert("default".into(), v);
            }
        }
        if a.get_value_delimiter().is_some() {
            schema = json!({"type": "string", "description": "comma-separated list"});
        }
        out.push(param(long, "query", &help, schema, false));
    }
    out
}

/// The document.
pub fn document(caller: &Caller, base: &str) -> Value {
    let mut paths = Map::new();
    let plain = vec![f_param()];
    paths.insert(
        "/".into(),
        get(
            "Landing page",
            "getLandingPage",
            plain.clone(),
            ok(
                JSON,
                json!({"type": "object"}),
                "Links to the API definition, conformance and collections",
            ),
        ),
    );
    paths.insert("/conformance".into(), get("Conformance classes", "getConformance", plain.clone(),
        ok(JSON, json!({"type": "object", "properties": {"conformsTo": {"type": "array", "items": {"type": "string"}}}}), "Conformance classes")));
    paths.insert(
        "/collections".into(),
        get(
            "The collections you may see",
            "getCollections",
            plain.clone(),
            ok(JSON, json!({"type": "object"}), "Collections"),
        ),
    );
    paths.insert(
        "/api".into(),
        get(
            "This document",
            "getApi",
            plain.clone(),
            ok(ogc::OPENAPI, json!({"type": "object"}), "OpenAPI 3.0"),
        ),
    );
    paths.insert("/health".into(), json!({"get": {"summary": "Liveness (no token needed)", "operationId": "getHealth", "security": [],
        "responses": {"200": {"description": "Up", "content": {JSON: {"schema": {"type": "object"}}}},
                      "503": {"description": "The store does not answer"}}}}));
    for layer in caller.collections() {
        let name = layer.name();
        let t = ogc::title(layer);
        paths.insert(
            format!("/collections/{name}"),
            get(
                &format!("{t}: description"),
                &format!("describe_{name}"),
                plain.clone(),
                ok(JSON, json!({"type": "object"}), "The collection"),
            ),
        );
        let mut items = get(
            &format!("{t}: features"),
            &format!("getFeatures_{name}"),
            items_params(caller, layer),
            ok(
                GEOJSON,
                json!({"$ref": "#/components/schemas/FeatureCollection"}),
                "A page of features",
            ),
        );
        let mut post_responses = problem_responses();
        // The reply has no created/updated split: it would say whether an id was in use.
        post_responses["201"] = json!({"description": "Stored (all features)", "content": {JSON: {"schema": {
            "type": "object", "required": ["layer", "read", "accepted"], "properties": {
                "layer": {"type": "string"}, "read": {"type": "integer"},
                "accepted": {"type": "integer"}}}}}});
        items["post"] = json!({
            "summary": format!("{t}: add or replace features the token's role owns (all or nothing; needs the token's ingest right)"),
            "operationId": format!("ingest_{name}"),
            "parameters": plain,
            "requestBody": {"required": true, "content": {GEOJSON: {"schema": {"type": "object", "properties": {
                "type": {"type": "string", "enum": ["Feature", "FeatureCollection"]}}, "required": ["type"]}}}},
            "responses": post_responses,
        });
        paths.insert(format!("/collections/{name}/items"), items);
        for (path, summary, op) in [
            (
                "queryables",
                "the properties filters may use (JSON Schema)",
                "getQueryables",
            ),
            ("schema", "the feature schema (JSON Schema)", "getSchema"),
            (
                "schema/geojson",
                "the GeoJSON feature schema (JSON Schema)",
                "getGeoJsonSchema",
            ),
        ] {
            paths.insert(
                format!("/collections/{name}/{path}"),
                get(
                    &format!("{t}: {summary}, for your role"),
                    &format!("{op}_{name}"),
                    plain.clone(),
                    ok(
                        super::schema::SCHEMA_JSON,
                        json!({"type": "object"}),
                        "A JSON Schema (2020-12)",
                    ),
                ),
            );
        }
        let mut item_params = vec![param(
            "featureId",
            "path",
            "Feature id",
            json!({"type": "string"}),
            true,
        )];
        item_params.push(crs_param(
            "crs",
            "The CRS of the answer's coordinates, as for the items (OGC API - Features Part 2).",
        ));
        item_params.push(f_param());
        paths.insert(
            format!("/collections/{name}/items/{{featureId}}"),
            get(
                &format!("{t}: one feature"),
                &format!("getFeature_{name}"),
                item_params,
                ok(GEOJSON, json!({"type": "object"}), "The feature"),
            ),
        );
    }
    for e in analysis::endpoints() {
        let name = e.name;
        let mut params = analysis_params(&e.command, e.local_only);
        let mut responses = ok(
            GEOJSON,
            json!({"$ref": "#/components/schemas/FeatureCollection"}),
            "The analysis layer, aggregated for your role",
        );
        if !e.formats.is_empty() {
            let mut formats = vec!["json", "geojson"];
            formats.extend(e.formats.iter().map(|f| f.0));
            params[0] = param(
                "f",
                "query",
                &format!(
                    "Format: json or geojson (the same document), or {}.",
                    e.formats.iter().map(|f| f.0).collect::<Vec<_>>().join(", ")
                ),
                json!({"type": "string", "enum": formats}),
                false,
            );
            for (_, media) in &e.formats {
                let media = media.split(';').next().unwrap_or(media).trim();
                responses["200"]["content"][media] = json!({"schema": {"type": "string"}});
            }
        }
        paths.insert(
            format!("/analysis/{name}"),
            get(
                &format!("{name} as GeoJSON (parameters as the CLI's `jointmap {name}` flags)"),
                &format!("analysis_{name}"),
                params,
                responses,
            ),
        );
    }
    for kind in crate::request::brief::BriefKind::ALL {
        let name = kind.as_str();
        let mut params = analysis_params(
            &analysis::command::<crate::request::brief::BriefRequest>(),
            &[],
        );
        params[0] = param(
            "f",
            "query",
            "Format: html (the printable document), geojson or json (the areas, with every part's provenance), or csv; without it, HTML when Accept prefers text/html, else GeoJSON.",
            json!({"type": "string", "enum": ["html", "geojson", "json", "csv"]}),
            false,
        );
        let mut responses = ok(
            GEOJSON,
            json!({"$ref": "#/components/schemas/FeatureCollection"}),
            "The brief for your role: its areas as GeoJSON, or the document",
        );
        responses["200"]["content"]["text/html"] = json!({"schema": {"type": "string"}});
        responses["200"]["content"]["text/csv"] = json!({"schema": {"type": "string"}});
        paths.insert(
            format!("/products/briefs/{name}"),
            get(
                &format!(
                    "the {name} brief (parameters as the CLI's `jointmap brief {name}` flags)"
                ),
                &format!("brief_{}", name.replace('-', "_")),
                params,
                responses,
            ),
        );
    }
    let mut filter = analysis_params(
        &analysis::command::<crate::request::events::FilterArgs>(),
        super::tiles::NOT_FOR_TILES,
    );
    filter.remove(0);
    paths.extend(super::tiles::api_paths(filter, problem_responses()));
    json!({
        "openapi": "3.0.3",
        "info": {"title": "jointmap", "version": env!("CARGO_PKG_VERSION"),
                 "description": "OGC API - Features and analysis layers; every response is filtered for the caller's role."},
        "servers": [{"url": base}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Problem": {"type": "object", "properties": {
                    "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                    "detail": {"type": "string"}, "parameter": {"type": "string"},
                    "errors": {"type": "array", "items": {"type": "object"}}}},
                "FeatureCollection": {"type": "object", "required": ["type", "features"], "properties": {
                    "type": {"type": "string", "enum": ["FeatureCollection"]},
                    "features": {"type": "array", "items": {"type": "object"}},
                    "links": {"type": "array", "items": {"type": "object"}},
                    "numberMatched": {"type": "integer"}, "numberReturned": {"type": "integer"},
                    "timeStamp": {"type": "string"}}}
            }
        }
    })
}

/// `GET /api`
pub async fn api(caller: Caller, RawQuery(q): RawQuery) -> Result<Response, ApiError> {
    params::check_plain(&params::pairs(q.as_deref()), params::COMMON)?;
    let b = ogc::base(&caller);
    let doc = document(&caller, &b);
    Ok(ogc::respond(
        serde_json::to_vec(&doc).unwrap_or_default(),
        ogc::OPENAPI,
    ))
}
