//! Deleting features: the selected rows leave their layer and each is kept
//! in the history as a deleted version (`change = 'deleted'`), with the time
//! and the batch's author, in the batch's transaction. Re-ingesting the kept
//! GeoJSON restores a feature.

use super::{fmt_time, GpkgStore, Result, FAR_FUTURE, SOURCE_COLUMN};
use crate::model::{Feature, Layer};
use crate::store::{Change, Selection, StoreError};
use rusqlite::types::Value as Sql;
use rusqlite::{params_from_iter, Connection};

impl GpkgStore {
    /// Deletes the selected features of `layer` on `conn`; see
    /// [`crate::store::Batch::delete`].
    pub(super) fn delete_on(
        &self,
        conn: &Connection,
        layer: Layer,
        selection: &Selection,
        author: &str,
    ) -> Result<Vec<String>> {
        let sql = |e| self.err(e);
        let select = Self::select_sql(layer);
        let mut victims: Vec<(i64, Feature)> = Vec::new();
        let collect =
            |victims: &mut Vec<(i64, Feature)>, query: &str, params: Vec<Sql>| -> Result<()> {
                let mut stmt = conn.prepare_cached(query).map_err(sql)?;
                let mut rows = stmt.query(params_from_iter(params)).map_err(sql)?;
                while let Some(row) = rows.next().map_err(sql)? {
                    let fid: i64 = row.get(0).map_err(sql)?;
                    victims.push((fid, self.row_to_feature(layer, row)?));
                }
                Ok(())
            };
        match selection {
            Selection::Ids(ids) => {
                let mut missing = Vec::new();
                for id in ids {
                    let before = victims.len();
                    collect(
                        &mut victims,
                        &format!("{select} WHERE id = ?1"),
                        vec![Sql::Text(id.clone())],
                    )?;
                    if victims.len() == before {
                        missing.push(id.as_str());
                    }
                }
                if !missing.is_empty() {
                    return Err(StoreError::BadQuery(format!(
                        "{layer}: no feature with id {}; nothing deleted",
                        missing.join(", ")
                    )));
                }
                // The same id given twice is deleted once.
                victims.sort_by_key(|(fid, _)| *fid);
                victims.dedup_by_key(|(fid, _)| *fid);
            }
            Selection::Source(source) => collect(
                &mut victims,
                &format!("{select} WHERE {SOURCE_COLUMN} = ?1 ORDER BY fid"),
                vec![Sql::Text(source.clone())],
            )?,
            Selection::Before(t) => {
                // An open-ended base or site has not ended.
                let end = if layer.open_ended() {
                    format!("COALESCE(time_end, '{FAR_FUTURE}')")
                } else {
                    "COALESCE(time_end, time_start)".to_string()
                };
                collect(
                    &mut victims,
                    &format!("{select} WHERE {end} < ?1 ORDER BY fid"),
                    vec![Sql::Text(fmt_time(t))],
                )?
            }
        }
        let mut ids = Vec::with_capacity(victims.len());
        for (fid, feature) in victims {
            self.keep_on(conn, layer, &feature, author, Change::Deleted)?;
            conn.prepare_cached(&format!("DELETE FROM {} WHERE fid = ?1", layer.name()))
                .and_then(|mut s| s.execute([fid]))
                .map_err(sql)?;
            ids.push(feature.id);
        }
        Ok(ids)
    }
}
