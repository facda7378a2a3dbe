//! The store as an analysis run for a role sees it: each layer admitted
//! under that layer's aggregate rules, with honest summaries; which
//! individual features the role may see; the rules an analysis runs under.

use super::{AccessError, AggregateRules, Gate, Marking, Principal};
use crate::analysis::memo::ColumnsMemo;
use crate::model::{Feature, Layer};
use crate::store::{EventColumns, FeatureSource, LayerSummary, Query, StoreError};
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

/// The rules an analysis for `p` runs under, with `main` its main layer and
/// `reads` every layer it reads.
///
/// Returns the output rules and the admission rules per layer:
/// - each layer read is admitted under the rules the gate gives for that
///   layer (consent, classification when full, the patrol delay); a layer
///   the role may not see even as aggregates is left out of the map, and an
///   analysis gets nothing from it; layers not in `reads` likewise;
/// - the output rules are the main layer's (`Err(Forbidden)` when the role
///   may not see it even aggregated), made as strict as every other layer
///   read that contributes: the largest `min_cell_m`, `delay_hours`, `k`
///   and `k_sensitive`, and `full` and `list_members` only when every such
///   layer has them. So no layer's rule is weakened by the product it feeds.
pub fn analysis_rules(
    gate: &Gate,
    p: &Principal,
    main: Layer,
    reads: &[Layer],
) -> Result<(AggregateRules, BTreeMap<Layer, AggregateRules>), AccessError> {
    let mut rules = gate.aggregate_rules(p, main)?;
    let mut layers = BTreeMap::new();
    layers.insert(main, rules.clone());
    for &layer in reads {
        if layers.contains_key(&layer) {
            continue;
        }
        let r = match gate.aggregate_rules(p, layer) {
            Ok(r) => r,
            Err(AccessError::Forbidden { .. }) => continue,
            Err(e) => return Err(e),
        };
        rules.min_cell_m = rules.min_cell_m.max(r.min_cell_m);
        rules.delay_hours = rules.delay_hours.max(r.delay_hours);
        rules.k = rules.k.max(r.k);
        rules.k_sensitive = rules.k_sensitive.max(r.k_sensitive);
        rules.full &= r.full;
        rules.list_members &= r.list_members;
        layers.insert(layer, r);
    }
    Ok((rules, layers))
}

/// The extent of features seen one by one: count, bbox, first and last time.
#[derive(Default)]
struct Span {
    count: u64,
    bbox: Option<[f64; 4]>,
    first: Option<chrono::DateTime<chrono::Utc>>,
    last: Option<chrono::DateTime<chrono::Utc>>,
}

impl Span {
    fn add(&mut self, f: &Feature) {
        use geo::BoundingRect;
        self.count += 1;
        if let Some(r) = f.geometry.bounding_rect() {
            self.grow([r.min().x, r.min().y, r.max().x, r.max().y]);
        }
        self.times(f.time.start, f.time.last());
    }

    /// As `add` for a point feature at `(x, y)`.
    fn add_point(
        &mut self,
        x: f64,
        y: f64,
        start: chrono::DateTime<chrono::Utc>,
        last: chrono::DateTime<chrono::Utc>,
    ) {
        self.count += 1;
        self.grow([x, y, x, y]);
        self.times(start, last);
    }

    fn grow(&mut self, r: [f64; 4]) {
        let b = self.bbox.get_or_insert([
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        ]);
        *b = [
            b[0].min(r[0]),
            b[1].min(r[1]),
            b[2].max(r[2]),
            b[3].max(r[3]),
        ];
    }

    fn times(&mut self, start: chrono::DateTime<chrono::Utc>, end: chrono::DateTime<chrono::Utc>) {
        self.first = Some(self.first.map_or(start, |t| t.min(start)));
        self.last = Some(self.last.map_or(end, |t| t.max(end)));
    }

    /// The summary, with times no later than `cutoff`.
    fn summary(self, layer: Layer, cutoff: Option<chrono::DateTime<chrono::Utc>>) -> LayerSummary {
        let cap = |t: Option<chrono::DateTime<chrono::Utc>>| match cutoff {
            Some(c) => t.map(|t| t.min(c)),
            None => t,
        };
        let fmt = |t: Option<chrono::DateTime<chrono::Utc>>| {
            cap(t).map(|t| crate::model::time::format_time(&t))
        };
        LayerSummary {
            layer: layer.name().to_string(),
            count: self.count,
            bbox: self.bbox,
            first: fmt(self.first),
            last: fmt(self.last),
        }
    }
}

