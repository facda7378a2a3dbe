//! Point events as columns: what analyses and the access gate read of each
//! incident or sighting, without building whole features.
//!
//! [`EventColumns`] holds, per stored feature of a point layer, in storage
//! order: its id, position, start and last time, category and actor (coded
//! against a small table of names), verification and precision ranks, the
//! three count weights, whether it is a sensitive case, and the marking the
//! gate's rules read (owner, classification, consent scope). Every derived
//! value is computed by the functions here from the [`Feature`], the same
//! ones the feature path uses, so both paths agree by construction.
//!
//! [`FeatureSource::columns`](super::FeatureSource::columns) answers them; its default builds
//! them from `query`, and a backend may answer faster (the GeoPackage keeps
//! them in a side table, see `gpkg/columns.rs`).

use crate::model::schema::{PRECISION, VERIFICATION};
use crate::model::{Feature, Layer, Level, Owner};
use chrono::{DateTime, Utc};
use std::collections::HashMap;

/// The columns of the features of `layer` that `store.query` visits: what
/// [`FeatureSource::columns`](super::FeatureSource::columns) answers by default.
pub fn columns_by_query<S: super::FeatureSource + ?Sized>(
    store: &S,
    layer: Layer,
    query: &super::Query,
) -> super::Result<std::sync::Arc<EventColumns>> {
    let mut c = EventColumns::new(layer);
    store.query(layer, query, &mut |f| {
        c.push(layer, &f);
        Ok(())
    })?;
    Ok(std::sync::Arc::new(c))
}

/// A record's consent scope, as far as the gate's rules tell scopes apart:
/// `none`, a missing and an unknown scope all count as [`Consent::Unknown`]
/// (fail closed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Consent {
    /// `none`, missing, or not a known scope.
    Unknown,
    /// `hr-only`.
    HrOnly,
    /// `mission`.
    Mission,
    /// `partners`.
    Partners,
}

impl Consent {
    /// Every scope, in code order.
    pub const ALL: [Consent; 4] = [
        Consent::Unknown,
        Consent::HrOnly,
        Consent::Mission,
        Consent::Partners,
    ];

    /// The scope of a `consent` property's text.
    pub fn of(text: Option<&str>) -> Consent {
        match text {
            Some("hr-only") => Consent::HrOnly,
            Some("mission") => Consent::Mission,
            Some("partners") => Consent::Partners,
            _ => Consent::Unknown,
        }
    }
}

/// The sum of the `{prefix}_{women,men,girls,boys,unknown}` counts of `f`
/// over `prefixes`, in that order (f64: a sum of huge counts must not
/// overflow). Absent counts are 0.
pub fn count_sum(f: &Feature, prefixes: &[&str]) -> f64 {
    const WHO: [&str; 5] = ["women", "men", "girls", "boys", "unknown"];
    let mut total = 0.0;
    for p in prefixes {
        for w in WHO {
            total += f.int(&format!("{p}_{w}")).unwrap_or(0) as f64;
        }
    }
    total
}

/// The count groups of each count weight, in summing order.
pub const FATALITIES: &[&str] = &["killed"];
/// See [`FATALITIES`].
pub const CASUALTIES: &[&str] = &["killed", "injured"];
/// See [`FATALITIES`].
pub const PEOPLE_AFFECTED: &[&str] = &["killed", "injured", "affected"];

/// The category, actor and actor category of an event (sightings: activity,
/// actor, none); empty when absent.
pub fn event_names(layer: Layer, f: &Feature) -> (&str, &str, &str) {
    let s = |k: &str| f.str(k).unwrap_or("");
    match layer {
        Layer::Sightings => (s("activity"), s("actor"), ""),
        _ => (s("category"), s("perpetrator"), s("perpetrator_category")),
    }
}

/// A rank on `scale` as stored in the columns: 0 when the value is absent or
/// unknown, else its position plus one (so that unknown sorts first, as
/// `Option` does).
fn rank(f: &Feature, key: &str, scale: &[&str]) -> u8 {
    let v = f.str(key).unwrap_or("");
    scale
        .iter()
        .position(|s| *s == v)
        .map_or(0, |p| (p + 1).min(255) as u8)
}

