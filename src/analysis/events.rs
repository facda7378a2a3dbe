//! Selecting the events an analysis runs on: time window, area, categories,
//! perpetrators, verification status, location precision, and the weight each
//! event carries.

use super::{AnalysisError, Events};
use crate::model::schema::{CATEGORIES, PRECISION, VERIFICATION};
use crate::model::{Feature, Layer};
use crate::store::{FeatureSource, Query};
use chrono::{DateTime, Utc};

/// What each event weighs in counts, sums and densities.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Weight {
    /// Every event counts 1.
    #[default]
    Count,
    /// People killed (all `killed_*` counts).
    Fatalities,
    /// People killed or injured.
    Casualties,
    /// Everyone affected: killed, injured and otherwise affected.
    PeopleAffected,
    /// A numeric property (schema field or extra), 0 when absent.
    Field(String),
}

impl std::str::FromStr for Weight {
    type Err = AnalysisError;
    fn from_str(s: &str) -> Result<Self, AnalysisError> {
        Ok(match s {
            "count" => Weight::Count,
            "fatalities" => Weight::Fatalities,
            "casualties" => Weight::Casualties,
            "people-affected" => Weight::PeopleAffected,
            f if f.starts_with("field:") && f.len() > 6 => Weight::Field(f[6..].to_string()),
            other => {
                return Err(AnalysisError::param(
                    "weight",
                    format!("unknown weight {other:?}; expected count, fatalities, casualties, people-affected or field:<name>"),
                ))
            }
        })
    }
}

/// Which events an analysis sees. Empty lists mean "all".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventFilter {
    /// Events whose time overlaps `[from, to]`.
    pub from: Option<DateTime<Utc>>,
    /// See `from`.
    pub to: Option<DateTime<Utc>>,
    /// `[min_lon, min_lat, max_lon, max_lat]`.
    pub bbox: Option<[f64; 4]>,
    /// Incident categories (sightings: activities) to keep.
    pub categories: Vec<String>,
    /// Perpetrators to keep: a perpetrator category (e.g. `state-forces`) or an
    /// exact perpetrator / actor name.
    pub perpetrators: Vec<String>,
    /// Keep only events at least this well established (`alert` < `reported` <
    /// `corroborated` < `verified`).
    pub min_verification: Option<String>,
    /// Keep only events located at least this precisely (`exact` < `settlement`
    /// < `district` < `province`).
    pub min_precision: Option<String>,
}

fn rank(name: &'static str, value: &str, scale: &[&str]) -> Result<usize, AnalysisError> {
    scale.iter().position(|v| *v == value).ok_or_else(|| {
        AnalysisError::param(
            name,
            format!(
                "unknown value {value:?}; expected one of {}",
                scale.join(", ")
            ),
        )
    })
}

impl EventFilter {
    /// Checks every value against the schema, so a typo is an error, not an empty map.
    pub fn validate(&self, layer: Layer) -> Result<(), AnalysisError> {
        if layer == Layer::Incidents {
            for c in &self.categories {
                rank("category", c, CATEGORIES)?;
            }
        }
        if let Some(v) = &self.min_verification {
            rank("min-verification", v, VERIFICATION)?;
        }
        if let Some(p) = &self.min_precision {
            rank("min-precision", p, PRECISION)?;
        }
        if let (Some(a), Some(b)) = (self.from, self.to) {
            if b < a {
                return Err(AnalysisError::param(
                    "to",
                    "the time window ends before it starts",
                ));
            }
        }
        Ok(())
    }

