//! Reading every row of a layer without stopping at one that cannot be read
//! as a feature: what `jointmap check` and quarantine need after an edit
//! outside jointmap (QGIS, `ogrinfo -sql`).

use super::{columns, GpkgStore, Result, SOURCE_COLUMN};
use crate::model::Layer;
use crate::store::{StoreError, StoredRow};
use rusqlite::types::ValueRef;
use rusqlite::Connection;

/// `select_sql`'s columns, then the provenance, in storage order.
pub(super) fn inspect_sql(layer: Layer) -> String {
    let cols: Vec<String> = columns(layer).iter().map(|c| format!("\"{c}\"")).collect();
    format!(
        "SELECT fid, geom, {}, {SOURCE_COLUMN} FROM {} ORDER BY fid",
        cols.join(", "),
        layer.name()
    )
}

/// A value as text for a report (ids of any stored type).
fn as_text(v: ValueRef<'_>) -> String {
    match v {
        ValueRef::Null => String::new(),
        ValueRef::Integer(n) => n.to_string(),
        ValueRef::Real(x) => x.to_string(),
        ValueRef::Text(t) | ValueRef::Blob(t) => String::from_utf8_lossy(t).into_owned(),
    }
}

impl GpkgStore {
    /// Visits every row of `layer` on `conn` (inside its transaction).
    pub(super) fn inspect_on(
        &self,
        conn: &Connection,
        layer: Layer,
        visit: &mut dyn FnMut(StoredRow) -> Result<()>,
    ) -> Result<u64> {
        let sql = |e| self.err(e);
        let source_at = 2 + columns(layer).len();
        let mut stmt = conn.prepare(&inspect_sql(layer)).map_err(sql)?;
        let mut rows = stmt.query([]).map_err(sql)?;
        let mut n = 0;
        while let Some(row) = rows.next().map_err(sql)? {
            let key: i64 = row.get(0).map_err(sql)?;
            let id = row.get_ref(2).map(as_text).map_err(sql)?;
            let source = match row.get_ref(source_at).map_err(sql)? {
                ValueRef::Null => None,
                v => Some(as_text(v)),
            };
            let feature = self.row_to_feature(layer, row).map_err(|e| match e {
                StoreError::Corrupt { reason, .. } => reason,
                StoreError::Backend { message, .. } => message,
                other => other.to_string(),
            });
            visit(StoredRow {
                key,
                id,
                source,
                feature,
            })?;
            n += 1;
        }
        Ok(n)
    }
}
