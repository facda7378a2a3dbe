//! The read side: summary, `query` (bbox on the GiST index, time filters in SQL), `get` (the
//! unique index on `id`), `walk` (keyset rounds on that index inside one snapshot).
//!
//! A bbox is pushed down as `geom && envelope`, which uses the GiST index but compares
//! single-precision boxes (rounded outwards); the exact test every backend applies
//! (`touches`) then runs on each decoded feature, so the result is the GeoPackage's.

use super::{decode_wkb, millis, PgError, PgStore};
use crate::model::schema::FieldKind;
use crate::model::{Feature, Layer, Level, Owner, TimeSpan};
use crate::store::{
    gpkg::touches, Direction, FeatureSource, LayerSummary, Query, Result, StoreError, Watched,
};
use chrono::{DateTime, Utc};
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::ToSql;
use postgres::Row;
use serde_json::{Map, Value};
use std::ops::{Bound, ControlFlow};

/// Rows a `walk` reads per round.
const WALK_ROUND: i64 = 512;

/// `SELECT` of every column a feature is read from, in the order [`decode`] reads them.
pub(super) fn select(layer: Layer) -> String {
    let fields: String = layer
        .fields()
        .iter()
        .map(|f| format!(", \"{}\"", f.name))
        .collect();
    format!(
        "SELECT fid, jointmap_source, ST_AsBinary(geom, 'NDR'), id, time_start, time_end, owner, \
         classification{fields}, extra::text FROM {}",
        layer.name()
    )
}

/// The feature in a row of [`select`], or why it cannot be read as one.
pub(super) fn decode(layer: Layer, row: &Row) -> std::result::Result<Feature, String> {
    let get_err = |e: postgres::Error| e.to_string();
    let wkb: Vec<u8> = row.try_get(2).map_err(get_err)?;
    let geometry = decode_wkb(&wkb)?;
    let id: String = row.try_get(3).map_err(get_err)?;
    let start: DateTime<Utc> = row.try_get(4).map_err(get_err)?;
    let end: Option<DateTime<Utc>> = row.try_get(5).map_err(get_err)?;
    let owner: String = row.try_get(6).map_err(get_err)?;
    let level: String = row.try_get(7).map_err(get_err)?;
    let owner = owner
        .parse::<Owner>()
        .map_err(|_| format!("bad owner {owner:?}"))?;
    let level = level
        .parse::<Level>()
        .map_err(|_| format!("bad classification {level:?}"))?;
    let mut properties = Map::new();
    let fields = layer.fields();
    for (i, f) in fields.iter().enumerate() {
        let at = 8 + i;
        let value = match f.kind {
            FieldKind::Count | FieldKind::IntRange(..) => row
                .try_get::<_, Option<i64>>(at)
                .map_err(get_err)?
                .map(Value::from),
            FieldKind::PositiveReal | FieldKind::Fraction => row
                .try_get::<_, Option<f64>>(at)
                .map_err(get_err)?
                .map(Value::from),
            FieldKind::TimeList => row
                .try_get::<_, Option<String>>(at)
                .map_err(get_err)?
                .map(|s| serde_json::from_str(&s).map_err(|e| format!("{}: {e}", f.name)))
                .transpose()?,
            FieldKind::Text | FieldKind::Enum(_) => row
                .try_get::<_, Option<String>>(at)
                .map_err(get_err)?
                .map(Value::String),
        };
        if let Some(v) = value {
            properties.insert(f.name.to_string(), v);
        }
    }
    let extra: Option<String> = row.try_get(8 + fields.len()).map_err(get_err)?;
    if let Some(extra) = extra {
        match serde_json::from_str::<Value>(&extra) {
            Ok(Value::Object(m)) => properties.extend(m),
            _ => return Err("extra is not a JSON object".into()),
        }
    }
    Ok(Feature {
        id,
        geometry,
        time: TimeSpan { start, end },
        owner,
        level,
        properties,
    })
}