    fn keeps(&self, layer: Layer, f: &Feature) -> bool {
        let s = |k: &str| f.str(k).unwrap_or("");
        let (category, actor, actor_category) = match layer {
            Layer::Sightings => (s("activity"), s("actor"), ""),
            _ => (s("category"), s("perpetrator"), s("perpetrator_category")),
        };
        if !self.categories.is_empty() && !self.categories.iter().any(|c| c == category) {
            return false;
        }
        if !self.perpetrators.is_empty()
            && !self
                .perpetrators
                .iter()
                .any(|p| p == actor || p == actor_category)
        {
            return false;
        }
        if let Some(min) = &self.min_verification {
            let have = VERIFICATION.iter().position(|v| *v == s("verification"));
            let want = VERIFICATION.iter().position(|v| v == min);
            if layer == Layer::Incidents && have < want {
                return false;
            }
        }
        if let Some(max) = &self.min_precision {
            let have = PRECISION.iter().position(|v| *v == s("location_precision"));
            let want = PRECISION.iter().position(|v| v == max);
            if layer == Layer::Incidents && (have.is_none() || have > want) {
                return false;
            }
        }
        true
    }
}

fn sum(f: &Feature, prefixes: &[&str]) -> f64 {
    const WHO: [&str; 5] = ["women", "men", "girls", "boys", "unknown"];
    // f64: a sum of huge counts must not overflow.
    let mut total = 0.0;
    for p in prefixes {
        for w in WHO {
            total += f.int(&format!("{p}_{w}")).unwrap_or(0) as f64;
        }
    }
    total
}

fn weight_of(weight: &Weight, f: &Feature) -> f64 {
    match weight {
        Weight::Count => 1.0,
        Weight::Fatalities => sum(f, &["killed"]),
        Weight::Casualties => sum(f, &["killed", "injured"]),
        Weight::PeopleAffected => sum(f, &["killed", "injured", "affected"]),
        Weight::Field(name) => f
            .properties
            .get(name)
            .and_then(|v| v.as_f64())
            .unwrap_or(0.0),
    }
}

