//! Validation of one GeoJSON feature into a normalised [`Feature`], and back.

use super::bounds::Bounds;
use super::geometry::{self, parse_geometry};
use super::json;
use super::parts::{Parts, Slots};
use super::schema::{self, FieldKind, FieldSpec};
use super::time::{format_time, parse_time};
use super::{Layer, Level, Owner, Problem, TimeSpan};
use chrono::Timelike;
use geo_types::Geometry;
use serde_json::{Map, Value};
use std::borrow::Cow;

mod props;
use props::Props;

/// A validated, normalised feature of one layer.
///
/// `properties` holds the layer's fields in schema order (defaults applied)
/// followed by any extra properties the input carried, which are kept as they were.
#[derive(Debug, Clone, PartialEq)]
pub struct Feature {
    /// Unique id within its layer.
    pub id: String,
    /// WGS 84 longitude/latitude geometry.
    pub geometry: Geometry<f64>,
    /// When.
    pub time: TimeSpan,
    /// Owning component.
    pub owner: Owner,
    /// Classification level.
    pub level: Level,
    /// Layer fields, then extra properties.
    pub properties: Map<String, Value>,
}

/// A feature that failed validation: its id when one could be read, and every problem found.
#[derive(Debug, Clone, PartialEq)]
pub struct Invalid {
    /// The feature's id, if it had a readable one.
    pub id: Option<String>,
    /// All problems found, not just the first.
    pub problems: Vec<Problem>,
}

/// A feature as read from input, before validation: its position and its text.
#[derive(Debug, Clone)]
pub struct RawFeature {
    /// 0-based position in the input (per file).
    pub index: usize,
    /// The feature exactly as it appeared in the input.
    pub text: String,
    /// Where `text` began in the input (JSON errors are then counted there),
    /// or `None` when it was not cut verbatim from a known position.
    pub start: Option<json::TextPos>,
    /// Where the record came from when its index alone does not say it
    /// (a layer and FID of an input read through GDAL), for messages.
    pub origin: Option<String>,
}

impl Feature {
    /// Validates a GeoJSON feature (text) for `layer` within the default
    /// [`Bounds`].
    pub fn from_geojson_str(layer: Layer, text: &str) -> Result<Feature, Invalid> {
        Feature::from_geojson_str_with(layer, text, &Bounds::default())
    }

    /// Validates a GeoJSON feature (text) for `layer` within `bounds`: a
    /// repeated key in any object, a string or the feature over its size
    /// bound, and every value out of bounds are problems.
    pub fn from_geojson_str_with(
        layer: Layer,
        text: &str,
        bounds: &Bounds,
    ) -> Result<Feature, Invalid> {
        Feature::from_geojson_with(layer, parse_strict(text, bounds)?, text, bounds)
    }

    /// Validates a parsed GeoJSON feature for `layer` within the default
    /// [`Bounds`]; `text` is its source, used only to derive a stable id when
    /// the feature has none.
    pub fn from_geojson(layer: Layer, v: Value, text: &str) -> Result<Feature, Invalid> {
        Feature::from_geojson_with(layer, v, text, &Bounds::default())
    }

    /// Validates a parsed GeoJSON feature for `layer` within `bounds`.
    pub fn from_geojson_with(
        layer: Layer,
        v: Value,
        text: &str,
        bounds: &Bounds,
    ) -> Result<Feature, Invalid> {
        Parts::from_geojson_with(layer, v, text, bounds).map(Feature::from)
    }

    /// Validates a feature's text for `layer` within `bounds`, as
    /// [`parse_strict_at`] then [`Feature::from_geojson_with`] do; JSON error
    /// positions are counted in the input when `start` is known.
    pub fn from_text_at(
        layer: Layer,
        text: &str,
        bounds: &Bounds,
        start: Option<json::TextPos>,
    ) -> Result<Feature, Invalid> {
        Parts::from_text_at(layer, text, bounds, start).map(Feature::from)
    }

    /// The feature as a GeoJSON Feature object, in jointmap's normalised form.
    pub fn to_geojson(&self) -> Value {
        let mut props = Map::with_capacity(self.properties.len() + 4);
        props.insert(
            "time_start".into(),
            Value::String(format_time(&self.time.start)),
        );
        if let Some(end) = &self.time.end {
            props.insert("time_end".into(), Value::String(format_time(end)));
        }
        props.insert("owner".into(), self.owner.as_str().into());
        props.insert("classification".into(), self.level.as_str().into());
        props.extend(self.properties.iter().map(|(k, v)| (k.clone(), v.clone())));
        let mut f = Map::with_capacity(4);
        f.insert("type".into(), "Feature".into());
        f.insert("id".into(), Value::String(self.id.clone()));
        f.insert("geometry".into(), geometry::to_geojson(&self.geometry));
        f.insert("properties".into(), Value::Object(props));
        Value::Object(f)
    }

