//! A seeded, deterministic generator of a synthetic peacekeeping mission.
//!
//! The scenario is set in western/central Central African Republic (real town
//! positions, invented everything else: roads are jittered, armed groups are
//! fictional, all events are synthetic) between 2024-01-01 and 2025-12-31
//! UTC. It produces five GeoJSON layers as `serde_json::Value` features:
//! [`Scenario::bases`], [`Scenario::sites`], [`Scenario::sightings`],
//! [`Scenario::patrols`] and the streaming [`Scenario::incidents`]. The
//! incidents hold one seeded escalation, [`ESCALATION`], whose place and time
//! are public so tests find it where the generator put it.
//!
//! Output is byte-identical for the same [`DemoConfig`] on every platform:
//! the PRNG and the transcendental functions are our own ([`crate::rng`]), there is
//! no wall clock and no hash-map iteration, and every item is generated from
//! a counter-based seed `(seed, layer, index)`, which also makes the incident
//! stream O(1) in memory.
//!
//! ```
//! use jointmap::demo::{DemoConfig, Scenario};
//! let s = Scenario::new(&DemoConfig { seed: 1, incidents: 100 });
//! assert_eq!(s.incidents().count(), 100);
//! assert_eq!(s.sightings().len(), 300);
//! assert!(s.sites().len() > 100);
//! ```

mod bases;
mod escalation;
mod incidents;
mod patrols;
mod sightings;
mod sites;
mod world;

use serde_json::{Map, Value};
use std::io::Write;

pub use self::escalation::{Escalation, ESCALATION, ESCALATION_DAYS};

use self::bases::Base;
use self::incidents::Flare;
use self::world::{Group, Road};
use crate::rng::Table;

/// Incident categories (schema values).
pub(crate) const CATEGORIES: [&str; 12] = [
    "killing",
    "injury",
    "abduction",
    "sexual-violence",
    "attack-on-civilian-site",
    "looting-burning",
    "forced-displacement",
    "child-recruitment",
    "arbitrary-detention",
    "threat-intimidation",
    "explosive-ordnance",
    "other",
];

/// Sighting activities (schema values).
pub(crate) const ACTIVITIES: [&str; 8] = [
    "movement",
    "encampment",
    "checkpoint",
    "attack",
    "looting",
    "recruitment",
    "taxation",
    "other",
];

/// Source reliability grades (schema values).
pub(crate) const RELIABILITY: [&str; 6] = ["A", "B", "C", "D", "E", "F"];

/// Where `jointmap demo` writes when no `--store` is given: a store of its
/// own, so synthetic data never mixes with a mission's real store.
pub const DEMO_STORE: &str = "demo.gpkg";

/// The provenance (`source`) of every feature the demo writes.
pub const DEMO_SOURCE: &str = "demo";

/// Configuration of a demo scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoConfig {
    /// Seed of every random choice; the same seed gives the same bytes.
    pub seed: u64,
    /// Number of incidents; sightings and patrols scale with it.
    pub incidents: usize,
}

impl Default for DemoConfig {
    /// Seed 20261123 and 5000 incidents.
    fn default() -> Self {
        DemoConfig {
            seed: 20_261_123,
            incidents: 5000,
        }
    }
}

/// A synthetic mission scenario built from a [`DemoConfig`].
///
/// Construction precomputes the small world (roads, armed groups, bases and
/// the episodic flare-ups); the layers are generated on demand.
#[derive(Debug, Clone)]
pub struct Scenario {
    seed: u64,
    n_incidents: usize,
    roads: Vec<Road>,
    town_roads: Vec<Vec<usize>>,
    /// Roads weighted by length, for picking a corridor position.
    road_table: Table,
    groups: Vec<Group>,
    /// Groups weighted by activity level.
    group_table: Table,
    /// Combined activity curve of all groups (background incidents).
    all_days: Table,
    bases: Vec<Base>,
    flares: Vec<Flare>,
    /// Index in `groups` of [`ESCALATION`]'s group.
    escalation_group: usize,
}

