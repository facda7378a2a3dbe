//! The write side: a batch is one transaction on one pooled connection.
//!
//! Upserts are collected per layer as binary COPY tuples (encoded on ingest's validation
//! workers, `copy.rs`) and written in bulk. Into a layer that was empty at the batch's first
//! write, for as long as the batch only adds new ids, rows are copied without a staging
//! table: once more than a COPY's worth of them come, into a fresh table that takes the
//! layer's place at the commit with its indexes built in bulk (`fresh.rs`), before that
//! straight into the layer. Otherwise: COPY into a temporary staging table (dropped at commit), then, in two statements,
//! the versions they replace copied into the layer's history and
//! `INSERT ... ON CONFLICT (id) DO UPDATE`. A new id takes the next `fid` (storage order); a
//! replacement keeps its row; an identical version (every column but the source the same)
//! writes nothing and adds no history. Anything else the batch does (get, delete, inspect,
//! ...) first writes what is staged, so it sees the batch's own writes.
//! `begin` locks the data version's row: one batch at a time across every process on the
//! database; `commit` advances it and notifies the channel `jointmap` in the same transaction.

use super::copy::{self, id_hash, PgRow};
use super::fresh::{self, Fresh};
use super::read::{decode, get_on, select};
use super::{column_list, columns, millis, pool::Conn, PgError, PgStore};
use crate::model::{Feature, Layer};
use crate::store::{
    Batch, BatchStats, FeatureSink, Prepared, Ready, Result, Selection, StoreError, StoredRow,
    LOCAL_AUTHOR,
};
use chrono::Utc;
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::ToSql;
use rustc_hash::FxHashSet;

/// Upserts staged per layer before they are written.
pub(super) const STAGE_ROWS: usize = 8192;

/// The ids a fresh-table load makes room for at its start (about 18 MB).
const FRESH_IDS: usize = 1 << 20;

const N_LAYERS: usize = Layer::ALL.len();

fn slot(layer: Layer) -> usize {
    Layer::ALL.iter().position(|l| *l == layer).unwrap_or(0)
}

/// How a batch writes a layer.
#[derive(Debug, Default)]
enum Mode<'a> {
    /// Not written yet by this batch.
    #[default]
    Unknown,
    /// The layer was empty at the batch's first write and has taken only new ids since,
    /// fewer than a COPY's worth at first: rows are copied straight into it.
    Bulk,
    /// As `Bulk`, once a full COPY's worth came first: rows are copied into a fresh table
    /// that takes the layer's place at the commit.
    Fresh(Box<Fresh<'a>>),
    /// Through the staging table: history, then `INSERT ... ON CONFLICT`.
    Upsert,
}

/// A layer's upserts waiting for the next COPY.
#[derive(Debug, Default)]
struct Lane<'a> {
    mode: Mode<'a>,
    /// Whole binary COPY tuples (`PgRow::tuple`).
    tuples: Vec<u8>,
    rows: usize,
    /// Rows this batch copied for the layer in `Bulk` or `Fresh` mode.
    copied: usize,
    /// Hashes of the staged ids (`Upsert`), or of every id the bulk load wrote (`Bulk`, `Fresh`):
    /// an id seen again is written after what came before it.
    ids: FxHashSet<u64>,
    /// Whether this batch's staging table for the layer exists.
    stage_made: bool,
}

