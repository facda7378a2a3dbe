//! Features as one caller may see them, and the item queries over them.
//!
//! Everything here works on what the access gate already let through (the
//! shown GeoJSON of each feature): filters are evaluated on the shown
//! geometry, times and properties, so that no filter can probe a value the
//! caller does not see. Paging is keyset paging on the feature id (string
//! order): `after=<id>` gives the next page, `before=<id>` the previous one,
//! so a walk through `next` links visits every feature that exists throughout
//! exactly once even while other features are added or removed.

use crate::model::geometry::parse_geometry;
use crate::model::Layer;
use crate::request::cql2;
use bytes::Bytes;
use geo::Intersects;
use serde_json::{Map, Value};
use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::sync::Arc;

/// One shown feature, ready to filter and to send.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Feature id (string form).
    pub id: String,
    /// Envelope of the shown geometry `[min_lon, min_lat, max_lon, max_lat]`.
    pub env: Option<[f64; 4]>,
    /// The shown geometry.
    pub geom: Option<geo_types::Geometry<f64>>,
    /// Start, milliseconds since the epoch (`None`: the time is not shown).
    pub t0: Option<i64>,
    /// End, milliseconds (`i64::MAX` for open-ended validity).
    pub t1: Option<i64>,
    /// The shown `time_end`, milliseconds (`None`: absent or not shown).
    pub end: Option<i64>,
    /// The shown properties that filters may use.
    pub props: Map<String, Value>,
    /// The shown feature, serialised.
    pub json: Bytes,
}

impl Entry {
    /// Builds an entry from a shown GeoJSON feature; `None` when it has no id.
    pub fn from_shown(layer: Layer, mut v: Value) -> Option<Entry> {
        let id = match v.get("id") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => return None,
        };
        let geom = v
            .get("geometry")
            .and_then(|g| parse_geometry(g, layer.geometry_kinds()).ok());
        let env = geom.as_ref().and_then(envelope);
        let props = v
            .get("properties")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let time = |name: &str| {
            props
                .get(name)
                .and_then(Value::as_str)
                .and_then(|s| crate::model::time::parse_time(s).ok())
                .map(|t| t.timestamp_millis())
        };
        let t0 = time("time_start");
        let end = time("time_end");
        let t1 = match (t0, end) {
            (None, _) => None,
            (Some(_), Some(e)) => Some(e),
            (Some(_), None) if layer.open_ended() => Some(i64::MAX),
            (Some(s), None) => Some(s),
        };
        // Schema fields and the totals a redacted view shows in place of
        // counts: what CQL2 filters may name (extras never are).
        let keep: Vec<&str> = queryables(layer).collect();
        let props: Map<String, Value> = props
            .into_iter()
            .filter(|(k, _)| keep.contains(&k.as_str()) || TOTALS.contains(&k.as_str()))
            .collect();
        if let Some(o) = v.as_object_mut() {
            o.remove("links");
        }
        let json = Bytes::from(serde_json::to_vec(&v).ok()?);
        Some(Entry {
            id,
            env,
            geom,
            t0,
            t1,
            end,
            props,
            json,
        })
    }
}

/// Totals a redacted incident view shows in place of per-sex and age counts.
const TOTALS: [&str; 3] = ["killed_total", "injured_total", "affected_total"];

/// A shown feature as CQL2 filters read it: its id, shown times, shown
/// properties and shown geometry (nothing else exists for the filter).
impl cql2::Subject for Entry {
    fn value(&self, name: &str) -> Option<cql2::Value<'_>> {
        match name {
            "id" => Some(cql2::Value::Str(&self.id)),
            "time_start" => self.t0.map(cql2::Value::Instant),
            "time_end" => self.end.map(cql2::Value::Instant),
            _ => match self.props.get(name)? {
                Value::String(s) => Some(cql2::Value::Str(s)),
                Value::Number(n) => n.as_f64().map(cql2::Value::Num),
                Value::Bool(b) => Some(cql2::Value::Bool(*b)),
                _ => None,
            },
        }
    }

    fn geometry(&self) -> Option<&geo_types::Geometry<f64>> {
        self.geom.as_ref()
    }
}