    /// A string field's value, if present.
    pub fn str(&self, name: &str) -> Option<&str> {
        self.properties.get(name).and_then(Value::as_str)
    }

    /// An integer field's value, if present.
    pub fn int(&self, name: &str) -> Option<i64> {
        self.properties.get(name).and_then(Value::as_i64)
    }
}

impl Parts {
    /// Validates a feature's text for `layer` within `bounds`, as
    /// [`Feature::from_text_at`] does, into the parts a store writes: no
    /// map of its properties is built.
    pub fn from_text_at(
        layer: Layer,
        text: &str,
        bounds: &Bounds,
        start: Option<json::TextPos>,
    ) -> Result<Parts, Invalid> {
        check_size(text, bounds)?;
        let (v, props) =
            json::parse_feature_at(text, bounds.max_string_bytes, start).map_err(json_invalid)?;
        Parts::validate(layer, v, Some(props), text, bounds)
    }

    /// Validates a parsed GeoJSON feature for `layer` within `bounds`, as
    /// [`Feature::from_geojson_with`] does, into its parts.
    pub fn from_geojson_with(
        layer: Layer,
        v: Value,
        text: &str,
        bounds: &Bounds,
    ) -> Result<Parts, Invalid> {
        let top = match v {
            Value::Object(m) => {
                json::Parsed::Object(m.into_iter().map(|(k, v)| (Cow::Owned(k), v)).collect())
            }
            other => json::Parsed::Other(other),
        };
        Parts::validate(layer, top, None, text, bounds)
    }

    /// Validates a parsed feature whose `properties` member, when `given`,
    /// was parsed apart (`Some(None)`: it had none). The one set of rules
    /// every way in shares.
    fn validate(
        layer: Layer,
        top: json::Parsed<'_>,
        given: Option<Option<json::Properties<'_>>>,
        text: &str,
        bounds: &Bounds,
    ) -> Result<Parts, Invalid> {
        let mut problems = Vec::new();
        let json::Parsed::Object(mut obj) = top else {
            return Err(Invalid {
                id: None,
                problems: vec![Problem::new(
                    "(feature)",
                    "expected a GeoJSON Feature object",
                )],
            });
        };
        match member(&obj, "type").and_then(Value::as_str) {
            Some("Feature") => {}
            Some(other) => problems.push(Problem::new(
                "type",
                format!("expected \"Feature\", found {other:?}"),
            )),
            None => problems.push(Problem::new("type", "missing \"type\": \"Feature\"")),
        }
        let given = match given {
            Some(p) => p,
            None => take_member(&mut obj, "properties").map(|v| match v {
                Value::Object(m) => json::Properties::Members(
                    m.into_iter().map(|(k, v)| (Cow::Owned(k), v)).collect(),
                ),
                other => json::Properties::Other(other),
            }),
        };
        let mut props = Props::new(
            match given {
                Some(json::Properties::Members(m)) => m,
                None | Some(json::Properties::Other(Value::Null)) => Vec::new(),
                Some(json::Properties::Other(_)) => {
                    problems.push(Problem::new("properties", "must be an object or null"));
                    Vec::new()
                }
            },
            layer,
        );
        // The id: the Feature's own, else a property `id`, else derived from the text
        // so that re-ingesting the same file stays idempotent.
        let id = match take_member(&mut obj, "id").filter(|v| !v.is_null()) {
            Some(v) => id_string(&v, &mut problems),
            None => match props.take("id").filter(|v| !v.is_null()) {
                Some(v) => id_string(&v, &mut problems),
                None => Some(format!("h{:016x}", fnv1a(text.as_bytes()))),
            },
        };
        let geometry = match member(&obj, "geometry") {
            Some(g) => match parse_geometry(g, layer.geometry_kinds()) {
                Ok(g) => Some(g),
                Err(e) => {
                    problems.push(Problem::new("geometry", e));
                    None
                }
            },
            None => {
                problems.push(Problem::new("geometry", "missing geometry"));
                None
            }
        };
        let time = take_time(layer, &mut props, &mut problems, bounds);
        let owner = take_enum(&mut props, "owner", super::Owner::VALUES, &mut problems)
            .and_then(|s| s.parse::<Owner>().ok());
        let level = take_enum(
            &mut props,
            "classification",
            super::Level::VALUES,
            &mut problems,
        )
        .and_then(|s| s.parse::<Level>().ok());

        let specs = layer.fields();
        let mut fields: Vec<Option<Value>> = specs
            .iter()
            .enumerate()
            .map(|(i, spec)| take_field(spec, i, &mut props, &mut problems, bounds))
            .collect();
        let (owner, level) = derive(
            layer,
            &mut Slots {
                specs,
                values: &mut fields,
            },
            owner,
            level,
            geometry.as_ref(),
            time.as_ref(),
            &mut problems,
        );
        match (id, geometry, time) {
            (Some(id), Some(geometry), Some(time)) if problems.is_empty() => Ok(Parts {
                layer,
                id,
                geometry,
                time,
                owner,
                level,
                fields,
                extras: props.rest().collect(), // kept as they came
            }),
            (id, ..) => Err(Invalid { id, problems }),
        }
    }
}

