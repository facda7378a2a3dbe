//! Keyset paging in id order ([`FeatureSource::walk`]): each round reads
//! the next rows of the `id` column's unique index after the last id seen,
//! `LIMIT` a few (128, growing to 4,096 while the visitor keeps asking), so
//! a page deep in a large layer reads what the first page reads. A bbox
//! narrows the rows through the GeoPackage R-tree (`rtree_<layer>_geom`),
//! a time filter through the stored times; all rounds run in one read
//! transaction, so the walk sees one snapshot.
//!
//! [`FeatureSource::walk`]: crate::store::FeatureSource::walk

use super::{boxes, rtree, touches, GpkgStore};
use crate::model::Layer;
use crate::store::{Direction, Query, Result};
use rusqlite::types::Value as Sql;
use rusqlite::{params_from_iter, Connection};
use std::ops::{Bound, ControlFlow};

/// Rows read by the first round of a walk: a page of the server's default
/// size (100) in one round.
const FIRST_ROUND: usize = 128;
/// Rows read by a round at most.
const MAX_ROUND: usize = 4096;

impl GpkgStore {
    /// See [`crate::store::FeatureSource::walk`].
    pub(super) fn walk_ids(
        &self,
        layer: Layer,
        q: &Query,
        from: Bound<&str>,
        direction: Direction,
        visit: &mut dyn FnMut(crate::model::Feature) -> Result<ControlFlow<()>>,
    ) -> Result<u64> {
        q.validate()?;
        let mut filter_params = Vec::new();
        let mut filter = Self::time_clause(layer, q, &mut filter_params);
        if let Some(b) = q.bbox {
            // The R-tree holds envelopes rounded outwards to 32-bit floats:
            // a superset, narrowed exactly below.
            let parts: Vec<&str> = boxes(b)
                .iter()
                .map(|r| {
                    filter_params.extend([r[2], r[0], r[3], r[1]].map(Sql::Real));
                    "(minx <= ? AND maxx >= ? AND miny <= ? AND maxy >= ?)"
                })
                .collect();
            filter.push_str(&format!(
                " AND fid IN (SELECT id FROM \"{}\" WHERE {})",
                rtree::table(layer),
                parts.join(" OR ")
            ));
        }
        let (incl, excl, order) = match direction {
            Direction::Ascending => (">=", ">", "ASC"),
            Direction::Descending => ("<=", "<", "DESC"),
        };
        let mut key: Option<(String, bool)> = match from {
            Bound::Included(k) => Some((k.to_string(), true)),
            Bound::Excluded(k) => Some((k.to_string(), false)),
            Bound::Unbounded => None,
        };
        let mut conn = self.reader()?;
        let rounds = |conn: &mut Connection| -> Result<u64> {
            let sql = |e| self.err(e);
            let mut n = 0u64;
            let mut limit = FIRST_ROUND;
            loop {
                let mut params: Vec<Sql> = Vec::new();
                let start = match &key {
                    Some((k, inclusive)) => {
                        params.push(Sql::Text(k.clone()));
                        format!(" AND id {} ?", if *inclusive { incl } else { excl })
                    }
                    None => String::new(),
                };
                params.extend(filter_params.iter().cloned());
                let text = format!(
                    "{} WHERE 1{start}{filter} ORDER BY id {order} LIMIT {limit}",
                    Self::select_sql(layer)
                );
                let mut stmt = conn.prepare_cached(&text).map_err(sql)?;
                let mut rows = stmt.query(params_from_iter(params)).map_err(sql)?;
                let mut read = 0;
                while let Some(row) = rows.next().map_err(sql)? {
                    read += 1;
                    let f = self.row_to_feature(layer, row)?;
                    key = Some((f.id.clone(), false));
                    if q.bbox.is_some_and(|b| !touches(&f.geometry, b)) {
                        continue;
                    }
                    n += 1;
                    if visit(f)?.is_break() {
                        return Ok(n);
                    }
                }
                if read < limit {
                    return Ok(n);
                }
                limit = (limit * 4).min(MAX_ROUND);
            }
        };
        self.snapshot(&mut conn, rounds)
    }

    /// Runs `read` in one read transaction on `conn`: every statement it runs
    /// sees the same committed data.
    pub(super) fn snapshot<T>(
        &self,
        conn: &mut Connection,
        read: impl FnOnce(&mut Connection) -> Result<T>,
    ) -> Result<T> {
        conn.execute_batch("BEGIN").map_err(|e| self.err(e))?;
        let out = read(conn);
        // A read transaction: ending it cannot lose anything.
        let end = conn.execute_batch(if out.is_ok() { "COMMIT" } else { "ROLLBACK" });
        let out = out?;
        end.map_err(|e| self.err(e))?;
        Ok(out)
    }
}
