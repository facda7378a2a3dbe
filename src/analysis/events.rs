//! Selecting the events an analysis runs on: time window, area, categories,
//! perpetrators, verification status, location precision, and the weight each
//! event carries.

use super::memo::ColumnsMemo;
use super::{AnalysisError, Events};
use crate::model::schema::{CATEGORIES, PRECISION, VERIFICATION};
use crate::model::{Feature, Layer};
use crate::store::columns::{count_sum, event_names, CASUALTIES, FATALITIES, PEOPLE_AFFECTED};
use crate::store::{EventColumns, FeatureSource, Query};
use chrono::{DateTime, Utc};
use std::sync::Arc;

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

    /// Whether feature `f` of `layer` passes the filter's conditions on
    /// its properties (not its time or position).
    pub fn keeps(&self, layer: Layer, f: &Feature) -> bool {
        let s = |k: &str| f.str(k).unwrap_or("");
        let (category, actor, actor_category) = event_names(layer, f);
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

fn weight_of(weight: &Weight, f: &Feature) -> f64 {
    match weight {
        Weight::Count => 1.0,
        Weight::Fatalities => count_sum(f, FATALITIES),
        Weight::Casualties => count_sum(f, CASUALTIES),
        Weight::PeopleAffected => count_sum(f, PEOPLE_AFFECTED),
        Weight::Field(name) => f
            .properties
            .get(name)
            .and_then(|v| v.as_f64())
            .unwrap_or(0.0),
    }
}

/// Reads the point events of `layer` that pass `filter`, in store order. Only
/// point layers (incidents, sightings) can be analysed as events.
///
/// Reads the store's columns ([`FeatureSource::columns`]) unless the weight is a
/// property the columns do not hold (`field:<name>`): then whole features.
/// Both give the same events.
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
    let began = std::time::Instant::now();
    let events = if matches!(weight, Weight::Field(_)) {
        load_features(store, layer, &query, filter, weight)?
    } else {
        let columns = store.columns(layer, &query)?;
        let read = began.elapsed();
        let events = from_columns(layer, filter, weight, &columns);
        tracing::info!(%layer, rows = columns.len(), read_ms = read.as_secs_f64() * 1e3,
            "store columns read");
        events
    };
    tracing::info!(%layer, events = events.len(), ms = began.elapsed().as_secs_f64() * 1e3,
        "events loaded");
    Ok(events)
}

/// Events made from whole layers, kept between calls (two: events are
/// large) by [`load_events_shared`].
static SHARED: ColumnsMemo<(Layer, EventFilter, Weight), Events> = ColumnsMemo::new(2);

/// [`load_events`], shared: when the filter reads the whole layer (no bbox
/// or window pushed down to the store) and the weight is in the columns,
/// the events made from the same columns (the layer unchanged, see
/// [`ColumnsMemo`]) with the same filter and weight are made once and shared.
/// So a server answering analyses on an unchanged layer builds its events
/// once. The same events as [`load_events`] in every case.
pub fn load_events_shared(
    store: &dyn FeatureSource,
    layer: Layer,
    filter: &EventFilter,
    weight: &Weight,
) -> Result<Arc<Events>, AnalysisError> {
    let whole = filter.bbox.is_none() && filter.from.is_none() && filter.to.is_none();
    if !whole
        || matches!(weight, Weight::Field(_))
        || !matches!(layer, Layer::Incidents | Layer::Sightings)
    {
        return load_events(store, layer, filter, weight).map(Arc::new);
    }
    filter.validate(layer)?;
    let began = std::time::Instant::now();
    let columns = store.columns(layer, &Query::default())?;
    // After rows were only added (an ingest), the events of the rows seen
    // before and those of the new rows: the same as made anew, in order.
    let extend = |old: Arc<Events>, n: usize| {
        let rows: Vec<usize> = (n..columns.len()).collect();
        let new = from_columns(layer, filter, weight, &columns.take(&rows));
        let mut events = Arc::try_unwrap(old).unwrap_or_else(|a| (*a).clone());
        events.extend_from(&new);
        Ok::<_, AnalysisError>(events)
    };
    let events = SHARED.get_or_extend(
        &columns,
        (layer, filter.clone(), weight.clone()),
        || Ok(from_columns(layer, filter, weight, &columns)),
        extend,
    )?;
    tracing::info!(%layer, events = events.len(), ms = began.elapsed().as_secs_f64() * 1e3,
        "events loaded (shared)");
    Ok(events)
}