/// The query's filters as SQL conditions (each starting with ` AND`), their values appended
/// to `params`; the first placeholder is `$first`.
fn filters(
    layer: Layer,
    q: &Query,
    first: usize,
    params: &mut Vec<Box<dyn ToSql + Sync>>,
) -> String {
    let mut sql = String::new();
    let mut next = first;
    let mut param = |v: Box<dyn ToSql + Sync>, params: &mut Vec<_>| {
        params.push(v);
        next += 1;
        format!("${}", next - 1)
    };
    if let Some(b) = q.bbox {
        let boxes: Vec<[f64; 4]> = if b[0] > b[2] {
            vec![[b[0], b[1], 180.0, b[3]], [-180.0, b[1], b[2], b[3]]]
        } else {
            vec![b]
        };
        let parts: Vec<String> = boxes
            .iter()
            .map(|r| {
                let p: Vec<String> = r.iter().map(|v| param(Box::new(*v), params)).collect();
                format!(
                    "geom && ST_MakeEnvelope({}::float8, {}::float8, {}::float8, {}::float8, 4326)",
                    p[0], p[1], p[2], p[3]
                )
            })
            .collect();
        sql.push_str(&format!(" AND ({})", parts.join(" OR ")));
    }
    if let Some(from) = q.from {
        let p = param(Box::new(millis(from)), params);
        if layer.open_ended() {
            sql.push_str(&format!(" AND (time_end IS NULL OR time_end >= {p})"));
        } else {
            sql.push_str(&format!(" AND COALESCE(time_end, time_start) >= {p}"));
        }
    }
    if let Some(to) = q.to {
        let p = param(Box::new(millis(to)), params);
        sql.push_str(&format!(" AND time_start <= {p}"));
    }
    sql
}

impl PgStore {
    /// A row of `select` as a feature, or the store's error naming it.
    fn feature(&self, layer: Layer, row: &Row) -> Result<Feature> {
        decode(layer, row).map_err(|reason| StoreError::Corrupt {
            location: self.location.clone(),
            layer,
            id: row
                .try_get::<_, String>(3)
                .unwrap_or_else(|_| "(unreadable)".into()),
            reason,
        })
    }

    /// Streams the rows of `sql` to `visit`, the features that pass the exact bbox test only.
    fn stream(
        &self,
        client: &mut impl postgres::GenericClient,
        layer: Layer,
        q: &Query,
        sql: &str,
        params: &[Box<dyn ToSql + Sync>],
        visit: &mut dyn FnMut(Feature) -> Result<()>,
    ) -> Result<u64> {
        let mut rows = client
            .query_raw(sql, params.iter().map(|p| &**p as &(dyn ToSql + Sync)))
            .map_err(|e| self.err(e))?;
        let mut visited = 0u64;
        while let Some(row) = rows.next().map_err(|e| self.err(e))? {
            let f = self.feature(layer, &row)?;
            if q.bbox.is_some_and(|b| !touches(&f.geometry, b)) {
                continue;
            }
            visited += 1;
            visit(f)?;
        }
        Ok(visited)
    }
}

impl FeatureSource for PgStore {
    fn summary(&self, layer: Layer) -> Result<LayerSummary> {
        let mut conn = self.pool.get().map_err(|e| self.err(e))?;
        // Exact double-precision extent from each geometry's box3d (ST_Extent is single).
        let row = conn
            .query_one(
                &format!(
                    "SELECT count(*), min(ST_XMin(geom::box3d)), min(ST_YMin(geom::box3d)),
                            max(ST_XMax(geom::box3d)), max(ST_YMax(geom::box3d)),
                            min(time_start), max(COALESCE(time_end, time_start))
                     FROM {}",
                    layer.name()
                ),
                &[],
            )
            .map_err(|e| self.err(e))?;
        let count: i64 = row.get(0);
        let b: [Option<f64>; 4] = [row.get(1), row.get(2), row.get(3), row.get(4)];
        let bbox = match b {
            [Some(a), Some(b), Some(c), Some(d)] => Some([a, b, c, d]),
            _ => None,
        };
        let time = |t: Option<DateTime<Utc>>| t.map(|t| crate::model::time::format_time(&t));
        Ok(LayerSummary {
            layer: layer.name().to_string(),
            count: count as u64,
            bbox,
            first: time(row.get(5)),
            last: time(row.get(6)),
        })
    }