/// Point events of one layer as columns, in storage order. See the module
/// documentation; rows are indexed `0..len()`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventColumns {
    /// The layer the rows are from.
    pub layer: Option<Layer>,
    /// The text of every id, one after another; row `i` ends at `id_end[i]`.
    id_text: String,
    id_end: Vec<usize>,
    /// Longitude (NaN when the geometry is not a point).
    pub lon: Vec<f64>,
    /// Latitude (NaN when the geometry is not a point).
    pub lat: Vec<f64>,
    /// Whether the geometry is a point.
    pub point: Vec<bool>,
    /// Start time.
    pub start: Vec<DateTime<Utc>>,
    /// Last moment: the end, else the start ([`crate::model::TimeSpan::last`]).
    pub last: Vec<DateTime<Utc>>,
    /// Category (sightings: activity), coded in `names`.
    pub category: Vec<u32>,
    /// Perpetrator (sightings: actor), coded in `names`.
    pub actor: Vec<u32>,
    /// Perpetrator category (sightings: none), coded in `names`.
    pub actor_category: Vec<u32>,
    /// Verification rank (see `rank`): 0 unknown, else position in
    /// [`VERIFICATION`] plus one.
    pub verification: Vec<u8>,
    /// Location precision rank, as `verification` on [`PRECISION`].
    pub precision: Vec<u8>,
    /// People killed ([`FATALITIES`]).
    pub fatalities: Vec<f64>,
    /// Killed or injured ([`CASUALTIES`]).
    pub casualties: Vec<f64>,
    /// Killed, injured or otherwise affected ([`PEOPLE_AFFECTED`]).
    pub people_affected: Vec<f64>,
    /// A sexual-violence or child case
    /// ([`crate::model::classification::is_sensitive`]).
    pub sensitive: Vec<bool>,
    /// Owning component.
    pub owner: Vec<Owner>,
    /// Classification.
    pub level: Vec<Level>,
    /// Consent scope.
    pub consent: Vec<Consent>,
    /// The names `category`, `actor` and `actor_category` are coded in.
    names: Vec<String>,
    codes: HashMap<String, u32>,
}

impl EventColumns {
    /// No rows, of `layer`.
    pub fn new(layer: Layer) -> Self {
        EventColumns {
            layer: Some(layer),
            ..Default::default()
        }
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.id_end.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.id_end.is_empty()
    }

    /// Row `i`'s id.
    pub fn id(&self, i: usize) -> &str {
        let a = if i == 0 { 0 } else { self.id_end[i - 1] };
        &self.id_text[a..self.id_end[i]]
    }

    /// The names codes stand for: `names()[code]`.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Whether every row is a point.
    pub fn all_points(&self) -> bool {
        self.point.iter().all(|p| *p)
    }

    /// The code of `name`, added when new.
    fn code(&mut self, name: &str) -> u32 {
        if let Some(c) = self.codes.get(name) {
            return *c;
        }
        let c = self.names.len() as u32;
        self.names.push(name.to_string());
        self.codes.insert(name.to_string(), c);
        c
    }

    /// Appends the row of feature `f` of `layer`.
    pub fn push(&mut self, layer: Layer, f: &Feature) {
        self.layer = Some(layer);
        self.id_text.push_str(&f.id);
        self.id_end.push(self.id_text.len());
        let (x, y, point) = match &f.geometry {
            geo_types::Geometry::Point(p) => (p.x(), p.y(), true),
            _ => (f64::NAN, f64::NAN, false),
        };
        self.lon.push(x);
        self.lat.push(y);
        self.point.push(point);
        self.start.push(f.time.start);
        self.last.push(f.time.last());
        let (category, actor, actor_category) = event_names(layer, f);
        let codes = [
            self.code(category),
            self.code(actor),
            self.code(actor_category),
        ];
        self.category.push(codes[0]);
        self.actor.push(codes[1]);
        self.actor_category.push(codes[2]);
        self.verification
            .push(rank(f, "verification", VERIFICATION));
        self.precision
            .push(rank(f, "location_precision", PRECISION));
        self.fatalities.push(count_sum(f, FATALITIES));
        self.casualties.push(count_sum(f, CASUALTIES));
        self.people_affected.push(count_sum(f, PEOPLE_AFFECTED));
        self.sensitive
            .push(crate::model::classification::is_sensitive(f));
        self.owner.push(f.owner);
        self.level.push(f.level);
        self.consent.push(Consent::of(f.str("consent")));
    }