/// Reads the point events of `layer` that pass `filter`, in store order. Only
/// point layers (incidents, sightings) can be analysed as events.
pub fn load_events(
    store: &dyn FeatureSource,
    layer: Layer,
    filter: &EventFilter,
    weight: &Weight,
) -> Result<Events, AnalysisError> {
    if !matches!(layer, Layer::Incidents | Layer::Sightings) {
        return Err(AnalysisError::param(
            "layer",
            format!("{layer} are not point events; use incidents or sightings"),
        ));
    }
    filter.validate(layer)?;
    let query = Query {
        bbox: filter.bbox,
        from: filter.from,
        to: filter.to,
    };
    let mut events = Events::default();
    store.query(layer, &query, &mut |f| {
        if !filter.keeps(layer, &f) {
            return Ok(());
        }
        let geo_types::Geometry::Point(p) = f.geometry else {
            return Ok(());
        };
        let (category, actor) = match layer {
            Layer::Sightings => (f.str("activity"), f.str("actor")),
            _ => (f.str("category"), f.str("perpetrator")),
        };
        let (category, actor) = (
            category.unwrap_or("").to_string(),
            actor.unwrap_or("").to_string(),
        );
        let w = weight_of(weight, &f);
        let sensitive = crate::model::classification::is_sensitive(&f);
        events.push(
            f.id,
            p.x(),
            p.y(),
            f.time.start.timestamp(),
            w,
            category,
            actor,
        );
        events.set_last_sensitive(sensitive);
        events.set_last_end(f.time.last().timestamp());
        Ok(())
    })?;
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::{ingest, IngestOptions, Input};
    use crate::store::GpkgStore;
    use serde_json::json;

    fn store_with(features: Vec<serde_json::Value>) -> (tempfile::TempDir, GpkgStore) {
        let dir = tempfile::TempDir::new().unwrap();
        let store = GpkgStore::open(dir.path().join("s.gpkg")).unwrap();
        let input = Input::Features {
            name: "test".into(),
            features: Box::new(features.into_iter().map(|v| v.to_string())),
        };
        ingest(
            &store,
            &IngestOptions::new(Layer::Incidents),
            vec![input],
            &|_, _| {},
        )
        .unwrap();
        (dir, store)
    }

    fn inc(
        id: &str,
        category: &str,
        verification: &str,
        precision: &str,
        killed: i64,
    ) -> serde_json::Value {
        json!({"type":"Feature","id":id,"geometry":{"type":"Point","coordinates":[18.0,5.0]},
            "properties":{"time":"2024-03-01","category":category,"verification":verification,
            "location_precision":precision,"killed_men":killed,"injured_women":1,"perpetrator":"Group A",
            "perpetrator_category":"non-state-armed-group"}})
    }

    #[test]
    fn an_event_counts_in_every_window_its_interval_overlaps() {
        // 1 to 10 March; an instant on 15 March.
        let (_d, store) = store_with(vec![
            json!({"type":"Feature","id":"long","geometry":{"type":"Point","coordinates":[18.0,5.0]},
                "properties":{"time_start":"2024-03-01T00:00:00Z","time_end":"2024-03-10T23:59:59.999Z",
                "category":"killing"}}),
            json!({"type":"Feature","id":"instant","geometry":{"type":"Point","coordinates":[18.0,5.0]},
                "properties":{"time":"2024-03-15T12:00:00Z","category":"killing"}}),
        ]);
        let t = |s: &str| Some(crate::model::time::parse_time(s).unwrap());
        let ids = |from: &str, to: &str| {
            let f = EventFilter {
                from: if from.is_empty() { None } else { t(from) },
                to: if to.is_empty() { None } else { t(to) },
                ..Default::default()
            };
            load_events(&store, Layer::Incidents, &f, &Weight::Count)
                .unwrap()
                .id
        };
        // Starts before the window, ends inside it: counted.
        assert_eq!(ids("2024-03-05", "2024-03-20"), ["long", "instant"]);
        // Spans the whole window.
        assert_eq!(ids("2024-03-04", "2024-03-06"), ["long"]);
        // Starts inside, ends after.
        assert_eq!(ids("2024-02-01", "2024-03-01T00:00:00Z"), ["long"]);
        // Both ends are inclusive, to the millisecond.
        assert_eq!(ids("2024-03-10T23:59:59.999Z", ""), ["long", "instant"]);
        assert!(ids("2024-02-01", "2024-02-29T23:59:59.999Z").is_empty());
        assert_eq!(ids("2024-03-11", ""), ["instant"]);
        // The interval reaches the analyses: start and end in seconds.
        let all = load_events(
            &store,
            Layer::Incidents,
            &EventFilter::default(),
            &Weight::Count,
        )
        .unwrap();
        assert_eq!(all.time[0], 1_709_251_200);
        assert_eq!(all.ends(), [1_709_251_200 + 10 * 86_400 - 1, all.time[1]]);
    }

    #[test]
    fn filters_and_weights() {
        let (_d, store) = store_with(vec![
            inc("a", "killing", "verified", "exact", 3),
            inc("b", "looting-burning", "alert", "exact", 0),
            inc("c", "killing", "reported", "province", 1),
        ]);
        let all = load_events(
            &store,
            Layer::Incidents,
            &EventFilter::default(),
            &Weight::Fatalities,
        )
        .unwrap();
        assert_eq!(all.id, ["a", "b", "c"]);
        assert_eq!(all.weight, [3.0, 0.0, 1.0]);
        let f = EventFilter {
            categories: vec!["killing".into()],
            min_verification: Some("reported".into()),
            min_precision: Some("district".into()),
            ..Default::default()
        };
        let some = load_events(&store, Layer::Incidents, &f, &Weight::Casualties).unwrap();
        assert_eq!(some.id, ["a"]);
        assert_eq!(some.weight, [4.0]);
        let by_perp = EventFilter {
            perpetrators: vec!["non-state-armed-group".into()],
            ..Default::default()
        };
        assert_eq!(
            load_events(&store, Layer::Incidents, &by_perp, &Weight::Count)
                .unwrap()
                .len(),
            3
        );
        let typo = EventFilter {
            categories: vec!["kiling".into()],
            ..Default::default()
        };
        let e = load_events(&store, Layer::Incidents, &typo, &Weight::Count).unwrap_err();
        assert!(e.to_string().contains("parameter `category`"), "{e}");
        assert!(load_events(
            &store,
            Layer::Patrols,
            &EventFilter::default(),
            &Weight::Count
        )
        .is_err());
    }
}