impl Scenario {
    /// Builds the scenario for `cfg` (cheap: a few milliseconds even for
    /// millions of incidents).
    pub fn new(cfg: &DemoConfig) -> Scenario {
        let roads = world::build_roads();
        let town_roads = world::town_roads(&roads);
        let road_table = Table::new(&roads.iter().map(|r| r.len_km()).collect::<Vec<_>>());
        let groups = world::build_groups(cfg.seed);
        let group_table = Table::new(&groups.iter().map(|g| g.weight).collect::<Vec<_>>());
        let mut all = vec![0.0; world::PERIOD_DAYS as usize];
        for g in &groups {
            for (a, w) in all.iter_mut().zip(&g.day_weights) {
                *a += g.weight * w;
            }
        }
        let mut s = Scenario {
            seed: cfg.seed,
            n_incidents: cfg.incidents,
            roads,
            town_roads,
            road_table,
            groups,
            group_table,
            all_days: Table::new(&all),
            bases: Vec::new(),
            flares: Vec::new(),
            escalation_group: 0,
        };
        s.escalation_group = s
            .groups
            .iter()
            .position(|g| g.name == ESCALATION.group)
            .unwrap_or(0);
        s.bases = bases::build_bases(&s);
        s.flares = incidents::build_flares(&s);
        s
    }

    /// The area of responsibility `[min_lon, min_lat, max_lon, max_lat]`;
    /// every generated coordinate lies inside it.
    pub fn area(&self) -> [f64; 4] {
        world::AOR
    }

    /// The scenario's time span as RFC 3339 strings (first and last second).
    pub fn period(&self) -> (String, String) {
        (
            world::fmt_time(world::PERIOD_START),
            world::fmt_time(world::PERIOD_END),
        )
    }

    /// The configuration the scenario was built from.
    pub fn config(&self) -> DemoConfig {
        DemoConfig {
            seed: self.seed,
            incidents: self.n_incidents,
        }
    }

    /// Number of sightings: `max(incidents / 20, 300)`.
    pub fn sighting_count(&self) -> usize {
        (self.n_incidents / 20).max(300)
    }

    /// Number of patrols: `max(incidents / 50, 600)`.
    pub fn patrol_count(&self) -> usize {
        (self.n_incidents / 50).max(600)
    }

    /// Number of incidents (as configured).
    pub fn incident_count(&self) -> usize {
        self.n_incidents
    }

    /// The bases layer (about 40 features, Points and two Polygons).
    pub fn bases(&self) -> Vec<Value> {
        self.bases.iter().map(Base::to_feature).collect()
    }

    /// The sites layer (about 150 features, Points and a few Polygons): the
    /// towns, their markets, schools, health posts, places of worship and
    /// boreholes, about 40 villages, 6 to 10 IDP sites (some far from any
    /// base) and two mining sites. Depends on the seed only, not on the
    /// number of incidents.
    pub fn sites(&self) -> Vec<Value> {
        sites::build_sites(self)
            .iter()
            .enumerate()
            .map(|(i, s)| s.to_feature(i))
            .collect()
    }

    /// The sightings layer (Points).
    pub fn sightings(&self) -> Vec<Value> {
        (0..self.sighting_count())
            .map(|i| self.sighting(i).to_feature(i))
            .collect()
    }

    /// The patrols layer (LineStrings).
    pub fn patrols(&self) -> Vec<Value> {
        (0..self.patrol_count())
            .map(|i| self.patrol(i).to_feature(i))
            .collect()
    }

    /// The incidents layer, streamed: nothing is held in memory.
    ///
    /// Incident `i` depends only on the seed, `i` and (through the number of
    /// flare-ups) on the configured count.
    pub fn incidents(&self) -> impl Iterator<Item = Value> + '_ {
        (0..self.n_incidents).map(move |i| self.incident(i))
    }

    /// Incident number `index` (0-based) on its own, e.g. for parallel
    /// generation with rayon. Valid for any index, even past the configured
    /// count.
    pub fn incident(&self, index: usize) -> Value {
        self.incident_record(index).to_feature(index)
    }

    /// Every feature of `layer` as GeoJSON text, in generation order: what
    /// `jointmap demo` ingests.
    pub fn feature_texts(
        &self,
        layer: crate::model::Layer,
    ) -> Box<dyn Iterator<Item = String> + Send + '_> {
        use crate::model::Layer;
        let text = |v: Value| v.to_string();
        match layer {
            Layer::Incidents => Box::new(self.incidents().map(text)),
            Layer::Sightings => Box::new(self.sightings().into_iter().map(text)),
            Layer::Patrols => Box::new(self.patrols().into_iter().map(text)),
            Layer::Bases => Box::new(self.bases().into_iter().map(text)),
            Layer::Sites => Box::new(self.sites().into_iter().map(text)),
        }
    }
}

/// Streams `features` as a GeoJSON FeatureCollection, one feature per line,
/// and returns how many were written.
///
/// The writer is buffered internally, so a raw `File` is fine.
pub fn write_feature_collection<W: Write>(
    features: impl Iterator<Item = Value>,
    w: &mut W,
) -> std::io::Result<u64> {
    let mut out = std::io::BufWriter::with_capacity(1 << 16, w);
    out.write_all(b"{\"type\":\"FeatureCollection\",\"features\":[\n")?;
    let mut n = 0u64;
    for f in features {
        if n > 0 {
            out.write_all(b",\n")?;
        }
        serde_json::to_writer(&mut out, &f)?;
        n += 1;
    }
    out.write_all(b"\n]}\n")?;
    out.flush()?;
    Ok(n)
}