/// Parses a feature's text as strict JSON within `bounds` (size, string
/// length, no repeated keys).
pub fn parse_strict(text: &str, bounds: &Bounds) -> Result<Value, Invalid> {
    parse_strict_at(text, bounds, None)
}

/// As [`parse_strict`], with JSON error positions counted in the input when
/// `start` (where the text began there) is known.
pub fn parse_strict_at(
    text: &str,
    bounds: &Bounds,
    start: Option<json::TextPos>,
) -> Result<Value, Invalid> {
    check_size(text, bounds)?;
    json::parse_at(text, bounds.max_string_bytes, start).map_err(json_invalid)
}

fn json_invalid(e: json::JsonError) -> Invalid {
    Invalid {
        id: None,
        problems: vec![Problem::new(e.field, e.reason)],
    }
}

fn check_size(text: &str, bounds: &Bounds) -> Result<(), Invalid> {
    if text.len() > bounds.max_feature_bytes {
        return Err(Invalid {
            id: None,
            problems: vec![Problem::new(
                "(feature)",
                format!(
                    "the feature is {} bytes, more than the maximum {} (see --max-feature-bytes)",
                    text.len(),
                    bounds.max_feature_bytes
                ),
            )],
        });
    }
    Ok(())
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn id_string(v: &Value, problems: &mut Vec<Problem>) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => {
            problems.push(Problem::new(
                "id",
                format!("must be a non-empty string or a number, found {v}"),
            ));
            None
        }
    }
}

/// The value of an object's member `name`.
fn member<'v>(obj: &'v json::Members<'_>, name: &str) -> Option<&'v Value> {
    obj.iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

/// Removes and returns the value of an object's member `name`.
fn take_member(obj: &mut json::Members<'_>, name: &str) -> Option<Value> {
    let at = obj.iter().position(|(k, _)| k == name)?;
    Some(obj.swap_remove(at).1)
}

fn take_time(
    layer: Layer,
    props: &mut Props<'_>,
    problems: &mut Vec<Problem>,
    bounds: &Bounds,
) -> Option<TimeSpan> {
    let mut one = |name: &str| -> Result<Option<chrono::DateTime<chrono::Utc>>, ()> {
        match props.take(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => parse_time(&s)
                .and_then(|t| bounds.check_time(&t).map(|()| t))
                .map(Some)
                .map_err(|e| problems.push(Problem::new(name, e))),
            Some(other) => {
                problems.push(Problem::new(
                    name,
                    format!("expected an RFC 3339 time string, found {other}"),
                ));
                Err(())
            }
        }
    };
    let instant = one("time");
    let start = one("time_start");
    let end = one("time_end");
    let (Ok(instant), Ok(start), Ok(end)) = (instant, start, end) else {
        return None;
    };
    let start = match (instant, start) {
        (Some(t), None) | (None, Some(t)) => t,
        (Some(_), Some(_)) => {
            problems.push(Problem::new(
                "time",
                "give either `time` or `time_start`, not both",
            ));
            return None;
        }
        (None, None) => {
            problems.push(Problem::new(
                "time_start",
                "missing time: give `time_start` (or `time` for an instant)",
            ));
            return None;
        }
    };
    if let Some(e) = end {
        if e < start {
            problems.push(Problem::new(
                "time_end",
                format!(
                    "end {} is before start {}",
                    format_time(&e),
                    format_time(&start)
                ),
            ));
            return None;
        }
    } else if layer.requires_end() {
        problems.push(Problem::new(
            "time_end",
            format!("missing time: {layer} need an end time"),
        ));
        return None;
    }
    Some(TimeSpan { start, end })
}

/// Case- and separator-insensitive enum matching, returning the canonical
/// value: `_` and ` ` stand for `-`, ASCII letters match in either case.
/// Byte by byte, as the mapping keeps every byte's place (no copy made).
fn match_enum(s: &str, allowed: &'static [&'static str]) -> Option<&'static str> {
    // Most inputs give the canonical value: found by plain comparison first.
    if let Some(hit) = allowed.iter().copied().find(|a| *a == s) {
        return Some(hit);
    }
    let s = s.trim().as_bytes();
    let norm = |b: u8| match b {
        b'_' | b' ' => b'-',
        b => b.to_ascii_lowercase(),
    };
    allowed.iter().copied().find(|a| {
        a.len() == s.len()
            && a.bytes()
                .zip(s.iter())
                .all(|(x, &y)| x.eq_ignore_ascii_case(&norm(y)))
    })
}