/// `a` and `b` (table aliases) differ in any column but the source.
fn differs(layer: Layer, a: &str, b: &str) -> String {
    let row = |t: &str| {
        columns(layer)
            .iter()
            .filter(|c| **c != "jointmap_source")
            .map(|c| match *c {
                "geom" => format!("ST_AsBinary({t}.geom, 'NDR')"),
                "extra" => format!("{t}.extra::text"),
                c => format!("{t}.\"{c}\""),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!("({}) IS DISTINCT FROM ({})", row(a), row(b))
}

pub(super) struct PgBatch<'a> {
    store: &'a PgStore,
    conn: Option<Conn<'a>>,
    lanes: [Lane<'a>; N_LAYERS],
    /// A fresh table was committed apart (see `fresh`) and the batch has not committed:
    /// if it never does, that table is an orphan, swept when the batch is dropped.
    apart: bool,
    author: String,
    source: Option<String>,
    upserts: u64,
    inserted: u64,
}

impl FeatureSink for PgStore {
    fn begin(&self) -> Result<Box<dyn crate::store::Batch + '_>> {
        let mut conn = self.pool.get().map_err(|e| self.err(e))?;
        let started = conn.batch_execute("BEGIN").and_then(|()| {
            conn.query_one(
                "SELECT value FROM jointmap_meta WHERE key = 'data_version' FOR UPDATE",
                &[],
            )
        });
        if let Err(e) = started {
            conn.discard();
            return Err(self.err(e));
        }
        Ok(Box::new(PgBatch {
            store: self,
            conn: Some(conn),
            lanes: Default::default(),
            apart: false,
            author: LOCAL_AUTHOR.to_string(),
            source: None,
            upserts: 0,
            inserted: 0,
        }))
    }

    /// Encodes the COPY row on the caller's thread; a feature that cannot be encoded is
    /// left as it is, for the batch to report.
    fn prepare(&self, layer: Layer, feature: Feature) -> Prepared {
        match PgRow::encode(layer, &feature) {
            Ok(row) => Prepared(Ready::Pg(row)),
            Err(_) => Prepared(Ready::Feature(feature)),
        }
    }

    /// As `prepare`, straight from the validated parts.
    fn prepare_parts(&self, parts: crate::model::Parts) -> Prepared {
        match PgRow::from_parts(&parts) {
            Ok(row) => Prepared(Ready::Pg(row)),
            Err(_) => Prepared(Ready::Feature(Feature::from(parts))),
        }
    }
}

impl<'a> PgBatch<'a> {
    fn conn(&mut self) -> Result<&mut Conn<'a>> {
        self.conn
            .as_mut()
            .ok_or_else(|| StoreError::Aborted("batch already finished".into()))
    }

    fn err(&self, e: impl Into<PgError>) -> StoreError {
        self.store.err(e)
    }

    /// Writes what is staged for every layer and ends every bulk load: what follows may
    /// read or change the layers in any way. `last`: the commit follows, and a fresh table
    /// takes its layer's place; otherwise its rows move into the layer.
    fn settle_all(&mut self, last: bool) -> Result<()> {
        for layer in Layer::ALL {
            self.settle(layer, last)?;
        }
        Ok(())
    }

    /// Writes what is staged for `layer`; a bulk load into it ends (see `settle_all`).
    fn settle(&mut self, layer: Layer, last: bool) -> Result<()> {
        self.flush(layer)?;
        let lane = &mut self.lanes[slot(layer)];
        if matches!(lane.mode, Mode::Unknown | Mode::Upsert) {
            return Ok(());
        }
        lane.ids.clear();
        if let Mode::Fresh(f) = std::mem::replace(&mut lane.mode, Mode::Upsert) {
            self.apart |= f.load.is_some();
            let conn = self
                .conn
                .as_mut()
                .ok_or_else(|| StoreError::Aborted("batch already finished".into()))?;
            let done = if last {
                fresh::swap(conn, layer, *f)
            } else {
                fresh::merge(conn, layer, *f)
            };
            done.map_err(|e| self.store.err(e))?;
        }
        Ok(())
    }

    /// Stages `row` for `layer`, writing what is staged first when it holds the same id or
    /// is full. The first write into a layer decides how the batch writes it.
    fn push(&mut self, layer: Layer, row: &PgRow) -> Result<()> {
        let i = slot(layer);
        if matches!(self.lanes[i].mode, Mode::Unknown) {
            let conn = self
                .conn
                .as_mut()
                .ok_or_else(|| StoreError::Aborted("batch already finished".into()))?;
            // The data version's row lock keeps every other writer out until the commit.
            let empty = copy::is_empty(conn, layer).map_err(|e| self.store.err(e))?;
            self.lanes[i].mode = if empty { Mode::Bulk } else { Mode::Upsert };
        }
        let h = row.id_hash;
        // One probe of the set for most rows: `new` is whether the id is new to it.
        let new = self.lanes[i].ids.insert(h);
        let lane = &self.lanes[i];
        let written = match lane.mode {
            // A bulk load takes each id once; one seen again is upserted over it.
            Mode::Bulk | Mode::Fresh(_) if !new => {
                self.settle(layer, false)?;
                true
            }
            // A full COPY's worth before anything else: a large load, into a fresh table.
            Mode::Bulk if lane.rows >= STAGE_ROWS && lane.copied == 0 => {
                self.go_fresh(layer)?;
                self.flush(layer)?;
                true
            }
            _ if !new || lane.rows >= STAGE_ROWS => {
                self.flush(layer)?;
                true
            }
            _ => false,
        };
        let source = self.source.as_deref().unwrap_or(&self.author);
        let lane = &mut self.lanes[i];
        let seq = match lane.mode {
            Mode::Bulk | Mode::Fresh(_) => None,
            _ => Some(lane.rows as i64),
        };
        row.tuple(layer, source, seq, &mut lane.tuples)
            .map_err(|e| self.store.err(e))?;
        lane.rows += 1;
        if written {
            // What was written may have taken the set's ids with it.
            lane.ids.insert(h);
        }
        self.upserts += 1;
        Ok(())
    }

    /// Loads `layer` through a fresh table from now on, when its table allows (`fresh::plan`).
    fn go_fresh(&mut self, layer: Layer) -> Result<()> {
        let pool = &self.store.pool;
        let conn = self
            .conn
            .as_mut()
            .ok_or_else(|| StoreError::Aborted("batch already finished".into()))?;
        let planned = (|| -> std::result::Result<Option<Fresh<'a>>, PgError> {
            let Some(mut f) = fresh::plan(conn, layer)? else {
                return Ok(None);
            };
            fresh::create(conn, pool, layer, &mut f)?;
            Ok(Some(f))
        })()
        .map_err(|e| self.store.err(e))?;
        if let Some(f) = planned {
            let lane = &mut self.lanes[slot(layer)];
            lane.mode = Mode::Fresh(Box::new(f));
            // A large load: room for a million ids at once rather than a rehash of every
            // id seen at each doubling.
            lane.ids.reserve(FRESH_IDS.saturating_sub(lane.ids.len()));
        }
        Ok(())
    }

    /// Writes what is staged for `layer`: straight into it or its fresh table (a bulk
    /// load), or COPY into the staging table, history, upsert.
    fn flush(&mut self, layer: Layer) -> Result<()> {
        let i = slot(layer);
        let lane = &mut self.lanes[i];
        if lane.rows == 0 {
            return Ok(());
        }
        let tuples = std::mem::take(&mut lane.tuples);
        let rows = std::mem::take(&mut lane.rows);
        let target = match &lane.mode {
            Mode::Bulk => Some(layer.name().to_string()),
            Mode::Fresh(f) => Some(f.table.clone()),
            _ => None,
        };
        let bulk = target.is_some();
        if bulk {
            lane.copied += rows;
        } else {
            lane.ids.clear();
        }
        let made = lane.stage_made;
        lane.stage_made |= !bulk;
        // A fresh table's rows stream on the load's own connection when it has one.
        if let Mode::Fresh(f) = &mut self.lanes[i].mode {
            if f.load.is_some() {
                let spare = f
                    .send(&column_list(layer, None), tuples)
                    .map_err(|e| self.store.err(e))?;
                self.lanes[i].tuples = spare;
                self.inserted += rows as u64;
                return Ok(());
            }
        }
        let at = millis(Utc::now());
        let author = self.author.clone();
        let result = (|| -> std::result::Result<u64, PgError> {
            let conn = self
                .conn
                .as_mut()
                .ok_or_else(|| PgError::Value("batch already finished".into()))?;
            let name = layer.name();
            let cols = column_list(layer, None);
            if let Some(target) = &target {
                copy::copy(conn, target, &cols, &tuples)?;
                return Ok(rows as u64);
            }
            let stage = format!("jm_stage_{name}");
            if made {
                conn.batch_execute(&format!("TRUNCATE {stage}"))?;
            } else {
                conn.batch_execute(&format!(
                    "CREATE TEMP TABLE {stage} ON COMMIT DROP AS SELECT {cols} FROM {name} \
                     WITH NO DATA; ALTER TABLE {stage} ADD COLUMN seq bigint"
                ))?;
            }
            copy::copy(conn, &stage, &format!("{cols}, seq"), &tuples)?;
            conn.execute(
                &format!(
                    "INSERT INTO jointmap_history_{name} (fid, {cols}, change, changed_at, \
                     changed_by)
                     SELECT l.fid, {}, 'replaced', $1, $2 FROM {name} l JOIN {stage} s
                     ON s.id = l.id WHERE {}",
                    column_list(layer, Some("l")),
                    differs(layer, "l", "s")
                ),
                &[&at, &author],
            )?;
            let sets: Vec<String> = columns(layer)
                .iter()
                .filter(|c| **c != "id")
                .map(|c| format!("\"{c}\" = EXCLUDED.\"{c}\""))
                .collect();
            let fresh: i64 = conn
                .query_one(
                    &format!(
                        "WITH up AS (INSERT INTO {name} ({cols}) SELECT {cols} FROM {stage}
                           ORDER BY seq
                         ON CONFLICT (id) DO UPDATE SET {} WHERE {}
                         RETURNING (xmax = 0) AS fresh)
                         SELECT count(*) FILTER (WHERE fresh) FROM up",
                        sets.join(", "),
                        differs(layer, name, "EXCLUDED")
                    ),
                    &[],
                )?
                .get(0);
            Ok(fresh as u64)
        })();
        // The buffer kept for the next rows: growing a fresh one each time costs page faults.
        let lane = &mut self.lanes[i];
        if lane.tuples.is_empty() {
            lane.tuples = tuples;
            lane.tuples.clear();
        }
        match result {
            Ok(fresh) => {
                self.inserted += fresh;
                Ok(())
            }
            Err(e) => Err(self.err(e)),
        }
    }

    /// The rows of `layer` `cond` selects (placeholders from `$3`) moved into its history as
    /// deleted; their ids in storage order.
    fn delete_where(
        &mut self,
        layer: Layer,
        cond: &str,
        param: &(dyn ToSql + Sync),
    ) -> Result<Vec<String>> {
        let at = millis(Utc::now());
        let author = self.author.clone();
        let name = layer.name();
        let sql = format!(
            "WITH gone AS (DELETE FROM {name} WHERE {cond} RETURNING *),
                  kept AS (INSERT INTO jointmap_history_{name}
                           SELECT gone.*, 'deleted', $1, $2 FROM gone)
             SELECT id FROM gone ORDER BY fid"
        );
        let rows = self
            .conn()?
            .query(&sql, &[&at, &author, param])
            .map_err(|e| self.err(e))?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }
}