/// The extent (bbox, first and last time) of the features of `layer` that
/// `p` may see individually, read from `store` through the gate's view:
/// never the extent of records the role may not see.
pub fn visible_extent(
    gate: &Gate,
    p: &Principal,
    layer: Layer,
    store: &dyn FeatureSource,
) -> crate::Result<LayerSummary> {
    let view = gate.features(p, layer)?;
    let mut span = Span::default();
    store.query(layer, &Query::default(), &mut |f: Feature| {
        if view.visible(&f) {
            span.add(&f);
        }
        Ok(())
    })?;
    Ok(span.summary(layer, None))
}

/// Which features the caller may see individually, looked up per layer on
/// first use (through the gate's feature view of the raw store).
pub struct Shown<'a> {
    gate: &'a Gate,
    principal: &'a Principal,
    store: &'a dyn FeatureSource,
    seen: Mutex<BTreeMap<Layer, HashSet<String>>>,
}

impl<'a> Shown<'a> {
    pub fn new(gate: &'a Gate, principal: &'a Principal, store: &'a dyn FeatureSource) -> Self {
        Shown {
            gate,
            principal,
            store,
            seen: Mutex::new(BTreeMap::new()),
        }
    }

    /// Whether the caller may see feature `id` of `layer` (false when it does
    /// not exist, or on any error).
    pub fn has(&self, layer: Layer, id: &str) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let ids = seen.entry(layer).or_insert_with(|| {
            let mut ids = HashSet::new();
            if let Ok(fv) = self.gate.features(self.principal, layer) {
                let r = self
                    .store
                    .query(layer, &Query::default(), &mut |f: Feature| {
                        if fv.show(&f).is_some() {
                            ids.insert(f.id);
                        }
                        Ok(())
                    });
                if r.is_err() {
                    ids.clear();
                }
            }
            ids
        });
        ids.contains(id)
    }
}

/// The store as an analysis run for a caller sees it: of each layer, only
/// the features that layer's aggregate rules admit (consent, patrol delay);
/// nothing of a layer without rules. Read-only.
///
/// Summaries (used for default windows and extents) are made from the
/// admitted features only, and their times never reach beyond the
/// strictest delay cutoff of the analysis: neither the extent nor the
/// latest time of a feature the analysis may not use shows through.
pub struct Admitted<'a> {
    inner: &'a dyn FeatureSource,
    layers: &'a BTreeMap<Layer, AggregateRules>,
    cutoff: Option<chrono::DateTime<chrono::Utc>>,
    now: chrono::DateTime<chrono::Utc>,
    coarse: Option<super::release::Partition>,
    summaries: Mutex<BTreeMap<Layer, LayerSummary>>,
}