fn unknown_value(found: &Value, allowed: &[&str]) -> String {
    format!(
        "unknown value {found}; expected one of {}",
        allowed.join(", ")
    )
}

fn take_enum(
    props: &mut Props<'_>,
    name: &str,
    allowed: &'static [&'static str],
    problems: &mut Vec<Problem>,
) -> Option<&'static str> {
    match props.take(name) {
        None | Some(Value::Null) => None,
        Some(v) => {
            let hit = v.as_str().and_then(|s| match_enum(s, allowed));
            if hit.is_none() {
                problems.push(Problem::new(name, unknown_value(&v, allowed)));
            }
            hit
        }
    }
}

/// The value of field `spec` (its default when absent), or `None` when it
/// has none or a problem.
fn take_field(
    spec: &FieldSpec,
    field: usize,
    props: &mut Props<'_>,
    problems: &mut Vec<Problem>,
    bounds: &Bounds,
) -> Option<Value> {
    let name = spec.name;
    let v = match props.take_field(field, name) {
        None | Some(Value::Null) => {
            if spec.required {
                problems.push(Problem::new(name, "missing required field"));
                return None;
            }
            return spec.default.map(|d| default_value(spec.kind, d));
        }
        Some(v) => v,
    };
    let checked: Result<Value, String> = match spec.kind {
        // Valid values move into the output: no copies.
        FieldKind::Text => match v {
            Value::String(s) if s.trim().is_empty() && spec.required => {
                Err("must not be empty".into())
            }
            Value::String(s) => Ok(Value::String(s)),
            other => Err(format!("expected text, found {other}")),
        },
        FieldKind::Enum(allowed) => match v.as_str().and_then(|s| match_enum(s, allowed)) {
            // Most values are given as they are stored: kept, not copied.
            Some(hit) if v.as_str() == Some(hit) => Ok(v),
            Some(hit) => Ok(Value::from(hit)),
            None => Err(unknown_value(&v, allowed)),
        },
        FieldKind::Count => {
            integer(&v).and_then(|n| bounds.check_count(name, n).map(|()| Value::from(n)))
        }
        FieldKind::IntRange(lo, hi) => integer(&v).and_then(|n| {
            if (lo..=hi).contains(&n) {
                Ok(Value::from(n))
            } else {
                Err(format!("{n} out of range {lo}..{hi}"))
            }
        }),
        FieldKind::PositiveReal => match v.as_f64() {
            Some(x) if x.is_finite() && x > 0.0 => Ok(v),
            _ => Err(format!("expected a positive number, found {v}")),
        },
        FieldKind::Fraction => match v.as_f64() {
            Some(x) if x.is_finite() && x > 0.0 && x <= 1.0 => Ok(v),
            _ => Err(format!(
                "expected a number greater than 0 and at most 1, found {v}"
            )),
        },
        FieldKind::TimeList => match &v {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, t)| match t {
                    Value::String(s) => parse_time(s)
                        .and_then(|t| bounds.check_time(&t).map(|()| t))
                        .map(|t| Value::String(format_time(&t)))
                        .map_err(|e| format!("item {i}: {e}")),
                    other => Err(format!(
                        "item {i}: expected an RFC 3339 time string, found {other}"
                    )),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array),
            _ => Err(format!("expected an array of times, found {v}")),
        },
    };
    checked
        .map_err(|reason| problems.push(Problem::new(name, reason)))
        .ok()
}

