//! An in-memory store (`memory:`), with the GeoPackage's semantics where
//! callers can see them, for tests of the code above the store and as the
//! second backend the store-contract tests run on (`contract_tests.rs`).
//!
//! What it shares with [`super::GpkgStore`]: upsert by id (a replaced
//! feature keeps its place in storage order; keys are never reused, a
//! restored row gets its key back), atomic batches (everything or nothing;
//! dropped uncommitted, nothing), one batch at a time, stored times cut to
//! milliseconds and schema properties held as their kind stores them (a
//! number of a real-valued field reads back as a float, a null as absent),
//! the same query filters and orders, a data version that changes on every
//! commit and only then, quarantine and restore, sources.
//!
//! What it does not keep: history. Replaced and deleted versions are
//! dropped (the GeoPackage keeps them in `jointmap_history`). A batch works
//! on a copy of the whole store, so it costs the store's size: this backend
//! is for tests and small demonstrations, not for data.

use super::{
    in_range, Batch, BatchStats, Direction, FeatureSink, FeatureSource, LayerSummary, Query,
    Result, Selection, StoreError, StoredRow, LOCAL_AUTHOR,
};
use crate::model::schema::FieldKind;
use crate::model::{Feature, Layer};
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::BTreeMap;
use std::ops::{Bound, ControlFlow};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

/// A stored feature and the source it was written for.
#[derive(Debug, Clone)]
struct Row {
    feature: Feature,
    source: String,
}

/// One layer: rows by key (storage order), keys by id.
#[derive(Debug, Clone, Default)]
struct LayerData {
    rows: BTreeMap<i64, Row>,
    ids: BTreeMap<String, i64>,
    /// The last key given out: keys only grow, as AUTOINCREMENT's do.
    last_key: i64,
}

/// A quarantined row, as it was.
#[derive(Debug, Clone)]
struct Aside {
    layer: Layer,
    key: i64,
    row: Row,
}

/// Everything committed, at one data version.
#[derive(Debug, Clone, Default)]
struct State {
    version: u64,
    layers: BTreeMap<Layer, LayerData>,
    quarantine: Vec<Aside>,
}

impl State {
    fn layer(&self, layer: Layer) -> Option<&LayerData> {
        self.layers.get(&layer)
    }

    fn layer_mut(&mut self, layer: Layer) -> &mut LayerData {
        self.layers.entry(layer).or_default()
    }
}

/// The in-memory [`super::Store`]; see the module documentation.
#[derive(Debug, Default)]
pub struct MemoryStore {
    committed: RwLock<Arc<State>>,
    /// Held by the one open batch.
    writer: Mutex<()>,
}