/// [`load_events`] through whole features.
fn load_features(
    store: &dyn FeatureSource,
    layer: Layer,
    query: &Query,
    filter: &EventFilter,
    weight: &Weight,
) -> Result<Events, AnalysisError> {
    let mut events = Events::default();
    store.query(layer, query, &mut |f| {
        if !filter.keeps(layer, &f) {
            return Ok(());
        }
        let geo_types::Geometry::Point(p) = f.geometry else {
            return Ok(());
        };
        let (category, actor, _) = event_names(layer, &f);
        let (category, actor) = (category.to_string(), actor.to_string());
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

/// Rows per part when events are built from columns in parallel.
const PART_ROWS: usize = 32_768;

/// The events of `c` that pass `filter`, weighed by `weight` (not a field):
/// the same, in the same order, as [`load_features`] gives.
fn from_columns(layer: Layer, filter: &EventFilter, weight: &Weight, c: &EventColumns) -> Events {
    use rayon::prelude::*;
    let names = c.names();
    let listed = |list: &[String]| -> Vec<bool> {
        names.iter().map(|n| list.iter().any(|x| x == n)).collect()
    };
    let (category_ok, actor_ok) = (listed(&filter.categories), listed(&filter.perpetrators));
    let incidents = layer == Layer::Incidents;
    // Ranks as `keeps` compares them: `None` for unknown values.
    let unrank = |r: u8| r.checked_sub(1).map(usize::from);
    let want_verification = filter
        .min_verification
        .as_ref()
        .map(|m| VERIFICATION.iter().position(|v| v == m));
    let want_precision = filter
        .min_precision
        .as_ref()
        .map(|m| PRECISION.iter().position(|v| v == m));
    let keeps = |i: usize| {
        c.point[i]
            && (filter.categories.is_empty() || category_ok[c.category[i] as usize])
            && (filter.perpetrators.is_empty()
                || actor_ok[c.actor[i] as usize]
                || actor_ok[c.actor_category[i] as usize])
            && !(incidents
                && want_verification.is_some_and(|want| unrank(c.verification[i]) < want))
            && !(incidents
                && want_precision.is_some_and(|want| {
                    let have = unrank(c.precision[i]);
                    have.is_none() || have > want
                }))
    };
    let weights: Option<&[f64]> = match weight {
        Weight::Fatalities => Some(&c.fatalities),
        Weight::Casualties => Some(&c.casualties),
        Weight::PeopleAffected => Some(&c.people_affected),
        Weight::Count | Weight::Field(_) => None,
    };
    // The rows kept, then each event column collected straight into its
    // final place: no parts to join, no column grown (fresh memory is what
    // a million events cost most).
    let kept: Vec<usize> = (0..c.len().div_ceil(PART_ROWS))
        .into_par_iter()
        .flat_map_iter(|p| {
            (p * PART_ROWS..((p + 1) * PART_ROWS).min(c.len())).filter(|&i| keeps(i))
        })
        .collect();
    let mut out = Events::default();
    let rows = || kept.par_iter().copied();
    rows()
        .map(|i| c.id(i).to_string())
        .collect_into_vec(&mut out.id);
    rows().map(|i| c.lon[i]).collect_into_vec(&mut out.lon);
    rows().map(|i| c.lat[i]).collect_into_vec(&mut out.lat);
    rows()
        .map(|i| c.start[i].timestamp())
        .collect_into_vec(&mut out.time);
    rows()
        .map(|i| c.last[i].timestamp().max(c.start[i].timestamp()))
        .collect_into_vec(&mut out.time_end);
    rows()
        .map(|i| weights.map_or(1.0, |w| w[i]))
        .collect_into_vec(&mut out.weight);
    rows()
        .map(|i| names[c.category[i] as usize].clone())
        .collect_into_vec(&mut out.category);
    rows()
        .map(|i| names[c.actor[i] as usize].clone())
        .collect_into_vec(&mut out.actor);
    rows()
        .map(|i| c.sensitive[i])
        .collect_into_vec(&mut out.sensitive);
    out
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

    /// Events read from columns equal events read from whole features, on
    /// random data, random queries, filters and every count weight; a field
    /// weight reads features.
    #[test]
    fn columns_give_the_events_features_give() {
        use crate::store::columns::{columns_by_query, random};
        use crate::store::Store;
        let (_d, store) = store_with(random::features(31, Layer::Incidents, 3000));
        let input = Input::Features {
            name: "s".into(),
            features: Box::new(
                random::features(32, Layer::Sightings, 1000)
                    .into_iter()
                    .map(|v| v.to_string()),
            ),
        };
        ingest(
            &store,
            &IngestOptions::new(Layer::Sightings),
            vec![input],
            &|_, _| {},
        )
        .unwrap();
        let mut r = crate::rng::Rng::new(33);
        let some = |r: &mut crate::rng::Rng, from: &[&str]| -> Vec<String> {
            from.iter()
                .filter(|_| r.chance(0.3))
                .map(|s| s.to_string())
                .collect()
        };
        let weights = [
            Weight::Count,
            Weight::Fatalities,
            Weight::Casualties,
            Weight::PeopleAffected,
            Weight::Field("killed_men".into()),
        ];
        let mut nonempty = 0;
        for q in random::queries(34, 40) {
            let layer = if r.chance(0.7) {
                Layer::Incidents
            } else {
                Layer::Sightings
            };
            let filter = EventFilter {
                from: q.from,
                to: q.to,
                bbox: q.bbox,
                categories: if layer == Layer::Incidents {
                    some(&mut r, CATEGORIES)
                } else {
                    vec![]
                },
                perpetrators: some(
                    &mut r,
                    &["Group A", "FACA", "state-forces", "non-state-armed-group"],
                ),
                min_verification: r
                    .chance(0.3)
                    .then(|| VERIFICATION[r.below(4) as usize].to_string()),
                min_precision: r
                    .chance(0.3)
                    .then(|| PRECISION[r.below(4) as usize].to_string()),
            };
            let weight = &weights[r.below(weights.len() as u64) as usize];
            let features = load_features(&store, layer, &q, &filter, weight).unwrap();
            let columns = load_events(&store, layer, &filter, weight).unwrap();
            assert_eq!(columns, features, "{layer} {filter:?} {weight:?}");
            let by_query = columns_by_query(&store as &dyn Store, layer, &q).unwrap();
            if !matches!(weight, Weight::Field(_)) {
                assert_eq!(from_columns(layer, &filter, weight, &by_query), features);
            }
            nonempty += usize::from(!features.is_empty());
        }
        assert!(nonempty > 15, "{nonempty}");
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