fn integer(v: &Value) -> Result<i64, String> {
    if let Some(n) = v.as_i64() {
        return Ok(n);
    }
    match v.as_f64() {
        // 3.0 is an integer written by a tool that only knows doubles.
        Some(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => Ok(x as i64),
        _ => Err(format!("expected an integer, found {v}")),
    }
}

fn default_value(kind: FieldKind, d: &str) -> Value {
    match kind {
        FieldKind::Count | FieldKind::IntRange(..) => {
            d.parse::<i64>().map(Value::from).unwrap_or(Value::Null)
        }
        _ => Value::String(d.to_string()),
    }
}

/// Layer rules that depend on several fields: classification defaults, derived
/// fields, cross-field checks.
fn derive(
    layer: Layer,
    fields: &mut Slots<'_>,
    owner: Option<Owner>,
    level: Option<Level>,
    geometry: Option<&Geometry<f64>>,
    time: Option<&TimeSpan>,
    problems: &mut Vec<Problem>,
) -> (Owner, Level) {
    let s = |fields: &Slots<'_>, k: &str| fields.get(k).and_then(Value::as_str).map(str::to_owned);
    match layer {
        Layer::Incidents => {
            let category = s(fields, "category").unwrap_or_default();
            const CHILD_COUNTS: [&str; 6] = [
                "killed_girls",
                "killed_boys",
                "injured_girls",
                "injured_boys",
                "affected_girls",
                "affected_boys",
            ];
            let children = CHILD_COUNTS
                .iter()
                .any(|k| fields.get(k).and_then(Value::as_i64).unwrap_or(0) > 0);
            let sensitive = category == "sexual-violence"
                || category == "child-recruitment"
                || children
                || fields.has("source_name");
            let default_level = if sensitive {
                Level::StrictlyConfidential
            } else {
                Level::Restricted
            };
            (owner.unwrap_or(Owner::Hr), level.unwrap_or(default_level))
        }
        Layer::Sightings => (
            owner.unwrap_or(Owner::Military),
            level.unwrap_or(Level::Restricted),
        ),
        Layer::Patrols => {
            if !fields.has("period") {
                if let Some(t) = time {
                    let h = t.start.hour();
                    let period = if (6..18).contains(&h) { "day" } else { "night" };
                    fields.set("period", period.into());
                }
            }
            if let (Some(Value::Array(times)), Some(g), Some(span)) =
                (fields.get("vertex_times"), geometry, time)
            {
                let n = geometry::vertex_count(g);
                if times.len() != n {
                    problems.push(Problem::new(
                        "vertex_times",
                        format!(
                            "{} times for {n} vertices; give one time per vertex",
                            times.len()
                        ),
                    ));
                } else {
                    let parsed: Vec<_> = times
                        .iter()
                        .filter_map(|t| t.as_str().and_then(|s| parse_time(s).ok()))
                        .collect();
                    if let Some(i) = parsed.windows(2).position(|w| w[1] < w[0]) {
                        problems.push(Problem::new(
                            "vertex_times",
                            format!("time of vertex {} is before that of vertex {i}", i + 1),
                        ));
                    } else if parsed.first().is_some_and(|t| *t < span.start)
                        || parsed.last().is_some_and(|t| *t > span.last())
                    {
                        problems.push(Problem::new(
                            "vertex_times",
                            "vertex times fall outside [time_start, time_end]",
                        ));
                    }
                }
            }
            (
                owner.unwrap_or(Owner::Military),
                level.unwrap_or(Level::Restricted),
            )
        }
        Layer::Bases => {
            let base_type = s(fields, "base_type");
            if !fields.has("reach_km") {
                if let Some(km) = base_type.as_deref().and_then(schema::default_reach_km) {
                    fields.set("reach_km", Value::from(km));
                }
            }
            // Temporary deployments reveal troop movements: restricted by default.
            let default_level = match base_type.as_deref() {
                Some("tob") | Some("scd") => Level::Restricted,
                _ => Level::Mission,
            };
            (
                owner.unwrap_or(Owner::Military),
                level.unwrap_or(default_level),
            )
        }
        Layer::Sites => {
            let site_type = s(fields, "site_type");
            if let Some(t) = site_type.as_deref() {
                if !fields.has("vulnerability") {
                    if let Some(v) = schema::default_vulnerability(t) {
                        fields.set("vulnerability", Value::from(v));
                    }
                }
                if !fields.has("exposure") {
                    if let Some(e) = schema::default_exposure(t) {
                        fields.set("exposure", Value::from(e));
                    }
                }
            }
            (
                owner.unwrap_or(Owner::Mission),
                level.unwrap_or(Level::Mission),
            )
        }
    }
}

#[cfg(test)]
mod tests;