/// A GeoJSON Feature.
fn feature(id: String, geometry: Value, properties: Map<String, Value>) -> Value {
    let mut m = Map::with_capacity(4);
    m.insert("type".into(), Value::from("Feature"));
    m.insert("id".into(), Value::from(id));
    m.insert("geometry".into(), geometry);
    m.insert("properties".into(), Value::Object(properties));
    Value::Object(m)
}

/// A `[lon, lat]` position, clamped into the AOR and rounded to 5 decimals.
fn position(p: [f64; 2]) -> Value {
    let p = world::clamp_aor(p);
    Value::Array(vec![
        Value::from(world::round5(p[0])),
        Value::from(world::round5(p[1])),
    ])
}

/// A Point geometry.
fn point(p: [f64; 2]) -> Value {
    geometry("Point", position(p))
}

/// A LineString geometry.
fn line_string(pts: &[[f64; 2]]) -> Value {
    geometry(
        "LineString",
        Value::Array(pts.iter().map(|p| position(*p)).collect()),
    )
}

/// A single-ring Polygon geometry (the ring is closed here if it is not).
fn polygon(ring: &[[f64; 2]]) -> Value {
    let mut coords: Vec<Value> = ring.iter().map(|p| position(*p)).collect();
    if let (Some(first), Some(last)) = (ring.first(), ring.last()) {
        if first != last {
            coords.push(position(*first));
        }
    }
    geometry("Polygon", Value::Array(vec![Value::Array(coords)]))
}

fn geometry(kind: &str, coordinates: Value) -> Value {
    let mut m = Map::with_capacity(2);
    m.insert("type".into(), Value::from(kind));
    m.insert("coordinates".into(), coordinates);
    Value::Object(m)
}

/// Inserts a string property.
fn put_str(m: &mut Map<String, Value>, key: &str, v: &str) {
    m.insert(key.into(), Value::from(v));
}

/// Inserts an RFC 3339 time property.
fn put_time(m: &mut Map<String, Value>, key: &str, secs: i64) {
    m.insert(key.into(), Value::from(world::fmt_time(secs)));
}

/// Optional explicit owner/classification, present on about 10 % of features
/// (the rest fall back to the layer defaults when ingested).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Marking {
    pub owner: Option<&'static str>,
    pub classification: Option<&'static str>,
}