/// Property names usable as `?name=value` filters on a layer: the common
/// classification fields and the layer's schema fields (times use `datetime`).
pub fn queryables(layer: Layer) -> impl Iterator<Item = &'static str> {
    crate::model::schema::COMMON
        .iter()
        .chain(layer.fields())
        .map(|f| f.name)
        .filter(|n| !matches!(*n, "time_start" | "time_end"))
}

fn envelope(g: &geo_types::Geometry<f64>) -> Option<[f64; 4]> {
    use geo::BoundingRect;
    g.bounding_rect()
        .map(|r| [r.min().x, r.min().y, r.max().x, r.max().y])
}

/// The item filters of one request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    /// `[min_lon, min_lat, max_lon, max_lat]`; `min_lon > max_lon` crosses the antimeridian.
    pub bbox: Option<[f64; 4]>,
    /// Closed time window in milliseconds; `None` ends are open.
    pub time: Option<(Option<i64>, Option<i64>)>,
    /// Property equality filters: any of the values matches.
    pub props: Vec<(String, Vec<String>)>,
    /// A CQL2 filter (`filter=`), parsed against the caller's queryables.
    pub cql: Option<Arc<cql2::Filter>>,
}

impl Filter {
    /// Whether the filter keeps everything.
    pub fn is_empty(&self) -> bool {
        self.bbox.is_none() && self.time.is_none() && self.props.is_empty() && self.cql.is_none()
    }

    /// Whether an entry passes (cheapest tests first).
    pub fn matches(&self, e: &Entry) -> bool {
        let boxes = |b: [f64; 4]| -> ([f64; 4], Option<[f64; 4]>) {
            if b[0] > b[2] {
                ([b[0], b[1], 180.0, b[3]], Some([-180.0, b[1], b[2], b[3]]))
            } else {
                (b, None)
            }
        };
        let touches = |env: [f64; 4], r: [f64; 4]| {
            env[0] <= r[2] && env[2] >= r[0] && env[1] <= r[3] && env[3] >= r[1]
        };
        if let Some(b) = self.bbox {
            let Some(env) = e.env else { return false };
            let (a, z) = boxes(b);
            if !touches(env, a) && !z.is_some_and(|z| touches(env, z)) {
                return false;
            }
        }
        if let Some((from, to)) = self.time {
            let (Some(t0), Some(t1)) = (e.t0, e.t1) else {
                return false;
            };
            if from.is_some_and(|f| t1 < f) || to.is_some_and(|t| t0 > t) {
                return false;
            }
        }
        for (name, values) in &self.props {
            let Some(v) = e.props.get(name) else {
                return false;
            };
            let s = match v {
                Value::String(s) => std::borrow::Cow::Borrowed(s.as_str()),
                Value::Null => return false,
                other => std::borrow::Cow::Owned(other.to_string()),
            };
            if !values.iter().any(|x| *x == *s) {
                return false;
            }
        }
        if let Some(b) = self.bbox {
            // Exact test, for lines and polygons whose envelope touches the box.
            let Some(g) = &e.geom else { return false };
            if !matches!(g, geo_types::Geometry::Point(_)) {
                let env = e.env.unwrap_or_default();
                let (a, z) = boxes(b);
                let rect = |r: [f64; 4]| {
                    geo_types::Rect::new(
                        geo_types::coord! {x: r[0], y: r[1]},
                        geo_types::coord! {x: r[2], y: r[3]},
                    )
                };
                let hit = (touches(env, a) && g.intersects(&rect(a)))
                    || z.is_some_and(|z| touches(env, z) && g.intersects(&rect(z)));
                if !hit {
                    return false;
                }
            }
        }
        // Last: the most costly, on what the caller was shown only.
        self.cql.as_ref().is_none_or(|f| f.matches(e))
    }
}

/// Where a page starts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Cursor {
    /// The first page.
    #[default]
    Start,
    /// Features with an id greater than this one.
    After(String),
    /// The last features with an id smaller than this one.
    Before(String),
}

/// One page of matching features, in id order.
#[derive(Debug)]
pub struct Page<E> {
    /// Features matching the filter (all pages).
    pub matched: u64,
    /// This page.
    pub items: Vec<E>,
    /// Whether matching features precede the page (a `prev` link).
    pub has_prev: bool,
    /// Whether matching features follow the page (a `next` link).
    pub has_next: bool,
}