    /// The rows `rows` (ascending or not), as new columns.
    pub fn take(&self, rows: &[usize]) -> EventColumns {
        let mut out = EventColumns {
            layer: self.layer,
            names: self.names.clone(),
            codes: self.codes.clone(),
            ..Default::default()
        };
        out.id_end.reserve(rows.len());
        for &i in rows {
            out.id_text.push_str(self.id(i));
            out.id_end.push(out.id_text.len());
        }
        fn pick<T: Copy>(v: &[T], rows: &[usize]) -> Vec<T> {
            rows.iter().map(|&i| v[i]).collect()
        }
        out.lon = pick(&self.lon, rows);
        out.lat = pick(&self.lat, rows);
        out.point = pick(&self.point, rows);
        out.start = pick(&self.start, rows);
        out.last = pick(&self.last, rows);
        out.category = pick(&self.category, rows);
        out.actor = pick(&self.actor, rows);
        out.actor_category = pick(&self.actor_category, rows);
        out.verification = pick(&self.verification, rows);
        out.precision = pick(&self.precision, rows);
        out.fatalities = pick(&self.fatalities, rows);
        out.casualties = pick(&self.casualties, rows);
        out.people_affected = pick(&self.people_affected, rows);
        out.sensitive = pick(&self.sensitive, rows);
        out.owner = pick(&self.owner, rows);
        out.level = pick(&self.level, rows);
        out.consent = pick(&self.consent, rows);
        out
    }

    /// Room for `rows` more rows whose ids take `id_bytes` bytes: appending
    /// many parts then grows no column again (each growth copies the column
    /// into fresh memory, which on a million rows costs more than the copy).
    pub fn reserve(&mut self, rows: usize, id_bytes: usize) {
        self.id_text.reserve(id_bytes);
        self.id_end.reserve(rows);
        self.lon.reserve(rows);
        self.lat.reserve(rows);
        self.point.reserve(rows);
        self.start.reserve(rows);
        self.last.reserve(rows);
        self.category.reserve(rows);
        self.actor.reserve(rows);
        self.actor_category.reserve(rows);
        self.verification.reserve(rows);
        self.precision.reserve(rows);
        self.fatalities.reserve(rows);
        self.casualties.reserve(rows);
        self.people_affected.reserve(rows);
        self.sensitive.reserve(rows);
        self.owner.reserve(rows);
        self.level.reserve(rows);
        self.consent.reserve(rows);
    }

    /// Appends every row of `other` (its names recoded into ours).
    pub fn append(&mut self, other: EventColumns) {
        self.append_from(&other);
    }

    /// [`EventColumns::append`] from a borrowed `other` (copied once).
    pub fn append_from(&mut self, other: &EventColumns) {
        if self.layer.is_none() {
            self.layer = other.layer;
        }
        let map: Vec<u32> = other.names.iter().map(|n| self.code(n)).collect();
        let recode = |v: &'_ [u32]| v.iter().map(|c| map[*c as usize]).collect::<Vec<_>>();
        let base = self.id_text.len();
        self.id_text.push_str(&other.id_text);
        self.id_end.extend(other.id_end.iter().map(|e| e + base));
        self.lon.extend_from_slice(&other.lon);
        self.lat.extend_from_slice(&other.lat);
        self.point.extend_from_slice(&other.point);
        self.start.extend_from_slice(&other.start);
        self.last.extend_from_slice(&other.last);
        let identity = map.iter().enumerate().all(|(i, c)| *c as usize == i);
        if identity {
            self.category.extend_from_slice(&other.category);
            self.actor.extend_from_slice(&other.actor);
            self.actor_category.extend_from_slice(&other.actor_category);
        } else {
            self.category.extend(recode(&other.category));
            self.actor.extend(recode(&other.actor));
            self.actor_category.extend(recode(&other.actor_category));
        }
        self.verification.extend_from_slice(&other.verification);
        self.precision.extend_from_slice(&other.precision);
        self.fatalities.extend_from_slice(&other.fatalities);
        self.casualties.extend_from_slice(&other.casualties);
        self.people_affected
            .extend_from_slice(&other.people_affected);
        self.sensitive.extend_from_slice(&other.sensitive);
        self.owner.extend_from_slice(&other.owner);
        self.level.extend_from_slice(&other.level);
        self.consent.extend_from_slice(&other.consent);
    }