impl Batch for PgBatch<'_> {
    fn get(&mut self, layer: Layer, id: &str) -> Result<Option<Feature>> {
        // Only a staged row with this id changes the answer: flushing for
        // every lookup (the server's write check asks for each feature)
        // would cost a COPY per feature.
        let lane = &self.lanes[slot(layer)];
        if lane.ids.contains(&id_hash(id)) {
            if matches!(lane.mode, Mode::Fresh(_)) {
                // Its rows are in the fresh table, which the lookup does not read.
                self.settle(layer, false)?;
            } else {
                self.flush(layer)?;
            }
        }
        let store = self.store;
        get_on(store, &mut **self.conn()?, layer, id)
    }

    fn set_author(&mut self, author: &str) {
        self.author = author.to_string();
    }

    fn set_source(&mut self, source: &str) {
        self.source = Some(source.to_string());
    }

    fn delete(&mut self, layer: Layer, selection: &Selection) -> Result<Vec<String>> {
        self.settle_all(false)?;
        match selection {
            Selection::Ids(ids) => {
                let mut ids = ids.clone();
                ids.sort();
                ids.dedup();
                let missing: Vec<String> = self
                    .conn()?
                    .query(
                        &format!(
                            "SELECT x FROM unnest($1::text[]) x WHERE NOT EXISTS \
                             (SELECT 1 FROM {} WHERE id = x) ORDER BY x",
                            layer.name()
                        ),
                        &[&ids],
                    )
                    .map_err(|e| self.err(e))?
                    .iter()
                    .map(|r| r.get(0))
                    .collect();
                if !missing.is_empty() {
                    return Err(StoreError::BadQuery(format!(
                        "{layer}: no feature with id {}; nothing deleted",
                        missing.join(", ")
                    )));
                }
                self.delete_where(layer, "id = ANY($3::text[])", &ids)
            }
            Selection::Source(source) => {
                self.delete_where(layer, "jointmap_source = $3::text", source)
            }
            Selection::Before(t) => {
                let cond = if layer.open_ended() {
                    "time_end < $3::timestamptz"
                } else {
                    "COALESCE(time_end, time_start) < $3::timestamptz"
                };
                self.delete_where(layer, cond, &millis(*t))
            }
        }
    }

    fn inspect(
        &mut self,
        layer: Layer,
        visit: &mut dyn FnMut(StoredRow) -> Result<()>,
    ) -> Result<u64> {
        self.settle_all(false)?;
        let store = self.store;
        let conn = self.conn()?;
        let mut rows = conn
            .query_raw(
                &format!("{} ORDER BY fid", select(layer)),
                std::iter::empty::<&(dyn ToSql + Sync)>(),
            )
            .map_err(|e| store.err(e))?;
        let mut n = 0;
        while let Some(row) = rows.next().map_err(|e| store.err(e))? {
            n += 1;
            visit(StoredRow {
                key: row.get(0),
                source: row.get(1),
                id: row
                    .try_get::<_, String>(3)
                    .unwrap_or_else(|_| "(unreadable)".into()),
                feature: decode(layer, &row),
            })?;
        }
        Ok(n)
    }

    fn quarantine(&mut self, layer: Layer, key: i64, reasons: &str) -> Result<()> {
        self.settle_all(false)?;
        let at = millis(Utc::now());
        let author = self.author.clone();
        let name = layer.name();
        let moved = self
            .conn()?
            .execute(
                &format!(
                    "WITH m AS (DELETE FROM {name} WHERE fid = $1 RETURNING *)
                     INSERT INTO jointmap_quarantine_{name} SELECT m.*, $2, $3, $4 FROM m"
                ),
                &[&key, &reasons, &at, &author],
            )
            .map_err(|e| self.err(e))?;
        if moved == 0 {
            return Err(StoreError::BadQuery(format!(
                "{layer}: no row {key} to quarantine"
            )));
        }
        Ok(())
    }

    fn restore(&mut self, layer: Layer, id: &str) -> Result<u64> {
        self.settle_all(false)?;
        let name = layer.name();
        let cols = column_list(layer, None);
        let store = self.store;
        let conn = self.conn()?;
        let run = |conn: &mut Conn<'_>| -> std::result::Result<Option<bool>, PgError> {
            let Some(seq) = conn.query_opt(
                &format!(
                    "SELECT seq FROM jointmap_quarantine_{name} WHERE id = $1 \
                     ORDER BY seq DESC LIMIT 1"
                ),
                &[&id],
            )?
            else {
                return Ok(None);
            };
            let seq: i64 = seq.get(0);
            if conn
                .query_opt(&format!("SELECT 1 FROM {name} WHERE id = $1"), &[&id])?
                .is_some()
            {
                return Ok(Some(false));
            }
            conn.execute(
                &format!(
                    "INSERT INTO {name} (fid, {cols}) SELECT fid, {cols} \
                     FROM jointmap_quarantine_{name} WHERE seq = $1"
                ),
                &[&seq],
            )?;
            conn.execute(
                &format!("DELETE FROM jointmap_quarantine_{name} WHERE seq = $1"),
                &[&seq],
            )?;
            Ok(Some(true))
        };
        match run(conn).map_err(|e| store.err(e))? {
            None => Ok(0),
            Some(true) => Ok(1),
            Some(false) => Err(StoreError::BadQuery(format!(
                "{layer}: {id:?} is stored again since it was quarantined; delete it first \
                 (`jointmap delete {layer} --id {id}`) to restore the quarantined version"
            ))),
        }
    }

    fn sources(&mut self, layer: Layer) -> Result<Vec<(Option<String>, u64)>> {
        self.settle_all(false)?;
        let rows = self
            .conn()?
            .query(
                &format!(
                    "SELECT jointmap_source, count(*) FROM {} GROUP BY 1 ORDER BY 1 NULLS FIRST",
                    layer.name()
                ),
                &[],
            )
            .map_err(|e| self.err(e))?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), r.get::<_, i64>(1) as u64))
            .collect())
    }

    fn upsert(&mut self, layer: Layer, f: &Feature) -> Result<()> {
        let row = PgRow::encode(layer, f).map_err(|e| self.err(e))?;
        self.push(layer, &row)
    }

    fn upsert_prepared(&mut self, layer: Layer, items: &[Prepared]) -> Result<()> {
        for item in items {
            match &item.0 {
                Ready::Pg(row) => self.push(layer, row)?,
                // Not prepared by this store: encoded here.
                Ready::Feature(f) => self.upsert(layer, f)?,
                Ready::Row(_) => {
                    return Err(StoreError::Aborted(
                        "a feature prepared by another kind of store".into(),
                    ))
                }
            }
        }
        Ok(())
    }

    fn commit(mut self: Box<Self>) -> Result<BatchStats> {
        self.settle_all(true)?;
        let schema = self.store.pool.schema().to_string();
        let mut conn = self
            .conn
            .take()
            .ok_or_else(|| StoreError::Aborted("batch already finished".into()))?;
        let run = |conn: &mut Conn<'_>| -> std::result::Result<(), PgError> {
            let v: i64 = conn
                .query_one(
                    "UPDATE jointmap_meta SET value = value + 1 WHERE key = 'data_version' \
                     RETURNING value",
                    &[],
                )?
                .get(0);
            // Servers sharing the database hear of the new version at once.
            conn.execute(
                "SELECT pg_notify($1, $2)",
                &[&super::listen::CHANNEL, &format!("{schema} {v}")],
            )?;
            conn.batch_execute("COMMIT")?;
            Ok(())
        };
        if let Err(e) = run(&mut conn) {
            conn.discard();
            return Err(self.store.err(e));
        }
        self.apart = false;
        Ok(BatchStats {
            inserted: self.inserted,
            updated: self.upserts - self.inserted,
        })
    }
}

impl Drop for PgBatch<'_> {
    fn drop(&mut self) {
        // A load's own transaction, not committed: rolled back, its table with it.
        for lane in &mut self.lanes {
            if let Mode::Fresh(f) = &mut lane.mode {
                f.abandon();
            }
        }
        if let Some(mut conn) = self.conn.take() {
            // Not committed: discard everything this batch wrote.
            if conn.batch_execute("ROLLBACK").is_err() {
                conn.discard();
            }
        }
        // A fresh table committed apart for a batch that failed: dropped now rather than
        // at the next open (best effort: `sweep` leaves it while any batch runs).
        if self.apart {
            if let Some(mut conn) = self.store.pool.try_get() {
                let _ = fresh::sweep(&mut conn, self.store.pool.schema());
            }
        }
    }
}