/// Collects a page from entries given in any order, owned (`Entry`) or
/// borrowed (`&Entry`).
pub struct Pager<'f, E> {
    filter: &'f Filter,
    cursor: &'f Cursor,
    limit: usize,
    matched: u64,
    /// Matching entries on the cursor's side, at most `limit + 1`.
    keep: BTreeMap<String, E>,
    /// Whether a match lies on the other side of the cursor.
    other_side: bool,
}

impl<'f, E: Borrow<Entry>> Pager<'f, E> {
    /// A pager for `limit` features (at least 1) from `cursor`.
    pub fn new(filter: &'f Filter, cursor: &'f Cursor, limit: usize) -> Self {
        Pager {
            filter,
            cursor,
            limit: limit.max(1),
            matched: 0,
            keep: BTreeMap::new(),
            other_side: false,
        }
    }

    /// Considers one entry.
    pub fn push(&mut self, e: E) {
        let en: &Entry = e.borrow();
        if !self.filter.matches(en) {
            return;
        }
        self.matched += 1;
        let id = en.id.as_str();
        match self.cursor {
            Cursor::Start => self.keep_smallest(e),
            Cursor::After(a) => {
                if id > a.as_str() {
                    self.keep_smallest(e)
                } else {
                    self.other_side = true;
                }
            }
            Cursor::Before(b) => {
                if id < b.as_str() {
                    let id = id.to_string();
                    self.keep.insert(id, e);
                    if self.keep.len() > self.limit + 1 {
                        self.keep.pop_first();
                    }
                } else {
                    self.other_side = true;
                }
            }
        }
    }

    fn keep_smallest(&mut self, e: E) {
        let id = &e.borrow().id;
        if self.keep.len() > self.limit {
            match self.keep.last_key_value() {
                Some((last, _)) if id >= last => return,
                _ => {}
            }
        }
        let id = id.clone();
        self.keep.insert(id, e);
        if self.keep.len() > self.limit + 1 {
            self.keep.pop_last();
        }
    }

    /// The page.
    pub fn finish(self) -> Page<E> {
        let more = self.keep.len() > self.limit;
        let mut items: Vec<E> = self.keep.into_values().collect();
        let (has_prev, has_next) = match self.cursor {
            Cursor::Before(_) => {
                if more {
                    items.remove(0);
                }
                (more, self.other_side)
            }
            _ => {
                items.truncate(self.limit);
                (self.other_side, more)
            }
        };
        Page {
            matched: self.matched,
            items,
            has_prev,
            has_next,
        }
    }
}

/// A layer as one caller sees it, sorted by id.
#[derive(Debug)]
pub struct View {
    /// The layer.
    pub layer: Layer,
    /// Store data version it was built from.
    pub version: u64,
    /// Shown features, sorted by id.
    pub entries: Vec<Entry>,
}

impl View {
    /// Sorts and wraps entries (duplicate ids keep the first).
    pub fn new(layer: Layer, version: u64, mut entries: Vec<Entry>) -> View {
        entries.sort_by(|a, b| a.id.cmp(&b.id));
        entries.dedup_by(|a, b| a.id == b.id);
        View {
            layer,
            version,
            entries,
        }
    }

    /// One entry by id.
    pub fn get(&self, id: &str) -> Option<&Entry> {
        self.entries
            .binary_search_by(|e| e.id.as_str().cmp(id))
            .ok()
            .map(|i| &self.entries[i])
    }