    /// Whether the rows of `prefix` are exactly the first rows of these
    /// columns, coded in the same names (as after [`EventColumns::append`]
    /// of more rows): what was made from `prefix` holds for those rows.
    pub fn starts_with(&self, prefix: &EventColumns) -> bool {
        // Every column named, so that a column added later cannot be left
        // out of the comparison (the gate's admissions are reused on it).
        let EventColumns {
            layer,
            id_text,
            id_end,
            lon,
            lat,
            point,
            start,
            last,
            category,
            actor,
            actor_category,
            verification,
            precision,
            fatalities,
            casualties,
            people_affected,
            sensitive,
            owner,
            level,
            consent,
            names,
            codes: _, // derived from `names`
        } = prefix;
        fn same<T: PartialEq>(a: &[T], b: &[T]) -> bool {
            a.get(..b.len()) == Some(b)
        }
        let bits = |a: &[f64], b: &[f64]| {
            a.len() >= b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
        };
        self.layer == *layer
            && self.len() >= prefix.len()
            && same(&self.names, names)
            && same(&self.id_end, id_end)
            && self.id_text.as_bytes().get(..id_text.len()) == Some(id_text.as_bytes())
            && bits(&self.lon, lon)
            && bits(&self.lat, lat)
            && same(&self.point, point)
            && same(&self.start, start)
            && same(&self.last, last)
            && same(&self.category, category)
            && same(&self.actor, actor)
            && same(&self.actor_category, actor_category)
            && same(&self.verification, verification)
            && same(&self.precision, precision)
            && bits(&self.fatalities, fatalities)
            && bits(&self.casualties, casualties)
            && bits(&self.people_affected, people_affected)
            && same(&self.sensitive, sensitive)
            && same(&self.owner, owner)
            && same(&self.level, level)
            && same(&self.consent, consent)
    }

    /// The ids as a backend stores them: their text, one after another, and
    /// where each ends.
    pub fn raw_ids(&self) -> (&str, &[usize]) {
        (&self.id_text, &self.id_end)
    }

    /// Rebuilds columns from stored parts (see [`EventColumns::raw_ids`]),
    /// `fill` setting the other columns; `None` when they do not fit
    /// together (a damaged copy).
    pub fn from_parts(
        layer: Layer,
        id_text: String,
        id_end: Vec<usize>,
        names: Vec<String>,
        fill: impl FnOnce(&mut EventColumns),
    ) -> Option<EventColumns> {
        let n = id_end.len();
        let ordered = id_end.windows(2).all(|w| w[0] <= w[1])
            && id_end.last().is_none_or(|e| *e == id_text.len())
            && id_end.iter().all(|e| id_text.is_char_boundary(*e));
        if !ordered {
            return None;
        }
        let codes = names
            .iter()
            .enumerate()
            .map(|(i, s)| (s.clone(), i as u32))
            .collect::<HashMap<_, _>>();
        if codes.len() != names.len() {
            return None;
        }
        let mut c = EventColumns {
            layer: Some(layer),
            id_text,
            id_end,
            names,
            codes,
            ..Default::default()
        };
        fill(&mut c);
        let k = c.names.len() as u32;
        let lens = [
            c.lon.len(),
            c.lat.len(),
            c.point.len(),
            c.start.len(),
            c.last.len(),
            c.category.len(),
            c.actor.len(),
            c.actor_category.len(),
            c.verification.len(),
            c.precision.len(),
            c.fatalities.len(),
            c.casualties.len(),
            c.people_affected.len(),
            c.sensitive.len(),
            c.owner.len(),
            c.level.len(),
            c.consent.len(),
        ];
        let coded = [&c.category, &c.actor, &c.actor_category]
            .iter()
            .all(|v| v.iter().all(|x| *x < k));
        (lens.iter().all(|l| *l == n) && coded).then_some(c)
    }
}