impl<'a> Admitted<'a> {
    pub fn new(
        inner: &'a dyn FeatureSource,
        layers: &'a BTreeMap<Layer, AggregateRules>,
        cutoff: Option<chrono::DateTime<chrono::Utc>>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Self {
        Admitted {
            inner,
            layers,
            cutoff,
            now,
            coarse: None,
            summaries: Mutex::new(BTreeMap::new()),
        }
    }

    /// Summaries for a role without full view: made of the groups of
    /// `partition` released to the role (see `summarise_released`).
    pub fn coarsened(mut self, partition: super::release::Partition) -> Self {
        self.coarse = Some(partition);
        self
    }

    /// A coarse summary, for a role without full view: of incidents and
    /// sightings, the extent and time steps of the groups released to the
    /// role (so that no record under the minimum count moves a default
    /// area or window); of other layers, nothing.
    fn summarise_released(
        &self,
        layer: Layer,
        part: &super::release::Partition,
    ) -> crate::store::Result<LayerSummary> {
        use crate::analysis::events::{load_events, EventFilter, Weight};
        let empty = LayerSummary {
            layer: layer.name().to_string(),
            count: 0,
            bbox: None,
            first: None,
            last: None,
        };
        let Some(rules) = self.layers.get(&layer) else {
            return Ok(empty);
        };
        if !matches!(layer, Layer::Incidents | Layer::Sightings) {
            // Patrols, bases, sites: no minimum count applies to their
            // extent; it is coarsened to whole degrees and steps.
            let mut s = self.summarise_admitted(layer)?;
            s.bbox = s
                .bbox
                .map(|b| [b[0].floor(), b[1].floor(), b[2].ceil(), b[3].ceil()]);
            let snap = |t: &Option<String>, end: bool| -> Option<String> {
                let t = crate::model::time::parse_time(t.as_deref()?)
                    .ok()?
                    .timestamp();
                let (a, b) = part.snap_window(Some(t), Some(t));
                let mut t = chrono::DateTime::from_timestamp(if end { b? } else { a? }, 0)?;
                if let (true, Some(c)) = (end, self.cutoff) {
                    t = t.min(c);
                }
                Some(crate::model::time::format_time(&t))
            };
            s.first = snap(&s.first, false);
            s.last = snap(&s.last, true);
            return Ok(s);
        }
        let events = load_events(self, layer, &EventFilter::default(), &Weight::Count)
            .map_err(|e| StoreError::Aborted(e.to_string()))?;
        let out = super::release::release(&events, rules, part, (None, None), None);
        if out.is_empty() {
            return Ok(empty);
        }
        let fold = |v: &[f64], f: fn(f64, f64) -> f64, init: f64| v.iter().copied().fold(init, f);
        let bbox = [
            fold(&out.lon, f64::min, f64::INFINITY),
            fold(&out.lat, f64::min, f64::INFINITY),
            fold(&out.lon, f64::max, f64::NEG_INFINITY),
            fold(&out.lat, f64::max, f64::NEG_INFINITY),
        ];
        let first = out.time.iter().min().copied();
        let last = out
            .time
            .iter()
            .max()
            .and_then(|t| part.snap_window(None, Some(*t)).1);
        let mut last = last.and_then(|t| chrono::DateTime::from_timestamp(t, 0));
        if let Some(c) = self.cutoff {
            last = last.map(|t| t.min(c));
        }
        let fmt = |t: Option<chrono::DateTime<chrono::Utc>>| {
            t.map(|t| crate::model::time::format_time(&t))
        };
        Ok(LayerSummary {
            layer: layer.name().to_string(),
            count: out.len() as u64,
            bbox: Some(bbox),
            first: fmt(first.and_then(|t| chrono::DateTime::from_timestamp(t, 0))),
            last: fmt(last),
        })
    }

    fn summarise(&self, layer: Layer) -> crate::store::Result<LayerSummary> {
        match &self.coarse {
            Some(part) => self.summarise_released(layer, part),
            None => self.summarise_admitted(layer),
        }
    }

    fn summarise_admitted(&self, layer: Layer) -> crate::store::Result<LayerSummary> {
        if matches!(layer, Layer::Incidents | Layer::Sightings) {
            // Points only: the extent of the admitted columns is the
            // extent of the admitted features.
            let c = self.columns(layer, &Query::default())?;
            if c.all_points() {
                let mut span = Span::default();
                for i in 0..c.len() {
                    span.add_point(c.lon[i], c.lat[i], c.start[i], c.last[i]);
                }
                return Ok(span.summary(layer, self.cutoff));
            }
        }
        let mut span = Span::default();
        self.query(layer, &Query::default(), &mut |f: Feature| {
            span.add(&f);
            Ok(())
        })?;
        Ok(span.summary(layer, self.cutoff))
    }
}

/// Whole layers' columns as admitted under a layer's rules at an hour, kept
/// between analyses (see [`ColumnsMemo`]): keyed by the rules themselves,
/// so that no role is ever given rows admitted under another's rules.
static ADMITTED: ColumnsMemo<
    (Layer, AggregateRules, chrono::DateTime<chrono::Utc>),
    Arc<EventColumns>,
> = ColumnsMemo::new(4);

/// `t` rounded down to the hour: delays cut at whole hours, so that results
/// stay cacheable (an earlier cutoff only leaves out more).
pub fn hour(t: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    use chrono::DurationRound;
    t.duration_trunc(chrono::TimeDelta::hours(1)).unwrap_or(t)
}

impl FeatureSource for Admitted<'_> {
    fn summary(&self, layer: Layer) -> crate::store::Result<LayerSummary> {
        if let Some(s) = self
            .summaries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&layer)
        {
            return Ok(s.clone());
        }
        let s = self.summarise(layer)?;
        self.summaries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(layer, s.clone());
        Ok(s)
    }
    fn query(
        &self,
        layer: Layer,
        query: &Query,
        visit: &mut dyn FnMut(Feature) -> crate::store::Result<()>,
    ) -> crate::store::Result<u64> {
        let Some(rules) = self.layers.get(&layer) else {
            return Ok(0);
        };
        let mut n = 0;
        self.inner.query(layer, query, &mut |f| {
            if rules.admits(&f, self.now) {
                n += 1;
                visit(f)
            } else {
                Ok(())
            }
        })?;
        Ok(n)
    }
    /// The inner store's columns, filtered by the same rule `query` applies
    /// ([`AggregateRules::admits_marked`]).
    fn columns(&self, layer: Layer, query: &Query) -> crate::store::Result<Arc<EventColumns>> {
        let Some(rules) = self.layers.get(&layer) else {
            return Ok(Arc::new(EventColumns::new(layer)));
        };
        let all = self.inner.columns(layer, query)?;
        // The admitted rows of `all` from row `from` on.
        let admitted_rows = |from: usize| -> Vec<usize> {
            (from..all.len())
                .filter(|&i| {
                    let m = Marking {
                        level: all.level[i],
                        owner: all.owner[i],
                        consent: all.consent[i],
                    };
                    rules.admits_marked(&m, all.last[i], self.now)
                })
                .collect()
        };
        let admit = || -> crate::store::Result<Arc<EventColumns>> {
            let rows = admitted_rows(0);
            if rows.len() == all.len() {
                return Ok(all.clone());
            }
            Ok(Arc::new(all.take(&rows)))
        };
        if *query != Query::default() {
            return admit();
        }
        // Rows added to a layer admitted before (an ingest): the rows
        // admitted then, and the new ones admitted now (at the same hour,
        // under the same rules: the same rows `admit` would keep).
        let extend =
            |old: Arc<Arc<EventColumns>>, n: usize| -> crate::store::Result<Arc<EventColumns>> {
                let rows = admitted_rows(n);
                if rows.len() == all.len() - n && old.len() == n {
                    return Ok(all.clone());
                }
                let new = all.take(&rows);
                let mut out = EventColumns::new(layer);
                out.reserve(
                    old.len() + new.len(),
                    old.raw_ids().0.len() + new.raw_ids().0.len(),
                );
                out.append_from(&old);
                out.append(new);
                Ok(Arc::new(out))
            };
        // A whole layer: the same columns admitted under the same rules at
        // the same hour are the same rows (and the same `Arc`, so that what
        // is made from them can be shared too).
        let admitted =
            ADMITTED.get_or_extend(&all, (layer, rules.clone(), self.now), admit, extend)?;
        Ok((*admitted).clone())
    }
    fn data_version(&self) -> crate::store::Result<u64> {
        self.inner.data_version()
    }
    /// Never the store's: every write advances it, also of records this
    /// role is not admitted to, so a role's product recording it would date
    /// the writes it may not see (an hr ingest, to a partner polling a
    /// hotspot layer).
    fn disclosed_version(&self) -> crate::store::Result<Option<u64>> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::{Policy, Role};
    use crate::ingest::{IngestOptions, Input};
    use crate::store::{GpkgStore, Store};
    use serde_json::{json, Value};

    fn principal(role: Role) -> Principal {
        Principal {
            name: format!("{role}"),
            role,
            ingest: vec![],
        }
    }

    fn feature(layer: Layer, id: &str, lon: f64, props: Value) -> Value {
        let geometry = if layer == Layer::Patrols {
            json!({"type": "LineString", "coordinates": [[lon, 4.0], [lon + 0.1, 4.1]]})
        } else {
            json!({"type": "Point", "coordinates": [lon, 4.0]})
        };
        json!({"type": "Feature", "id": id, "geometry": geometry, "properties": props})
    }

    fn ingest(store: &dyn Store, layer: Layer, features: Vec<Value>) {
        let input = Input::Features {
            name: "test".into(),
            features: Box::new(features.into_iter().map(|f| f.to_string())),
        };
        let dir = tempfile::tempdir().unwrap();
        let mut opts = IngestOptions::new(layer);
        opts.rejects = dir.path().join("rejects.ndjson");
        crate::ingest::ingest(store, &opts, vec![input], &|_, _| {}).unwrap();
    }

    /// Each layer is admitted under its own rules; a layer without rules
    /// gives nothing; summaries show only admitted features and never reach
    /// beyond the cutoff.
    #[test]
    fn admitted_store_per_layer_with_honest_summaries() {
        let dir = tempfile::tempdir().unwrap();
        let store = GpkgStore::open(dir.path().join("s.gpkg")).unwrap();
        let now = hour(chrono::Utc::now());
        let t = |hours_ago: i64| {
            crate::model::time::format_time(&(now - chrono::Duration::hours(hours_ago)))
        };
        let incident = |id: &str, lon: f64, consent: &str, time: String| {
            feature(
                Layer::Incidents,
                id,
                lon,
                json!({"time_start": time, "owner": "hr", "classification": "restricted",
                    "category": "killing", "consent": consent}),
            )
        };
        ingest(
            &store,
            Layer::Incidents,
            vec![
                incident("kept", 18.0, "hr-only", t(500)),
                incident("recent", 18.2, "mission", t(2)),
                // Consent none: never in a military aggregate, nor its extent.
                incident("far-none", 25.0, "none", t(1)),
            ],
        );
        let patrol = |id: &str, lon: f64, ended: i64| {
            feature(
                Layer::Patrols,
                id,
                lon,
                json!({"time_start": t(ended + 3), "time_end": t(ended), "owner": "military",
                    "classification": "restricted", "unit": "Coy A", "mode": "foot"}),
            )
        };
        ingest(
            &store,
            Layer::Patrols,
            vec![patrol("old", 18.0, 100), patrol("new", 30.0, 5)],
        );
        let gate = Gate::new(Policy::default(), None).unwrap();
        let collect = |s: &dyn FeatureSource, layer: Layer| {
            let mut ids = Vec::new();
            s.query(layer, &Query::default(), &mut |f| {
                ids.push(f.id);
                Ok(())
            })
            .unwrap();
            ids.sort();
            ids
        };
        // Military: every patrol; incidents but the one without consent.
        let (rules, layers) = analysis_rules(
            &gate,
            &principal(Role::Military),
            Layer::Patrols,
            &[Layer::Patrols, Layer::Incidents],
        )
        .unwrap();
        assert!(!rules.full && rules.delay_hours == 0.0);
        let a = Admitted::new(&store, &layers, rules.cutoff(now), now);
        assert_eq!(collect(&a, Layer::Patrols), ["new", "old"]);
        assert_eq!(collect(&a, Layer::Incidents), ["kept", "recent"]);
        assert!(collect(&a, Layer::Bases).is_empty());
        let s = a.summary(Layer::Incidents).unwrap();
        assert_eq!(s.count, 2);
        assert!(s.bbox.unwrap()[2] < 20.0, "{s:?}");
        assert_eq!(s.last, Some(t(2)));
        // Jmac: patrols delayed; the summaries of every layer stop at the cutoff.
        let (rules, layers) = analysis_rules(
            &gate,
            &principal(Role::Jmac),
            Layer::Patrols,
            &[Layer::Patrols, Layer::Incidents],
        )
        .unwrap();
        let cutoff = rules.cutoff(now).unwrap();
        assert_eq!(cutoff, now - chrono::Duration::hours(72));
        let a = Admitted::new(&store, &layers, Some(cutoff), now);
        assert_eq!(collect(&a, Layer::Patrols), ["old"]);
        let s = a.summary(Layer::Patrols).unwrap();
        assert_eq!((s.count, s.last.clone()), (1, Some(t(100))));
        assert!(s.bbox.unwrap()[2] < 20.0, "{s:?}");
        let s = a.summary(Layer::Incidents).unwrap();
        assert_eq!(s.last, Some(t(72)));
        assert_eq!(s.first, Some(t(500)));
        // A layer not read: an empty summary.
        let s = a.summary(Layer::Sightings).unwrap();
        assert_eq!((s.count, s.bbox, s.last), (0, None, None));
        // Hr: its own incidents in full (consent none too), patrols delayed.
        let (_, layers) = analysis_rules(
            &gate,
            &principal(Role::Hr),
            Layer::Incidents,
            &[Layer::Incidents, Layer::Patrols],
        )
        .unwrap();
        let a = Admitted::new(&store, &layers, Some(cutoff), now);
        assert_eq!(
            collect(&a, Layer::Incidents),
            ["far-none", "kept", "recent"]
        );
        assert_eq!(collect(&a, Layer::Patrols), ["old"]);
    }

    /// The column path admits exactly the rows the feature path admits:
    /// random records with every classification, owner, consent scope and
    /// time, every role, each point layer, the gate's rules and stricter
    /// variants (a delay cutting through the data, full view forced on and
    /// off), random queries; and the summaries made from columns equal those
    /// made from features.
    #[test]
    fn columns_admit_exactly_what_features_admit() {
        use crate::store::columns::random;
        let dir = tempfile::tempdir().unwrap();
        let store = GpkgStore::open(dir.path().join("s.gpkg")).unwrap();
        for (layer, seed) in [(Layer::Incidents, 21), (Layer::Sightings, 22)] {
            ingest(&store, layer, random::features(seed, layer, 2500));
        }
        let gate = Gate::new(Policy::default(), None).unwrap();
        let now = chrono::DateTime::from_timestamp(1_600_000_000 + 20 * 86_400, 0).unwrap();
        let queries = random::queries(23, 12);
        let mut seen = (0, 0);
        for role in Role::ALL {
            for layer in [Layer::Incidents, Layer::Sightings] {
                let Ok(base) = gate.aggregate_rules(&principal(role), layer) else {
                    continue;
                };
                for (delay_hours, full) in [
                    (base.delay_hours, base.full),
                    (200.0, base.full),
                    (0.0, !base.full),
                    (333.3, !base.full),
                ] {
                    let rules = AggregateRules {
                        delay_hours,
                        full,
                        ..base.clone()
                    };
                    let layers = BTreeMap::from([(layer, rules.clone())]);
                    let a = Admitted::new(&store, &layers, rules.cutoff(now), now);
                    for q in &queries {
                        let mut ids = Vec::new();
                        a.query(layer, q, &mut |f| {
                            ids.push(f.id);
                            Ok(())
                        })
                        .unwrap();
                        let c = a.columns(layer, q).unwrap();
                        let cols: Vec<&str> = (0..c.len()).map(|i| c.id(i)).collect();
                        assert_eq!(cols, ids, "{role} {layer} {delay_hours} {full} {q:?}");
                        let all = crate::store::columns::columns_by_query(&store, layer, q)
                            .unwrap()
                            .len();
                        seen.0 += usize::from(!ids.is_empty() && ids.len() < all);
                        seen.1 += 1;
                    }
                    let mut span = Span::default();
                    a.query(layer, &Query::default(), &mut |f| {
                        span.add(&f);
                        Ok(())
                    })
                    .unwrap();
                    assert_eq!(
                        a.summary(layer).unwrap(),
                        span.summary(layer, a.cutoff),
                        "{role} {layer}"
                    );
                }
            }
        }
        // The rules and queries admit some rows and refuse others, often.
        assert!(seen.0 * 3 > seen.1, "{seen:?}");
    }

    /// A layer the role may not see even aggregated contributes nothing; the
    /// main layer then refuses.
    #[test]
    fn layers_a_role_may_not_see_contribute_nothing() {
        let mut policy = Policy::default();
        policy.views.partner.sightings = crate::access::LayerView::None;
        let gate = Gate::new(policy, None).unwrap();
        let p = principal(Role::Partner);
        let (rules, layers) = analysis_rules(&gate, &p, Layer::Incidents, &Layer::ALL).unwrap();
        assert!(!layers.contains_key(&Layer::Sightings));
        assert_eq!(layers.len(), 4);
        assert_eq!(rules.layer, Layer::Incidents);
        assert!(matches!(
            analysis_rules(&gate, &p, Layer::Sightings, &[Layer::Sightings]),
            Err(AccessError::Forbidden { .. })
        ));
    }
}
