//! The write side: a batch is one transaction on one pooled connection.
//!
//! Upserts are collected per layer and written in bulk: binary COPY into a temporary staging
//! table (dropped at commit), then, in two statements, the versions they replace copied into
//! the layer's history and `INSERT ... ON CONFLICT (id) DO UPDATE`. A new id takes the next
//! `fid` (storage order); a replacement keeps its row; an identical version (every column but
//! the source the same) writes nothing and adds no history. Anything else the batch does
//! (get, delete, inspect, ...) first writes what is staged, so it sees the batch's own writes.
//! `begin` locks the data version's row: one batch at a time across every process on the
//! database; `commit` advances it and notifies the channel `jointmap` in the same transaction.

use super::read::{decode, get_on, select};
use super::{column_list, columns, millis, pool::Conn, Cell, Ewkb, PgError, PgStore};
use crate::model::schema::FieldKind;
use crate::model::{Feature, Layer};
use crate::store::{
    Batch, BatchStats, FeatureSink, Result, Selection, StoreError, StoredRow, LOCAL_AUTHOR,
};
use chrono::{DateTime, Utc};
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::ToSql;
use serde_json::{Map, Value};
use std::collections::HashSet;

/// Upserts staged per layer before they are written.
const STAGE_ROWS: usize = 8192;

const N_LAYERS: usize = Layer::ALL.len();

fn slot(layer: Layer) -> usize {
    Layer::ALL.iter().position(|l| *l == layer).unwrap_or(0)
}

/// One upsert, as its columns hold it.
struct Staged {
    id: String,
    geom: Ewkb,
    start: DateTime<Utc>,
    end: Option<DateTime<Utc>>,
    owner: &'static str,
    level: &'static str,
    cells: Vec<Cell>,
    extra: Option<Value>,
    source: String,
}

/// The feature's schema fields as their typed columns hold them, and its other properties.
fn cells(layer: Layer, f: &Feature) -> std::result::Result<(Vec<Cell>, Option<Value>), PgError> {
    let fields = layer.fields();
    let mut out = Vec::with_capacity(fields.len());
    for spec in fields {
        let bad = |what: &str| {
            PgError::Value(format!(
                "{layer}, feature {:?}: field `{}`: {what}",
                f.id, spec.name
            ))
        };
        out.push(match (f.properties.get(spec.name), spec.kind) {
            (None | Some(Value::Null), _) => Cell::Null,
            (Some(v), FieldKind::Count | FieldKind::IntRange(..)) => {
                Cell::Int(v.as_i64().ok_or_else(|| bad("not an integer"))?)
            }
            (Some(v), FieldKind::PositiveReal | FieldKind::Fraction) => {
                Cell::Real(v.as_f64().ok_or_else(|| bad("not a number"))?)
            }
            (Some(Value::String(s)), _) => Cell::Text(s.clone()),
            (Some(other), _) => Cell::Text(other.to_string()),
        });
    }
    let extra: Map<String, Value> = f
        .properties
        .iter()
        .filter(|(k, _)| !fields.iter().any(|s| s.name == k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    Ok((out, (!extra.is_empty()).then_some(Value::Object(extra))))
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
    staged: [Vec<Staged>; N_LAYERS],
    staged_ids: [HashSet<String>; N_LAYERS],
    stage_made: [bool; N_LAYERS],
    blob: Vec<u8>,
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
            staged: Default::default(),
            staged_ids: Default::default(),
            stage_made: [false; N_LAYERS],
            blob: Vec::with_capacity(256),
            author: LOCAL_AUTHOR.to_string(),
            source: None,
            upserts: 0,
            inserted: 0,
        }))
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

    /// Writes what is staged for every layer.
    fn flush_all(&mut self) -> Result<()> {
        for layer in Layer::ALL {
            self.flush(layer)?;
        }
        Ok(())
    }

    /// Writes what is staged for `layer`: COPY, history, upsert.
    fn flush(&mut self, layer: Layer) -> Result<()> {
        let i = slot(layer);
        if self.staged[i].is_empty() {
            return Ok(());
        }
        let rows = std::mem::take(&mut self.staged[i]);
        self.staged_ids[i].clear();
        let made = self.stage_made[i];
        self.stage_made[i] = true;
        let at = millis(Utc::now());
        let author = self.author.clone();
        let result = (|| -> std::result::Result<u64, PgError> {
            let conn = self
                .conn
                .as_mut()
                .ok_or_else(|| PgError::Value("batch already finished".into()))?;
            let name = layer.name();
            let stage = format!("jm_stage_{name}");
            let cols = column_list(layer, None);
            if made {
                conn.batch_execute(&format!("TRUNCATE {stage}"))?;
            } else {
                conn.batch_execute(&format!(
                    "CREATE TEMP TABLE {stage} ON COMMIT DROP AS SELECT {cols} FROM {name} \
                     WITH NO DATA; ALTER TABLE {stage} ADD COLUMN seq bigint"
                ))?;
            }
            let types: Vec<_> = conn
                .prepare(&format!("SELECT {cols}, seq FROM {stage}"))?
                .columns()
                .iter()
                .map(|c| c.type_().clone())
                .collect();
            let sink = conn.copy_in(&format!(
                "COPY {stage} ({cols}, seq) FROM STDIN (FORMAT binary)"
            ))?;
            let mut writer = BinaryCopyInWriter::new(sink, &types);
            for (seq, r) in rows.iter().enumerate() {
                let seq = seq as i64;
                let mut values: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(types.len());
                values.extend([
                    &r.id as &(dyn ToSql + Sync),
                    &r.geom,
                    &r.start,
                    &r.end,
                    &r.owner,
                    &r.level,
                ]);
                values.extend(r.cells.iter().map(|c| c as &(dyn ToSql + Sync)));
                values.extend([&r.extra as &(dyn ToSql + Sync), &r.source, &seq]);
                writer.write(&values)?;
            }
            writer.finish()?;
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
        if self.staged_ids[slot(layer)].contains(id) {
            self.flush(layer)?;
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
        self.flush_all()?;
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
        self.flush_all()?;
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
        self.flush_all()?;
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
        self.flush_all()?;
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
        self.flush_all()?;
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
        let i = slot(layer);
        // The same id twice among the staged rows: the first is written before the second.
        if self.staged_ids[i].contains(&f.id) || self.staged[i].len() >= STAGE_ROWS {
            self.flush(layer)?;
        }
        let (cells, extra) = cells(layer, f).map_err(|e| self.err(e))?;
        let geom = Ewkb::new(&f.geometry, &mut self.blob).map_err(|e| self.err(e))?;
        self.staged[i].push(Staged {
            id: f.id.clone(),
            geom,
            start: millis(f.time.start),
            end: f.time.end.map(millis),
            owner: f.owner.as_str(),
            level: f.level.as_str(),
            cells,
            extra,
            source: self.source.clone().unwrap_or_else(|| self.author.clone()),
        });
        self.staged_ids[i].insert(f.id.clone());
        self.upserts += 1;
        Ok(())
    }

    fn commit(mut self: Box<Self>) -> Result<BatchStats> {
        self.flush_all()?;
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
        Ok(BatchStats {
            inserted: self.inserted,
            updated: self.upserts - self.inserted,
        })
    }
}

impl Drop for PgBatch<'_> {
    fn drop(&mut self) {
        if let Some(mut conn) = self.conn.take() {
            // Not committed: discard everything this batch wrote.
            if conn.batch_execute("ROLLBACK").is_err() {
                conn.discard();
            }
        }
    }
}