/// Seeded random point events for tests of every path that reads them.
#[cfg(test)]
pub(crate) mod random {
    use crate::model::schema::{ACTIVITIES, CATEGORIES, CONSENT, PRECISION, VERIFICATION};
    use crate::model::Layer;
    use crate::rng::Rng;
    use serde_json::{json, Map, Value};

    /// `n` valid GeoJSON features of `layer` (incidents or sightings) with
    /// every column-relevant property random or absent: positions on both
    /// sides of the antimeridian and on round values, times with
    /// milliseconds, open or with an end, every classification, owner and
    /// consent scope, counts (also in extras that make a case sensitive).
    pub(crate) fn features(seed: u64, layer: Layer, n: usize) -> Vec<Value> {
        let mut r = Rng::new(seed);
        let base = 1_600_000_000_000i64;
        (0..n)
            .map(|i| {
                let lon = match r.below(4) {
                    0 => r.range(179.0, 180.0),
                    1 => r.range(-180.0, -179.0),
                    2 => (r.range_i(10, 20)) as f64,
                    _ => r.range(10.0, 20.0),
                };
                let lat = if r.chance(0.2) {
                    r.range_i(0, 8) as f64
                } else {
                    r.range(0.0, 8.0)
                };
                let t = |ms: i64| {
                    crate::model::time::format_time(
                        &chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default(),
                    )
                };
                let start = base + r.range_i(0, 3_000_000_000);
                let mut p = Map::new();
                p.insert("time_start".into(), json!(t(start)));
                if r.chance(0.4) {
                    p.insert(
                        "time_end".into(),
                        json!(t(start + r.range_i(0, 900_000_000))),
                    );
                }
                let pick =
                    |r: &mut Rng, v: &[&str]| v[r.below(v.len() as u64) as usize].to_string();
                p.insert(
                    "owner".into(),
                    json!(pick(&mut r, &["hr", "military", "mission"])),
                );
                p.insert(
                    "classification".into(),
                    json!(pick(
                        &mut r,
                        &["public", "mission", "restricted", "strictly-confidential"]
                    )),
                );
                let actors = ["Group A", "Group B", "FACA", ""];
                if layer == Layer::Sightings {
                    p.insert("activity".into(), json!(pick(&mut r, ACTIVITIES)));
                    let a = pick(&mut r, &actors[..3]);
                    p.insert("actor".into(), json!(a));
                } else {
                    p.insert("category".into(), json!(pick(&mut r, CATEGORIES)));
                    if r.chance(0.7) {
                        p.insert("perpetrator".into(), json!(pick(&mut r, &actors[..3])));
                    }
                    if r.chance(0.5) {
                        p.insert(
                            "perpetrator_category".into(),
                            json!(pick(&mut r, &["state-forces", "non-state-armed-group"])),
                        );
                    }
                    for (key, scale) in [
                        ("verification", VERIFICATION),
                        ("location_precision", PRECISION),
                        ("consent", CONSENT),
                    ] {
                        if r.chance(0.8) {
                            p.insert(key.into(), json!(pick(&mut r, scale)));
                        }
                    }
                    for g in ["killed", "injured", "affected"] {
                        for w in ["women", "men", "girls", "boys", "unknown"] {
                            if r.chance(0.15) {
                                p.insert(format!("{g}_{w}"), json!(r.range_i(0, 40)));
                            }
                        }
                    }
                    if r.chance(0.05) {
                        p.insert("witness_girls".into(), json!(r.range_i(0, 2)));
                    }
                }
                json!({"type": "Feature", "id": format!("{layer}-{i}-é"),
                    "geometry": {"type": "Point", "coordinates": [lon, lat]},
                    "properties": p})
            })
            .collect()
    }