impl MemoryStore {
    /// A new, empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The committed state: a snapshot that later commits do not change.
    fn snapshot(&self) -> Arc<State> {
        self.committed
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// `t` cut to whole milliseconds, as the GeoPackage stores times.
fn millis(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
}

/// The feature as the GeoPackage would read it back: times cut to
/// milliseconds; schema properties as their column holds them (null:
/// absent; a number of a real-valued field: a float; an integer that fits:
/// an integer; any other value but a time list: its JSON text).
fn as_stored(layer: Layer, f: &Feature) -> Feature {
    let mut f = f.clone();
    f.time.start = millis(f.time.start);
    f.time.end = f.time.end.map(millis);
    for spec in layer.fields() {
        let Some(v) = f.properties.get_mut(spec.name) else {
            continue;
        };
        let stored = match (&*v, spec.kind) {
            (Value::Null, _) => None,
            (Value::String(_), _) | (_, FieldKind::TimeList) => Some(v.clone()),
            (Value::Number(n), FieldKind::PositiveReal | FieldKind::Fraction) => {
                Some(n.as_f64().map_or(Value::Null, Value::from))
            }
            (Value::Number(n), _) => Some(
                n.as_i64()
                    .map_or_else(|| Value::from(n.as_f64().unwrap_or(0.0)), Value::from),
            ),
            (other, _) => Some(Value::String(other.to_string())),
        };
        match stored {
            Some(s) => *v = s,
            None => {
                f.properties.remove(spec.name);
            }
        }
    }
    f
}

/// Whether `f` passes `q`'s filters, as the GeoPackage applies them.
fn matches(layer: Layer, f: &Feature, q: &Query) -> bool {
    if q.bbox
        .is_some_and(|b| !super::gpkg::touches(&f.geometry, b))
    {
        return false;
    }
    if let Some(from) = q.from {
        let ends_after = match f.time.end {
            Some(end) => end >= millis(from),
            None => layer.open_ended() || f.time.start >= millis(from),
        };
        if !ends_after {
            return false;
        }
    }
    q.to.is_none_or(|to| f.time.start <= millis(to))
}

impl FeatureSource for MemoryStore {
    fn summary(&self, layer: Layer) -> Result<LayerSummary> {
        let state = self.snapshot();
        let mut s = LayerSummary {
            layer: layer.name().to_string(),
            count: 0,
            bbox: None,
            first: None,
            last: None,
        };
        let (mut first, mut last) = (None::<DateTime<Utc>>, None::<DateTime<Utc>>);
        for row in state.layer(layer).into_iter().flat_map(|l| l.rows.values()) {
            let f = &row.feature;
            s.count += 1;
            let b = crate::model::geometry::bbox(&f.geometry);
            s.bbox = Some(match s.bbox {
                None => b,
                Some(a) => [
                    a[0].min(b[0]),
                    a[1].min(b[1]),
                    a[2].max(b[2]),
                    a[3].max(b[3]),
                ],
            });
            let end = f.time.end.unwrap_or(f.time.start);
            first = Some(first.map_or(f.time.start, |t| t.min(f.time.start)));
            last = Some(last.map_or(end, |t| t.max(end)));
        }
        s.first = first.map(|t| crate::model::time::format_time(&t));
        s.last = last.map(|t| crate::model::time::format_time(&t));
        Ok(s)
    }

    fn query(
        &self,
        layer: Layer,
        query: &Query,
        visit: &mut dyn FnMut(Feature) -> Result<()>,
    ) -> Result<u64> {
        query.validate()?;
        let state = self.snapshot();
        let mut n = 0;
        for row in state.layer(layer).into_iter().flat_map(|l| l.rows.values()) {
            if matches(layer, &row.feature, query) {
                visit(row.feature.clone())?;
                n += 1;
            }
        }
        Ok(n)
    }

    fn get(&self, layer: Layer, id: &str) -> Result<Option<Feature>> {
        let state = self.snapshot();
        Ok(state
            .layer(layer)
            .and_then(|l| l.ids.get(id).and_then(|k| l.rows.get(k)))
            .map(|r| r.feature.clone()))
    }

    fn walk(
        &self,
        layer: Layer,
        query: &Query,
        from: Bound<&str>,
        direction: Direction,
        visit: &mut dyn FnMut(Feature) -> Result<ControlFlow<()>>,
    ) -> Result<u64> {
        query.validate()?;
        let state = self.snapshot();
        let Some(data) = state.layer(layer) else {
            return Ok(0);
        };
        let ids: Box<dyn Iterator<Item = (&String, &i64)>> = match direction {
            Direction::Ascending => Box::new(data.ids.iter()),
            Direction::Descending => Box::new(data.ids.iter().rev()),
        };
        let mut n = 0;
        // Skipping to the start walks the ids before it: this backend is
        // for tests (see the module documentation).
        for (_, key) in ids.filter(|(id, _)| in_range(id, from, direction)) {
            let f = &data.rows[key].feature;
            if !matches(layer, f, query) {
                continue;
            }
            n += 1;
            if visit(f.clone())?.is_break() {
                break;
            }
        }
        Ok(n)
    }

    fn data_version(&self) -> Result<u64> {
        Ok(self.snapshot().version)
    }

    fn data_version_now(&self) -> Option<Result<u64>> {
        Some(self.data_version())
    }
}

impl FeatureSink for MemoryStore {
    fn begin(&self) -> Result<Box<dyn Batch + '_>> {
        let writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let work = (*self.snapshot()).clone();
        Ok(Box::new(MemoryBatch {
            store: self,
            _writer: writer,
            work,
            inserts: 0,
            upserts: 0,
            author: LOCAL_AUTHOR.to_string(),
            source: None,
        }))
    }
}

/// A batch: a private copy of the store, swapped in on commit.
struct MemoryBatch<'a> {
    store: &'a MemoryStore,
    _writer: MutexGuard<'a, ()>,
    work: State,
    /// Upserts that added a row (the others replaced one).
    inserts: u64,
    upserts: u64,
    author: String,
    source: Option<String>,
}

