//! Provenance: every product records the request it answered, by the
//! parameter names of the command line and the server, with every default
//! that depends on the data or the clock resolved, and the data version of
//! the store; [`parse`] reads such a record back into the request, through
//! the same clap definitions, so `jointmap rerun` can give the same product
//! byte for byte.
//!
//! The record is the request serialised (`serde`, names in kebab-case as
//! clap's long flags): a parameter added to a request is recorded without
//! further code, and `tests::records_name_every_parameter` fails if a name
//! does not match a flag.

use crate::analysis::product::{Param, Product};
use crate::analysis::AnalysisError;
use crate::grid::Area;
use crate::store::FeatureSource;
use chrono::{DateTime, Utc};
use serde::Serializer;
use serde_json::{Map, Value};
use std::path::Path;

/// Serialises a clap value enum by its command-line name.
pub(crate) fn value_enum<T: clap::ValueEnum, S: Serializer>(
    v: &T,
    s: S,
) -> Result<S::Ok, S::Error> {
    match v.to_possible_value() {
        Some(p) => s.serialize_str(p.get_name()),
        None => s.serialize_none(),
    }
}

/// Serialises a value by its `Display` form (what its `FromStr` parses).
pub(crate) fn display<T: std::fmt::Display, S: Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

/// Serialises an optional time as RFC 3339 with its milliseconds (the
/// precision of the store and of the time arguments).
pub(crate) fn time<S: Serializer>(v: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(t) => s.serialize_str(&crate::model::time::format_time(t)),
        None => s.serialize_none(),
    }
}

/// The risk level by its command-line name.
pub(crate) fn risk<S: Serializer>(
    v: &crate::analysis::threat::RiskLevel,
    s: S,
) -> Result<S::Ok, S::Error> {
    s.serialize_str(v.as_str())
}

/// The record of `req`: its parameters by name. An `area` file is recorded
/// as the polygons it held (a GeoJSON MultiPolygon), so the record needs no
/// file to be re-run.
pub fn record<T: serde::Serialize>(req: &T) -> crate::Result<Map<String, Value>> {
    let v = serde_json::to_value(req)
        .map_err(|e| AnalysisError::param("request", format!("cannot be recorded: {e}")))?;
    let Value::Object(mut map) = v else {
        return Err(AnalysisError::param("request", "is not a set of named parameters").into());
    };
    if let Some(Value::String(path)) = map.get("area") {
        let area = super::read_area(Path::new(path))?;
        map.insert("area".into(), area_geojson(&area));
    }
    Ok(map)
}

/// An area as GeoJSON: a bbox as its `[w, s, e, n]`, polygons as a
/// MultiPolygon.
pub fn area_geojson(area: &Area) -> Value {
    let ring = |l: &geo_types::LineString<f64>| -> Value {
        Value::Array(
            l.0.iter()
                .map(|c| Value::Array(vec![num(c.x), num(c.y)]))
                .collect(),
        )
    };
    match area {
        Area::BBox(b) => Value::Array(b.iter().map(|x| num(*x)).collect()),
        Area::Polygon(mp) => {
            let polys: Vec<Value> =
                mp.0.iter()
                    .map(|p| {
                        let mut rings = vec![ring(p.exterior())];
                        rings.extend(p.interiors().iter().map(ring));
                        Value::Array(rings)
                    })
                    .collect();
            serde_json::json!({"type": "MultiPolygon", "coordinates": polys})
        }
    }
}

fn num(x: f64) -> Value {
    serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
}