    /// Random queries over [`features`]: none, bboxes (also across the
    /// antimeridian, and on round values), time windows with either end
    /// open and bounds with sub-millisecond parts.
    pub(crate) fn queries(seed: u64, n: usize) -> Vec<crate::store::Query> {
        let mut r = Rng::new(seed);
        let base = 1_600_000_000i64;
        let mut out = vec![crate::store::Query::default()];
        for _ in 0..n {
            let mut q = crate::store::Query::default();
            if r.chance(0.6) {
                let x0 = r.range_i(-180, 180) as f64;
                let y0 = r.range_i(0, 6) as f64;
                let x1 = if r.chance(0.3) {
                    r.range_i(-180, -170) as f64
                } else {
                    (x0 + r.range(0.0, 8.0)).min(180.0)
                };
                q.bbox = Some([x0, y0, x1, y0 + r.range_i(0, 4) as f64]);
            }
            let t = |s: i64, ns: u32| chrono::DateTime::from_timestamp(s, ns);
            if r.chance(0.5) {
                q.from = t(
                    base + r.range_i(0, 3_000_000),
                    r.below(1_000_000_000) as u32,
                );
            }
            if r.chance(0.5) {
                let from = q.from.map_or(base, |f| f.timestamp());
                q.to = t(
                    from + r.range_i(0, 2_000_000),
                    r.below(1_000_000_000) as u32,
                );
            }
            out.push(q);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn feature(id: &str, props: serde_json::Value) -> Feature {
        let v = json!({"type": "Feature", "id": id,
            "geometry": {"type": "Point", "coordinates": [18.5, 4.25]}, "properties": props});
        Feature::from_geojson(Layer::Incidents, v, "").unwrap()
    }

    #[test]
    fn rows_take_and_append_keep_every_value() {
        let mut a = EventColumns::new(Layer::Incidents);
        a.push(
            Layer::Incidents,
            &feature(
                "é-1",
                json!({"time": "2024-03-01", "category": "killing", "killed_girls": 2,
                "injured_men": 3, "perpetrator": "Group A", "verification": "verified",
                "consent": "partners"}),
            ),
        );
        a.push(
            Layer::Incidents,
            &feature(
                "b",
                json!({"time": "2024-03-02", "category": "abduction",
                "location_precision": "district", "consent": "none"}),
            ),
        );
        assert_eq!((a.id(0), a.id(1)), ("é-1", "b"));
        assert_eq!(a.fatalities, [2.0, 0.0]);
        assert_eq!(a.casualties, [5.0, 0.0]);
        assert_eq!(a.sensitive, [true, false]);
        // Absent values take the schema's defaults (reported, settlement).
        assert_eq!(a.verification, [4, 2]);
        assert_eq!(a.precision, [2, 3]);
        assert_eq!(a.consent, [Consent::Partners, Consent::Unknown]);
        assert_eq!(a.names()[a.actor[0] as usize], "Group A");
        let b = a.take(&[1]);
        assert_eq!((b.len(), b.id(0)), (1, "b"));
        let mut c = EventColumns::new(Layer::Incidents);
        c.push(
            Layer::Incidents,
            &feature("z", json!({"time": "2024-03-03", "category": "abduction"})),
        );
        let mut d = c.clone();
        d.append(a.clone());
        assert_eq!(d.len(), 3);
        assert_eq!(
            d.take(&[1, 2]),
            {
                let mut e = EventColumns::new(Layer::Incidents);
                e.append(a.clone());
                // Same rows; names may be coded differently, so compare decoded.
                e
            }
            .take(&[0, 1])
            .with_names_of(&d)
        );
    }

    impl EventColumns {
        /// The same rows coded in `other`'s names (for comparisons).
        fn with_names_of(&self, other: &EventColumns) -> EventColumns {
            let mut out = other.take(&[]);
            out.append(self.clone());
            out
        }
    }
}