impl Marking {
    fn put(&self, m: &mut Map<String, Value>) {
        if let Some(o) = self.owner {
            put_str(m, "owner", o);
        }
        if let Some(c) = self.classification {
            put_str(m, "classification", c);
        }
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Schema checks shared by the layer tests.

    use super::*;
    use serde_json::Value;

    /// Allowed values of `owner`.
    pub const OWNERS: [&str; 3] = ["hr", "military", "mission"];
    /// Allowed values of `classification`.
    pub const CLASSIFICATIONS: [&str; 4] =
        ["public", "mission", "restricted", "strictly-confidential"];

    /// Parses an RFC 3339 UTC string to Unix seconds (via chrono, as an
    /// independent check of our formatter).
    pub fn secs(v: &Value) -> i64 {
        let s = v.as_str().expect("time is a string");
        assert!(s.ends_with('Z') && s.len() == 20, "bad time {s}");
        chrono::DateTime::parse_from_rfc3339(s)
            .expect("RFC 3339")
            .timestamp()
    }

    /// Checks the members common to every feature and returns its properties.
    pub fn common<'a>(f: &'a Value, prefix: &str) -> &'a Map<String, Value> {
        assert_eq!(f["type"], "Feature");
        let id = f["id"].as_str().expect("string id");
        assert!(id.starts_with(prefix), "{id}");
        let props = f["properties"].as_object().expect("properties");
        let t0 = secs(&props["time_start"]);
        assert!(
            (world::PERIOD_START..=world::PERIOD_END).contains(&t0),
            "{id} start"
        );
        if let Some(te) = props.get("time_end") {
            let t1 = secs(te);
            assert!(t1 >= t0, "{id} end before start");
            assert!(t1 <= world::PERIOD_END, "{id} end after period");
        }
        if let Some(o) = props.get("owner") {
            assert!(OWNERS.contains(&o.as_str().unwrap_or("")), "{id} owner");
        }
        if let Some(c) = props.get("classification") {
            assert!(
                CLASSIFICATIONS.contains(&c.as_str().unwrap_or("")),
                "{id} classification"
            );
        }
        check_coords(&f["geometry"]["coordinates"]);
        props
    }

    /// Every position (at any nesting depth) lies in the AOR and is rounded.
    pub fn check_coords(c: &Value) {
        let arr = c.as_array().expect("coordinates array");
        if arr.first().is_some_and(Value::is_number) {
            assert_eq!(arr.len(), 2);
            let lon = arr[0].as_f64().expect("lon");
            let lat = arr[1].as_f64().expect("lat");
            assert!(world::in_aor([lon, lat]), "outside AOR: {lon},{lat}");
            assert_eq!(world::round5(lon), lon);
            assert_eq!(world::round5(lat), lat);
        } else {
            arr.iter().for_each(check_coords);
        }
    }

    /// `v` (if present) is one of `allowed`.
    pub fn one_of(props: &Map<String, Value>, key: &str, allowed: &[&str]) {
        if let Some(v) = props.get(key) {
            let s = v.as_str().expect("string enum");
            assert!(allowed.contains(&s), "{key}={s}");
        }
    }

    /// A scenario small enough for debug-mode tests.
    pub fn small() -> Scenario {
        Scenario::new(&DemoConfig {
            seed: 7,
            incidents: 3000,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(features: Vec<Value>) -> Vec<u8> {
        let mut buf = Vec::new();
        let n = write_feature_collection(features.into_iter(), &mut buf).expect("in-memory write");
        assert!(n > 0);
        buf
    }

    #[test]
    fn default_config() {
        let c = DemoConfig::default();
        assert_eq!(c.seed, 20_261_123);
        assert_eq!(c.incidents, 5000);
    }

    #[test]
    fn sizes() {
        let s = Scenario::new(&DemoConfig {
            seed: 1,
            incidents: 1_000_000,
        });
        assert_eq!(s.sighting_count(), 50_000);
        assert_eq!(s.patrol_count(), 20_000);
        let s = Scenario::new(&DemoConfig {
            seed: 1,
            incidents: 100,
        });
        assert_eq!(s.sightings().len(), 300);
        assert_eq!(s.patrols().len(), 600);
        assert_eq!(s.incidents().count(), 100);
        let b = s.bases().len();
        assert!((35..=45).contains(&b), "{b} bases");
    }

    #[test]
    fn whole_scenario_is_deterministic() {
        let cfg = DemoConfig {
            seed: 99,
            incidents: 1000,
        };
        let a = Scenario::new(&cfg);
        let b = Scenario::new(&cfg);
        assert_eq!(bytes(a.bases()), bytes(b.bases()));
        assert_eq!(bytes(a.sites()), bytes(b.sites()));
        assert_eq!(bytes(a.sightings()), bytes(b.sightings()));
        assert_eq!(bytes(a.patrols()), bytes(b.patrols()));
        assert_eq!(
            bytes(a.incidents().collect()),
            bytes(b.incidents().collect())
        );
        // A different seed gives a different scenario.
        let c = Scenario::new(&DemoConfig { seed: 100, ..cfg });
        assert_ne!(
            bytes(a.incidents().collect()),
            bytes(c.incidents().collect())
        );
    }

    #[test]
    fn feature_collection_is_valid_json() {
        let s = test_support::small();
        let mut buf = Vec::new();
        let n = write_feature_collection(s.incidents().take(50), &mut buf).expect("write");
        assert_eq!(n, 50);
        let v: Value = serde_json::from_slice(&buf).expect("valid JSON");
        assert_eq!(v["type"], "FeatureCollection");
        assert_eq!(v["features"].as_array().map(Vec::len), Some(50));
        // One feature per line: header, 50 features, footer.
        let text = String::from_utf8(buf).expect("utf-8");
        assert_eq!(text.lines().count(), 52);

        let mut empty = Vec::new();
        assert_eq!(
            write_feature_collection(std::iter::empty(), &mut empty).expect("write"),
            0
        );
        let v: Value = serde_json::from_slice(&empty).expect("valid JSON");
        assert_eq!(v["features"].as_array().map(Vec::len), Some(0));
    }

    #[test]
    fn ids_are_unique_and_ordered() {
        let s = test_support::small();
        for layer in [s.bases(), s.sites(), s.sightings(), s.patrols()] {
            let ids: Vec<&str> = layer.iter().filter_map(|f| f["id"].as_str()).collect();
            assert_eq!(ids.len(), layer.len());
            let mut sorted = ids.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), ids.len());
            assert_eq!(sorted, ids);
        }
    }
}