    /// A page of matching entries.
    pub fn page<'a>(
        &'a self,
        filter: &'a Filter,
        cursor: &'a Cursor,
        limit: usize,
    ) -> Page<&'a Entry> {
        let limit = limit.max(1);
        if filter.is_empty() {
            // Sorted and unfiltered: slice directly.
            let n = self.entries.len();
            let (start, end) = match cursor {
                Cursor::Start => (0, limit.min(n)),
                Cursor::After(a) => {
                    let s = self
                        .entries
                        .partition_point(|e| e.id.as_str() <= a.as_str());
                    (s, (s + limit).min(n))
                }
                Cursor::Before(b) => {
                    let e = self.entries.partition_point(|x| x.id.as_str() < b.as_str());
                    (e.saturating_sub(limit), e)
                }
            };
            return Page {
                matched: n as u64,
                items: self.entries[start..end].iter().collect(),
                has_prev: start > 0,
                has_next: end < n,
            };
        }
        let mut p = Pager::new(filter, cursor, limit);
        for e in &self.entries {
            p.push(e);
        }
        p.finish()
    }

    /// Extent of the shown geometries and span of the shown times.
    pub fn extent(&self) -> (Option<[f64; 4]>, Option<(i64, i64)>) {
        let mut bbox: Option<[f64; 4]> = None;
        let mut span: Option<(i64, i64)> = None;
        for e in &self.entries {
            if let Some(b) = e.env {
                bbox = Some(match bbox {
                    None => b,
                    Some(a) => [
                        a[0].min(b[0]),
                        a[1].min(b[1]),
                        a[2].max(b[2]),
                        a[3].max(b[3]),
                    ],
                });
            }
            if let (Some(s), Some(t)) = (e.t0, e.t1) {
                let t = if t == i64::MAX { s } else { t };
                span = Some(match span {
                    None => (s, t),
                    Some((a, b)) => (a.min(s), b.max(t)),
                });
            }
        }
        (bbox, span)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(i: usize, lon: f64) -> Entry {
        Entry::from_shown(
            Layer::Incidents,
            json!({"type": "Feature", "id": format!("e{i:03}"),
                "geometry": {"type": "Point", "coordinates": [lon, 1.0]},
                "properties": {"time_start": format!("2025-01-{:02}T00:00:00Z", i % 28 + 1),
                    "category": if i % 2 == 0 { "killing" } else { "abduction" }, "an_extra": "x"}}),
        )
        .unwrap()
    }

    fn walk(view: &View, filter: &Filter, limit: usize) -> Vec<String> {
        let mut seen = Vec::new();
        let mut cursor = Cursor::Start;
        loop {
            let page = view.page(filter, &cursor, limit);
            seen.extend(page.items.iter().map(|e| e.id.clone()));
            if !page.has_next {
                return seen;
            }
            cursor = Cursor::After(page.items.last().unwrap().id.clone());
        }
    }

    #[test]
    fn pages_visit_everything_once_forwards_and_backwards() {
        let entries: Vec<Entry> = (0..57).rev().map(|i| entry(i, i as f64)).collect();
        let view = View::new(Layer::Incidents, 1, entries);
        assert!(!view.entries[0].props.contains_key("an_extra"));
        for filter in [
            Filter::default(),
            Filter {
                props: vec![("category".into(), vec!["killing".into()])],
                ..Filter::default()
            },
        ] {
            let all = walk(&view, &filter, 10);
            let want: Vec<String> = view
                .entries
                .iter()
                .filter(|e| filter.matches(e))
                .map(|e| e.id.clone())
                .collect();
            assert_eq!(all, want);
            // Backwards from the end.
            let mut back = Vec::new();
            let mut cursor = Cursor::Before("zzz".into());
            loop {
                let page = view.page(&filter, &cursor, 7);
                let mut ids: Vec<String> = page.items.iter().map(|e| e.id.clone()).collect();
                ids.extend(back);
                back = ids;
                if !page.has_prev {
                    break;
                }
                cursor = Cursor::Before(page.items[0].id.clone());
            }
            assert_eq!(back, want);
        }
    }

    #[test]
    fn antimeridian_and_time() {
        let view = View::new(
            Layer::Incidents,
            1,
            vec![entry(1, 179.5), entry(2, -179.5), entry(3, 0.0)],
        );
        let f = Filter {
            bbox: Some([179.0, 0.0, -179.0, 2.0]),
            ..Filter::default()
        };
        let p = view.page(&f, &Cursor::Start, 10);
        assert_eq!(p.matched, 2);
        let day = |d: u32| {
            chrono::NaiveDate::from_ymd_opt(2025, 1, d)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap()
                .and_utc()
                .timestamp_millis()
        };
        let f = Filter {
            time: Some((Some(day(3)), None)),
            ..Filter::default()
        };
        assert_eq!(view.page(&f, &Cursor::Start, 10).matched, 2);
        let f = Filter {
            time: Some((None, Some(day(2)))),
            ..Filter::default()
        };
        assert_eq!(view.page(&f, &Cursor::Start, 10).matched, 1);
    }
}