impl Batch for MemoryBatch<'_> {
    fn get(&mut self, layer: Layer, id: &str) -> Result<Option<Feature>> {
        let data = self.work.layer_mut(layer);
        Ok(data
            .ids
            .get(id)
            .and_then(|k| data.rows.get(k))
            .map(|r| r.feature.clone()))
    }

    fn set_author(&mut self, author: &str) {
        self.author = author.to_string();
    }

    fn set_source(&mut self, source: &str) {
        self.source = Some(source.to_string());
    }

    fn delete(&mut self, layer: Layer, selection: &Selection) -> Result<Vec<String>> {
        let data = self.work.layer_mut(layer);
        let mut keys: Vec<i64> = match selection {
            Selection::Ids(ids) => {
                let missing: Vec<&str> = ids
                    .iter()
                    .filter(|id| !data.ids.contains_key(id.as_str()))
                    .map(String::as_str)
                    .collect();
                if !missing.is_empty() {
                    return Err(StoreError::BadQuery(format!(
                        "{layer}: no feature with id {}; nothing deleted",
                        missing.join(", ")
                    )));
                }
                ids.iter().map(|id| data.ids[id.as_str()]).collect()
            }
            Selection::Source(source) => data
                .rows
                .iter()
                .filter(|(_, r)| r.source == *source)
                .map(|(k, _)| *k)
                .collect(),
            Selection::Before(t) => {
                let t = millis(*t);
                data.rows
                    .iter()
                    .filter(|(_, r)| {
                        let f = &r.feature;
                        match f.time.end {
                            Some(end) => end < t,
                            None => !layer.open_ended() && f.time.start < t,
                        }
                    })
                    .map(|(k, _)| *k)
                    .collect()
            }
        };
        keys.sort_unstable();
        keys.dedup();
        let mut ids = Vec::with_capacity(keys.len());
        for k in keys {
            if let Some(row) = data.rows.remove(&k) {
                data.ids.remove(&row.feature.id);
                ids.push(row.feature.id);
            }
        }
        Ok(ids)
    }

    fn inspect(
        &mut self,
        layer: Layer,
        visit: &mut dyn FnMut(StoredRow) -> Result<()>,
    ) -> Result<u64> {
        let rows: Vec<(i64, Row)> = self
            .work
            .layer(layer)
            .into_iter()
            .flat_map(|l| l.rows.iter().map(|(k, r)| (*k, r.clone())))
            .collect();
        let n = rows.len() as u64;
        for (key, row) in rows {
            visit(StoredRow {
                key,
                id: row.feature.id.clone(),
                source: Some(row.source),
                feature: Ok(row.feature),
            })?;
        }
        Ok(n)
    }

    fn quarantine(&mut self, layer: Layer, key: i64, _reasons: &str) -> Result<()> {
        let data = self.work.layer_mut(layer);
        let row = data
            .rows
            .remove(&key)
            .ok_or_else(|| StoreError::BadQuery(format!("{layer}: no row {key} to quarantine")))?;
        data.ids.remove(&row.feature.id);
        self.work.quarantine.push(Aside { layer, key, row });
        Ok(())
    }

    fn restore(&mut self, layer: Layer, id: &str) -> Result<u64> {
        // The most recently quarantined row with the id.
        let Some(at) = self
            .work
            .quarantine
            .iter()
            .rposition(|a| a.layer == layer && a.row.feature.id == id)
        else {
            return Ok(0);
        };
        if self.work.layer_mut(layer).ids.contains_key(id) {
            return Err(StoreError::BadQuery(format!(
                "{layer}: {id:?} is stored again since it was quarantined; delete it first \
                 (`jointmap delete {layer} --id {id}`) to restore the quarantined version"
            )));
        }
        let aside = self.work.quarantine.remove(at);
        let data = self.work.layer_mut(layer);
        data.ids.insert(aside.row.feature.id.clone(), aside.key);
        data.rows.insert(aside.key, aside.row);
        Ok(1)
    }

    fn sources(&mut self, layer: Layer) -> Result<Vec<(Option<String>, u64)>> {
        let mut counts: BTreeMap<String, u64> = BTreeMap::new();
        for row in self
            .work
            .layer(layer)
            .into_iter()
            .flat_map(|l| l.rows.values())
        {
            *counts.entry(row.source.clone()).or_default() += 1;
        }
        Ok(counts.into_iter().map(|(s, n)| (Some(s), n)).collect())
    }

    fn upsert(&mut self, layer: Layer, feature: &Feature) -> Result<()> {
        let row = Row {
            feature: as_stored(layer, feature),
            source: self.source.clone().unwrap_or_else(|| self.author.clone()),
        };
        let data = self.work.layer_mut(layer);
        let key = match data.ids.get(&feature.id) {
            Some(k) => *k,
            None => {
                data.last_key += 1;
                data.ids.insert(feature.id.clone(), data.last_key);
                self.inserts += 1;
                data.last_key
            }
        };
        data.rows.insert(key, row);
        self.upserts += 1;
        Ok(())
    }

    fn commit(mut self: Box<Self>) -> Result<BatchStats> {
        let inserted = self.inserts;
        let mut committed = self
            .store
            .committed
            .write()
            .unwrap_or_else(|p| p.into_inner());
        self.work.version = committed.version + 1;
        *committed = Arc::new(std::mem::take(&mut self.work));
        Ok(BatchStats {
            inserted,
            updated: self.upserts.saturating_sub(inserted),
        })
    }
}