    fn query(
        &self,
        layer: Layer,
        q: &Query,
        visit: &mut dyn FnMut(Feature) -> Result<()>,
    ) -> Result<u64> {
        q.validate()?;
        let mut params = Vec::new();
        let sql = format!(
            "{} WHERE true{} ORDER BY fid",
            select(layer),
            filters(layer, q, 1, &mut params)
        );
        let mut conn = self.pool.get().map_err(|e| self.err(e))?;
        self.stream(&mut *conn, layer, q, &sql, &params, visit)
    }

    fn get(&self, layer: Layer, id: &str) -> Result<Option<Feature>> {
        let mut conn = self.pool.get().map_err(|e| self.err(e))?;
        get_on(self, &mut *conn, layer, id)
    }

    fn walk(
        &self,
        layer: Layer,
        q: &Query,
        from: Bound<&str>,
        direction: Direction,
        visit: &mut dyn FnMut(Feature) -> Result<ControlFlow<()>>,
    ) -> Result<u64> {
        q.validate()?;
        let mut conn = self.pool.get().map_err(|e| self.err(e))?;
        // Every round on one snapshot.
        let mut tx = conn
            .build_transaction()
            .isolation_level(postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .map_err(|e| self.err(e))?;
        let (cmp, order) = match direction {
            Direction::Ascending => (">", "ASC"),
            Direction::Descending => ("<", "DESC"),
        };
        let mut position: Bound<String> = match from {
            Bound::Included(k) => Bound::Included(k.to_string()),
            Bound::Excluded(k) => Bound::Excluded(k.to_string()),
            Bound::Unbounded => Bound::Unbounded,
        };
        let mut visited = 0u64;
        loop {
            let mut params: Vec<Box<dyn ToSql + Sync>> = Vec::new();
            let start = match &position {
                Bound::Included(k) => {
                    params.push(Box::new(k.clone()));
                    format!(" AND id {cmp}= $1")
                }
                Bound::Excluded(k) => {
                    params.push(Box::new(k.clone()));
                    format!(" AND id {cmp} $1")
                }
                Bound::Unbounded => String::new(),
            };
            let first = params.len() + 1;
            let sql = format!(
                "{} WHERE true{start}{} ORDER BY id {order} LIMIT {WALK_ROUND}",
                select(layer),
                filters(layer, q, first, &mut params)
            );
            let mut last: Option<String> = None;
            let mut stop = false;
            // Rows the exact bbox test drops still move the position: read them by id.
            let mut rows = tx
                .query_raw(&sql, params.iter().map(|p| &**p as &(dyn ToSql + Sync)))
                .map_err(|e| self.err(e))?;
            let mut read = 0i64;
            while let Some(row) = rows.next().map_err(|e| self.err(e))? {
                read += 1;
                let f = self.feature(layer, &row)?;
                last = Some(f.id.clone());
                if q.bbox.is_some_and(|b| !touches(&f.geometry, b)) {
                    continue;
                }
                visited += 1;
                if visit(f)?.is_break() {
                    stop = true;
                    break;
                }
            }
            drop(rows);
            match last {
                Some(id) if !stop && read == WALK_ROUND => position = Bound::Excluded(id),
                _ => break,
            }
        }
        tx.commit().map_err(|e| self.err(e))?;
        Ok(visited)
    }

    fn data_version(&self) -> Result<u64> {
        let mut conn = self.pool.get().map_err(|e| self.err(e))?;
        data_version_on(&mut *conn).map_err(|e| self.err(e))
    }

    fn wait_for_change(&self, seen: u64, timeout: std::time::Duration) -> Result<Watched> {
        self.wait_listening(seen, timeout)
    }
}

/// The data version, as `client` sees it.
pub(super) fn data_version_on(client: &mut impl postgres::GenericClient) -> Result<u64, PgError> {
    let v: i64 = client
        .query_one(
            "SELECT value FROM jointmap_meta WHERE key = 'data_version'",
            &[],
        )?
        .get(0);
    Ok(v as u64)
}

/// The feature stored under `id`, as `client` sees it (a batch's own writes included).
pub(super) fn get_on(
    store: &PgStore,
    client: &mut impl postgres::GenericClient,
    layer: Layer,
    id: &str,
) -> Result<Option<Feature>> {
    let row = client
        .query_opt(&format!("{} WHERE id = $1", select(layer)), &[&id])
        .map_err(|e| store.err(e))?;
    row.map(|r| store.feature(layer, &r)).transpose()
}