/// Adds the provenance members to `product`: `request` (the record of
/// `req`), `applied` (what the request resolved to on this data: window,
/// area, projection centre ...; for people, not needed to re-run) and
/// `data_version` (the store's, which `jointmap rerun` checks; absent from a
/// product made for a role, see `FeatureSource::disclosed_version`).
pub fn stamp<T: serde::Serialize>(
    product: &mut Product,
    req: &T,
    applied: Vec<(&'static str, Param)>,
    store: &dyn FeatureSource,
) -> crate::Result<()> {
    let rec = record(req)?;
    let version = store.disclosed_version()?;
    product.meta.extend([
        (
            "request",
            crate::analysis::product::Field::Param(Param::Record(rec)),
        ),
        (
            "applied",
            crate::analysis::product::Field::Param(Param::Object(applied)),
        ),
    ]);
    if let Some(version) = version {
        product.meta.push((
            "data_version",
            crate::analysis::product::Field::param(version as i64),
        ));
    }
    Ok(())
}

/// An area as applied: a bbox as `[w, s, e, n]`; polygons (recorded in
/// full in `request`) as `{"polygons": n, "bbox": [w, s, e, n]}`.
pub fn area_param(area: &Area) -> Param {
    let list = |b: [f64; 4]| Param::List(b.iter().map(|x| Param::Num(*x)).collect());
    match area {
        Area::BBox(b) => list(*b),
        Area::Polygon(mp) => {
            let mut b = [
                f64::INFINITY,
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::NEG_INFINITY,
            ];
            for c in mp.0.iter().flat_map(|p| p.exterior().0.iter()) {
                b = [b[0].min(c.x), b[1].min(c.y), b[2].max(c.x), b[3].max(c.y)];
            }
            Param::Object(vec![("polygons", mp.0.len().into()), ("bbox", list(b))])
        }
    }
}

/// What a grid applied: its area and the centre of its projection (the
/// grid anchor of square cells).
pub fn grid_applied(area: &Area, grid: &crate::grid::Grid) -> Vec<(&'static str, Param)> {
    let [lon, lat] = grid.projection().centre();
    vec![
        ("area", area_param(area)),
        (
            "projection_centre",
            Param::List(vec![lon.into(), lat.into()]),
        ),
    ]
}

/// A window of Unix seconds as recorded in `applied`.
pub fn window_param(from: Option<i64>, to: Option<i64>) -> Param {
    let t = |t: Option<i64>| {
        t.and_then(|t| DateTime::<Utc>::from_timestamp(t, 0))
            .map_or(Param::Null, |t| {
                Param::Text(crate::model::time::format_time(&t))
            })
    };
    Param::List(vec![t(from), t(to)])
}

/// The parsing command of request `A` (as the server's).
fn command<A: clap::Args>() -> clap::Command {
    A::augment_args(
        clap::Command::new("jointmap")
            .no_binary_name(true)
            .disable_help_flag(true)
            .disable_version_flag(true),
    )
}

/// Reads a record back into request `A`, through `A`'s clap definitions
/// (every value validated as on the command line). An inline `area` is
/// written to `area_file` and given as that file.
pub fn parse<A: clap::Args + clap::FromArgMatches>(
    rec: &Map<String, Value>,
    area_file: &Path,
) -> crate::Result<A> {
    let bad = |name: &str, reason: String| -> crate::Error {
        AnalysisError::param("request", format!("recorded parameter {name:?}: {reason}")).into()
    };
    let cmd = command::<A>();
    let mut argv: Vec<String> = Vec::new();
    for (k, v) in rec {
        let Some(arg) = cmd
            .get_arguments()
            .find(|a| a.get_long() == Some(k.as_str()))
        else {
            return Err(bad(k, "not a parameter of this analysis".into()));
        };
        let scalar = |v: &Value| match v {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            other => Err(bad(k, format!("unexpected value {other}"))),
        };
        let flag = matches!(arg.get_action(), clap::ArgAction::SetTrue);
        if flag && !matches!(v, Value::Bool(_)) {
            return Err(bad(k, format!("{v} is not true or false")));
        }
        match v {
            Value::Null => {}
            Value::Bool(b) => {
                if !flag {
                    return Err(bad(k, format!("{b} is not a value of this parameter")));
                }
                if *b {
                    argv.push(format!("--{k}"));
                }
            }
            Value::Array(items) => {
                if items.is_empty() {
                    continue;
                }
                let parts: Vec<String> = items.iter().map(scalar).collect::<Result<_, _>>()?;
                argv.push(format!("--{k}={}", parts.join(",")));
            }
            Value::Object(_) if k == "area" => {
                write_area(area_file, v).map_err(|e| bad(k, e))?;
                argv.push(format!("--{k}={}", area_file.display()));
            }
            other => argv.push(format!("--{k}={}", scalar(other)?)),
        }
    }
    let clap_error = |e: clap::Error| {
        let name = match e.get(clap::error::ContextKind::InvalidArg) {
            Some(clap::error::ContextValue::String(s)) => s
                .trim_start_matches('-')
                .split([' ', '=', '<'])
                .next()
                .unwrap_or("")
                .to_string(),
            _ => String::new(),
        };
        let text = e.render().to_string();
        let first = text
            .lines()
            .next()
            .unwrap_or("")
            .trim_start_matches("error: ");
        bad(&name, first.to_string())
    };
    let matches = cmd.try_get_matches_from(&argv).map_err(clap_error)?;
    A::from_arg_matches(&matches).map_err(clap_error)
}

fn write_area(path: &Path, geometry: &Value) -> Result<(), String> {
    std::fs::write(path, geometry.to_string()).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests;
