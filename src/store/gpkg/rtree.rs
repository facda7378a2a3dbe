//! The GeoPackage R-tree spatial index extension (`gpkg_rtree_index`) on
//! each layer's `geom` column: a virtual table `rtree_<layer>_geom` kept
//! current by the triggers GeoPackage 1.3 Annex F.3 gives (GDAL writes the
//! same, under the same names), so QGIS and GDAL filter by extent without a
//! full scan. The triggers call the functions of `functions.rs`.
//!
//! A store made before the index existed, or one where GDAL or QGIS already
//! created it, is brought to the same state on open: what is missing is
//! created, and a new virtual table is filled from the stored geometries, in
//! the opening transaction.

use crate::model::Layer;
use crate::store::wkb;
use rusqlite::{Connection, OptionalExtension};

/// The virtual table of a layer's index.
pub(super) fn table(layer: Layer) -> String {
    format!("rtree_{}_geom", layer.name())
}

/// The SQL that creates the index of `layer` and registers the extension.
/// `fill` also indexes the rows already stored (a new virtual table on an
/// existing layer); the triggers keep it current from then on.
pub(super) fn create_sql(layer: Layer, fill: bool) -> String {
    create_sql_for(layer.name(), fill)
}

/// [`create_sql`] for the feature table `t` (a name of plain letters,
/// digits and underscores).
pub(super) fn create_sql_for(t: &str, fill: bool) -> String {
    let r = format!("rtree_{t}_geom");
    // The envelope of a non-empty new geometry, as the triggers insert it.
    let values = r#"(NEW."fid", ST_MinX(NEW."geom"), ST_MaxX(NEW."geom"), ST_MinY(NEW."geom"), ST_MaxY(NEW."geom"))"#;
    let mut sql = format!(
        r#"CREATE VIRTUAL TABLE IF NOT EXISTS "{r}" USING rtree(id, minx, maxx, miny, maxy);
        CREATE TRIGGER IF NOT EXISTS "{r}_insert" AFTER INSERT ON "{t}"
          WHEN (new."geom" NOT NULL AND NOT ST_IsEmpty(NEW."geom"))
          BEGIN INSERT OR REPLACE INTO "{r}" VALUES {values}; END;
        CREATE TRIGGER IF NOT EXISTS "{r}_update1" AFTER UPDATE OF "geom" ON "{t}"
          WHEN OLD."fid" = NEW."fid" AND (NEW."geom" NOTNULL AND NOT ST_IsEmpty(NEW."geom"))
          BEGIN INSERT OR REPLACE INTO "{r}" VALUES {values}; END;
        CREATE TRIGGER IF NOT EXISTS "{r}_update2" AFTER UPDATE OF "geom" ON "{t}"
          WHEN OLD."fid" = NEW."fid" AND (NEW."geom" ISNULL OR ST_IsEmpty(NEW."geom"))
          BEGIN DELETE FROM "{r}" WHERE id = OLD."fid"; END;
        CREATE TRIGGER IF NOT EXISTS "{r}_update3" AFTER UPDATE ON "{t}"
          WHEN OLD."fid" != NEW."fid" AND (NEW."geom" NOTNULL AND NOT ST_IsEmpty(NEW."geom"))
          BEGIN DELETE FROM "{r}" WHERE id = OLD."fid"; INSERT OR REPLACE INTO "{r}" VALUES {values}; END;
        CREATE TRIGGER IF NOT EXISTS "{r}_update4" AFTER UPDATE ON "{t}"
          WHEN OLD."fid" != NEW."fid" AND (NEW."geom" ISNULL OR ST_IsEmpty(NEW."geom"))
          BEGIN DELETE FROM "{r}" WHERE id IN (OLD."fid", NEW."fid"); END;
        CREATE TRIGGER IF NOT EXISTS "{r}_delete" AFTER DELETE ON "{t}"
          WHEN old."geom" NOT NULL
          BEGIN DELETE FROM "{r}" WHERE id = OLD."fid"; END;
        INSERT INTO gpkg_extensions SELECT '{t}', 'geom', 'gpkg_rtree_index',
          'http://www.geopackage.org/spec120/#extension_rtree', 'write-only'
          WHERE NOT EXISTS (SELECT 1 FROM gpkg_extensions WHERE table_name = '{t}'
            AND column_name = 'geom' AND extension_name = 'gpkg_rtree_index');"#
    );
    if fill {
        sql.push_str(&format!(
            r#"INSERT OR REPLACE INTO "{r}" SELECT fid, ST_MinX(geom), ST_MaxX(geom), ST_MinY(geom), ST_MaxY(geom)
               FROM "{t}" WHERE geom NOT NULL AND NOT ST_IsEmpty(geom);"#
        ));
    }
    sql
}

/// The names of the index's triggers (what a complete store has).
pub(super) fn trigger_names(layer: Layer) -> Vec<String> {
    let r = table(layer);
    [
        "insert", "update1", "update2", "update3", "update4", "delete",
    ]
    .iter()
    .map(|s| format!("{r}_{s}"))
    .collect()
}

/// An index whose insert trigger a batch took out while it writes: the
/// batch indexes its new rows in bulk ([`settle`]) and puts the trigger back,
/// as it was, before it commits. Both happen inside the batch's transaction,
/// so the file never holds a layer without the trigger (a crash or a rollback
/// restores it with everything else).
pub(super) struct Deferred {
    /// The trigger's `CREATE TRIGGER` text, as stored (jointmap's or GDAL's).
    sql: String,
    /// The largest `fid` before the batch: rows above it are new.
    max_fid: i64,
    /// Rows of the layer before the batch.
    rows_before: u64,
}

/// Takes the insert trigger of `layer`'s index out for the rest of the
/// transaction; `None` when the layer has no such trigger (nothing to defer).
/// Replacements and deletes still go through the other triggers.
pub(super) fn defer(conn: &Connection, layer: Layer) -> rusqlite::Result<Option<Deferred>> {
    let name = format!("{}_insert", table(layer));
    let sql: Option<String> = conn
        .query_row(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?1",
            [&name],
            |r| r.get(0),
        )
        .optional()?;
    let Some(sql) = sql else { return Ok(None) };
    let (max_fid, rows_before): (i64, i64) = conn.query_row(
        &format!(
            "SELECT COALESCE(max(fid), 0), count(*) FROM \"{}\"",
            layer.name()
        ),
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    conn.execute_batch(&format!("DROP TRIGGER \"{name}\""))?;
    Ok(Some(Deferred {
        sql,
        max_fid,
        rows_before: rows_before as u64,
    }))
}

impl Deferred {
    /// Whether the layer held no row before the batch: then the rows the
    /// batch inserts are the whole layer.
    pub(super) fn empty_before(&self) -> bool {
        self.rows_before == 0
    }
}

/// What the index of a row's geometry blob holds.
#[derive(Debug, Clone, Copy)]
pub(super) enum Entry {
    /// Nothing: an empty geometry (the triggers skip those too).
    Empty,
    /// `[minx, maxx, miny, maxy]`, rounded outwards as the R*Tree stores them.
    Box([f32; 4]),
    /// A blob the packing cannot read, or an envelope that is not a number:
    /// left to the triggers' SQL functions.
    Unpackable,
}

/// The entry of the geometry blob `b` in the packed index.
pub(super) fn entry(b: &[u8]) -> Entry {
    match wkb::is_empty(b) {
        Ok(true) => return Entry::Empty,
        Ok(false) => {}
        Err(_) => return Entry::Unpackable,
    }
    match wkb::envelope(b) {
        Ok(e) if e.iter().all(|v| v.is_finite()) => {
            Entry::Box([down(e[0]), up(e[2]), down(e[1]), up(e[3])])
        }
        _ => Entry::Unpackable,
    }
}

/// The cells of the rows a batch inserted into a layer that was empty
/// before it, gathered by the writer as it inserts them (each row's entry
/// was computed with its encoding, on the validation workers): packing them
/// needs no scan of the table.
#[derive(Debug, Default)]
pub(super) struct Inserted {
    cells: Vec<Cell>,
    rows: u64,
}

impl Inserted {
    /// Notes the row inserted with `fid`; `false`: its entry cannot be
    /// packed, and the cells gathered are of no use.
    pub(super) fn add(&mut self, fid: i64, e: Entry) -> bool {
        self.rows += 1;
        match e {
            Entry::Empty => true,
            Entry::Box(b) => {
                self.cells.push((fid, b));
                true
            }
            Entry::Unpackable => false,
        }
    }
}

/// Indexes the rows a batch inserted since [`defer`] and puts the trigger
/// back. A batch that at least doubles the layer rebuilds the whole index by
/// packing it (see [`write`]); a smaller one inserts its rows' envelopes
/// with one statement. `inserted`: every row inserted since [`defer`], when
/// the layer was empty before and no row was replaced since. `meanwhile`
/// runs once, on this connection, while another thread packs the cells
/// (SQLite building the other indexes, outside this index's savepoint).
pub(super) fn settle(
    conn: &Connection,
    layer: Layer,
    d: Deferred,
    inserted: Option<Inserted>,
    meanwhile: impl FnOnce() -> rusqlite::Result<()>,
) -> rusqlite::Result<()> {
    let t = layer.name();
    let r = table(layer);
    let added: i64 = match &inserted {
        Some(i) if d.empty_before() => i.rows as i64,
        _ => conn.query_row(
            &format!("SELECT count(*) FROM \"{t}\" WHERE fid > ?1"),
            [d.max_fid],
            |row| row.get(0),
        )?,
    };
    let node_size = if added as u64 >= d.rows_before.max(1) {
        node_size(conn, layer)?
    } else {
        None
    };
    let cells = match (node_size, inserted) {
        (None, _) => None,
        (Some(_), Some(i)) if d.empty_before() => Some(i.cells),
        (Some(_), _) => scan(conn, layer)?,
    };
    // As many cells as SQLite puts in a node of this size, at most its 51.
    let planned = std::thread::scope(|s| {
        let plan = cells
            .zip(node_size)
            .map(|(cells, n)| s.spawn(move || plan(cells, ((n - 4) / 24).min(51))));
        let done = meanwhile();
        let levels = plan.and_then(|p| p.join().ok());
        done.map(|()| levels)
    })?;
    let packed = match (planned, node_size) {
        (Some(levels), Some(n)) => {
            // A rebuild that fails leaves the index as it was, for the statement below.
            conn.execute_batch("SAVEPOINT jointmap_rtree")?;
            let done = write(conn, layer, n, &levels).is_ok();
            conn.execute_batch(if done {
                "RELEASE jointmap_rtree"
            } else {
                "ROLLBACK TO jointmap_rtree; RELEASE jointmap_rtree"
            })?;
            done
        }
        _ => false,
    };
    if !packed && added > 0 {
        conn.execute(
            &format!(
                r#"INSERT OR REPLACE INTO "{r}" SELECT fid, ST_MinX(geom), ST_MaxX(geom), ST_MinY(geom), ST_MaxY(geom)
                   FROM "{t}" WHERE fid > ?1 AND geom NOT NULL AND NOT ST_IsEmpty(geom)"#
            ),
            [d.max_fid],
        )?;
    }
    conn.execute_batch(&d.sql)
}

/// The largest `f32` at or below `d`, as SQLite's R*Tree stores a minimum
/// (`rtreeValueDown`).
fn down(d: f64) -> f32 {
    let f = d as f32;
    if f64::from(f) > d {
        (d * if d < 0.0 {
            1.0 + 1.0 / 8_388_608.0
        } else {
            1.0 - 1.0 / 8_388_608.0
        }) as f32
    } else {
        f
    }
}

/// The smallest `f32` at or above `d` (`rtreeValueUp`).
fn up(d: f64) -> f32 {
    let f = d as f32;
    if f64::from(f) < d {
        (d * if d < 0.0 {
            1.0 - 1.0 / 8_388_608.0
        } else {
            1.0 + 1.0 / 8_388_608.0
        }) as f32
    } else {
        f
    }
}

/// One cell of a node: a row's fid (leaves) or a child's place in the level
/// below (inner nodes), and `[minx, maxx, miny, maxy]`.
type Cell = (i64, [f32; 4]);

/// Sort-Tile-Recursive packing of `cells` into nodes of at most `m` cells:
/// vertical slices by centre x, each cut into nodes by centre y. Ties are
/// broken by the cell's key, so the same rows always give the same tree.
fn pack(mut cells: Vec<Cell>, m: usize) -> Vec<Vec<Cell>> {
    let centre = |c: &Cell, axis: usize| f64::from(c.1[axis * 2]) + f64::from(c.1[axis * 2 + 1]);
    let nodes = cells.len().div_ceil(m).max(1);
    let slices = (nodes as f64).sqrt().ceil() as usize;
    let per_slice = slices.max(1) * m;
    cells.sort_unstable_by(|a, b| centre(a, 0).total_cmp(&centre(b, 0)).then(a.0.cmp(&b.0)));
    let mut out = Vec::with_capacity(nodes);
    for slice in cells.chunks_mut(per_slice) {
        slice.sort_unstable_by(|a, b| centre(a, 1).total_cmp(&centre(b, 1)).then(a.0.cmp(&b.0)));
        out.extend(slice.chunks(m).map(<[Cell]>::to_vec));
    }
    if out.is_empty() {
        out.push(Vec::new());
    }
    out
}

/// The box around a node's cells.
fn union(cells: &[Cell]) -> [f32; 4] {
    cells.iter().fold(
        [
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::INFINITY,
            f32::NEG_INFINITY,
        ],
        |a, (_, b)| {
            [
                a[0].min(b[0]),
                a[1].max(b[1]),
                a[2].min(b[2]),
                a[3].max(b[3]),
            ]
        },
    )
}

/// The node size of `layer`'s index (its root's blob length); `None` when
/// it cannot hold a cell.
fn node_size(conn: &Connection, layer: Layer) -> rusqlite::Result<Option<usize>> {
    let r = table(layer);
    let n: Option<i64> = conn
        .query_row(
            &format!("SELECT length(data) FROM \"{r}_node\" WHERE nodeno = 1"),
            [],
            |row| row.get(0),
        )
        .optional()?;
    Ok(n.map(|n| n as usize).filter(|n| *n >= 4 + 24))
}

/// The cells of every stored row of `layer`; `None` when a row cannot be
/// packed (see [`Entry::Unpackable`]).
fn scan(conn: &Connection, layer: Layer) -> rusqlite::Result<Option<Vec<Cell>>> {
    let t = layer.name();
    let mut cells: Vec<Cell> = Vec::new();
    let mut stmt = conn.prepare(&format!(
        "SELECT fid, geom FROM \"{t}\" WHERE geom NOT NULL"
    ))?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let rusqlite::types::ValueRef::Blob(b) = row.get_ref(1)? else {
            return Ok(None);
        };
        match entry(b) {
            Entry::Empty => {}
            Entry::Box(b) => cells.push((row.get(0)?, b)),
            Entry::Unpackable => return Ok(None),
        }
    }
    Ok(Some(cells))
}

/// A packed tree: its levels from the leaves up (the last holds the root
/// alone), each node's cells, each node's number, and each row's leaf.
struct Levels {
    nodes: Vec<Vec<Vec<Cell>>>,
    numbers: Vec<Vec<i64>>,
    /// `(fid, leaf node number)` in fid order: the rowid table is appended
    /// to, not searched.
    rowids: Vec<(i64, i64)>,
}

/// Packs `cells` into nodes of at most `m` cells, level by level, and numbers
/// the nodes from the root (1) down. Needs no connection: it runs on a
/// thread of its own while SQLite works.
fn plan(cells: Vec<Cell>, m: usize) -> Levels {
    let mut levels = vec![pack(cells, m)];
    while levels[levels.len() - 1].len() > 1 {
        let below = &levels[levels.len() - 1];
        let up_cells = below
            .iter()
            .enumerate()
            .map(|(i, n)| (i as i64, union(n)))
            .collect();
        levels.push(pack(up_cells, m));
    }
    let mut numbers: Vec<Vec<i64>> = vec![Vec::new(); levels.len()];
    let mut next = 1i64;
    for (level, nodes) in levels.iter().enumerate().rev() {
        numbers[level] = (next..next + nodes.len() as i64).collect();
        next += nodes.len() as i64;
    }
    let mut rowids: Vec<(i64, i64)> = levels[0]
        .iter()
        .zip(&numbers[0])
        .flat_map(|(cells, number)| cells.iter().map(move |(fid, _)| (*fid, *number)))
        .collect();
    rowids.sort_unstable();
    Levels {
        nodes: levels,
        numbers,
        rowids,
    }
}

/// Replaces the whole index of `layer` with the packed tree `levels`, by
/// writing the R*Tree's shadow tables (`_node`, `_rowid`, `_parent`) in
/// SQLite's format: a node is a blob of the tree's node size, a 2-byte depth
/// (root only) and cell count, then per cell a big-endian 8-byte id and four
/// big-endian `f32`s, minima rounded down and maxima up. Much faster than one
/// R*Tree insert per row; later writes insert into it as usual.
fn write(conn: &Connection, layer: Layer, node_size: usize, tree: &Levels) -> rusqlite::Result<()> {
    let r = table(layer);
    let (levels, numbers) = (&tree.nodes, &tree.numbers);
    conn.execute_batch(&format!(
        r#"DELETE FROM "{r}_node"; DELETE FROM "{r}_rowid"; DELETE FROM "{r}_parent";"#
    ))?;
    let depth = levels.len() - 1;
    let mut node = conn.prepare(&format!(
        "INSERT INTO \"{r}_node\" (nodeno, data) VALUES (?1, ?2)"
    ))?;
    let mut parent = conn.prepare(&format!(
        "INSERT INTO \"{r}_parent\" (nodeno, parentnode) VALUES (?1, ?2)"
    ))?;
    let mut blob = vec![0u8; node_size];
    for (level, nodes) in levels.iter().enumerate() {
        for (i, cells) in nodes.iter().enumerate() {
            let number = numbers[level][i];
            blob.iter_mut().for_each(|b| *b = 0);
            if number == 1 {
                blob[0..2].copy_from_slice(&(depth as u16).to_be_bytes());
            }
            blob[2..4].copy_from_slice(&(cells.len() as u16).to_be_bytes());
            for (k, (key, b)) in cells.iter().enumerate() {
                let id = if level == 0 {
                    *key
                } else {
                    numbers[level - 1][*key as usize]
                };
                let at = 4 + k * 24;
                blob[at..at + 8].copy_from_slice(&id.to_be_bytes());
                for (j, v) in b.iter().enumerate() {
                    blob[at + 8 + 4 * j..at + 12 + 4 * j]
                        .copy_from_slice(&v.to_bits().to_be_bytes());
                }
                if level > 0 {
                    parent.execute([id, number])?;
                }
            }
            node.execute(rusqlite::params![number, blob])?;
        }
    }
    // Many rows per statement: one statement per row cost more in starting
    // and ending it (cursors, a descent from the root) than in the insert.
    let insert = |n: usize| {
        let values = vec!["(?, ?)"; n].join(", ");
        conn.prepare(&format!(
            "INSERT INTO \"{r}_rowid\" (rowid, nodeno) VALUES {values}"
        ))
    };
    let mut chunks = tree.rowids.chunks_exact(ROWIDS_PER_STATEMENT);
    if chunks.len() > 0 {
        let mut many = insert(ROWIDS_PER_STATEMENT)?;
        for chunk in chunks.by_ref() {
            let params = chunk.iter().flat_map(|(fid, number)| [fid, number]);
            many.execute(rusqlite::params_from_iter(params))?;
        }
    }
    let mut one = insert(1)?;
    for &(fid, number) in chunks.remainder() {
        one.execute([fid, number])?;
    }
    Ok(())
}

/// Rows of the `_rowid` table per insert statement (two parameters each,
/// well under SQLite's limit of 32,766).
const ROWIDS_PER_STATEMENT: usize = 512;

#[cfg(test)]
mod tests {
    use super::super::GpkgStore;
    use super::*;
    use crate::model::Feature;
    use crate::store::{Batch, FeatureSink, Selection};
    use rusqlite::Connection;
    use serde_json::json;

    fn incident(id: &str, lon: f64, lat: f64) -> Feature {
        let v = json!({"type": "Feature", "id": id,
            "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": {"time_start": "2025-02-14T03:00:00Z", "category": "killing",
                "owner": "hr", "classification": "restricted"}});
        Feature::from_geojson(Layer::Incidents, v, "").expect("valid incident")
    }

    fn patrol() -> Feature {
        let v = json!({"type": "Feature", "id": "p",
            "geometry": {"type": "LineString", "coordinates": [[18.5, 4.4], [18.7, 4.2]]},
            "properties": {"time_start": "2025-02-01T06:00:00Z", "time_end": "2025-02-01T09:00:00Z",
                "owner": "military", "classification": "restricted", "unit": "A", "mode": "foot",
                "kind": "routine", "period": "day"}});
        Feature::from_geojson(Layer::Patrols, v, "").expect("valid patrol")
    }

    /// `(fid, minx, maxx, miny, maxy)` of every entry, by fid.
    fn entries(store: &GpkgStore, layer: Layer) -> Vec<(i64, [f64; 4])> {
        let conn = store.conn();
        let mut s = conn
            .prepare(&format!("SELECT * FROM {} ORDER BY id", table(layer)))
            .expect("prepare");
        let rows = s
            .query_map([], |r| {
                Ok((r.get(0)?, [r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?]))
            })
            .expect("query");
        rows.collect::<rusqlite::Result<_>>().expect("rows")
    }

    /// rtree stores 32-bit floats, rounded outwards.
    fn near(a: [f64; 4], b: [f64; 4]) -> bool {
        a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-5)
    }

    fn write(store: &GpkgStore, f: impl FnOnce(&mut dyn Batch)) {
        let mut b = store.begin().expect("begin");
        f(b.as_mut());
        b.commit().expect("commit");
    }

    #[test]
    fn the_index_follows_inserts_replacements_and_deletes() {
        let dir = tempfile::TempDir::new().expect("temp dir");
        let store = GpkgStore::open(dir.path().join("s.gpkg")).expect("open");
        write(&store, |b| {
            for (id, x) in [("a", 18.0), ("b", 19.0), ("c", 20.0)] {
                b.upsert(Layer::Incidents, &incident(id, x, 4.0))
                    .expect("upsert");
            }
            b.upsert(Layer::Patrols, &patrol()).expect("upsert");
        });
        let got = entries(&store, Layer::Incidents);
        assert_eq!(got.len(), 3);
        assert!(near(got[1].1, [19.0, 19.0, 4.0, 4.0]), "{got:?}");
        assert!(near(
            entries(&store, Layer::Patrols)[0].1,
            [18.5, 18.7, 4.2, 4.4]
        ));
        // A replacement moves its entry; a delete removes it.
        write(&store, |b| {
            b.upsert(Layer::Incidents, &incident("b", 17.25, 5.5))
                .expect("upsert");
        });
        write(&store, |b| {
            b.delete(Layer::Incidents, &Selection::Ids(vec!["a".into()]))
                .expect("delete");
        });
        let got = entries(&store, Layer::Incidents);
        assert_eq!(got.len(), 2);
        assert!(near(got[0].1, [17.25, 17.25, 5.5, 5.5]), "{got:?}");
        assert!(near(got[1].1, [20.0, 20.0, 4.0, 4.0]), "{got:?}");
        let registered: i64 = store
            .conn()
            .query_row(
                "SELECT count(*) FROM gpkg_extensions WHERE extension_name = 'gpkg_rtree_index'
                 AND column_name = 'geom' AND scope = 'write-only'",
                [],
                |r| r.get(0),
            )
            .expect("count");
        assert_eq!(registered, Layer::ALL.len() as i64);
    }

    /// A store written before the index existed gets it on open, filled
    /// from the stored rows; the next writes keep it current.
    #[test]
    fn a_store_without_the_index_gets_it_filled_on_open() {
        let dir = tempfile::TempDir::new().expect("temp dir");
        let path = dir.path().join("old.gpkg");
        {
            let store = GpkgStore::open(&path).expect("open");
            write(&store, |b| {
                for (id, x) in [("a", 18.0), ("b", 19.0)] {
                    b.upsert(Layer::Incidents, &incident(id, x, 4.0))
                        .expect("upsert");
                }
            });
        }
        let mut sql =
            String::from("DELETE FROM gpkg_extensions WHERE extension_name = 'gpkg_rtree_index';");
        for layer in Layer::ALL {
            for t in trigger_names(layer) {
                sql.push_str(&format!("DROP TRIGGER \"{t}\";"));
            }
            sql.push_str(&format!("DROP TABLE {};", table(layer)));
        }
        Connection::open(&path)
            .and_then(|c| c.execute_batch(&sql))
            .expect("drop the index");
        let store = GpkgStore::open(&path).expect("reopen");
        assert_eq!(entries(&store, Layer::Incidents).len(), 2);
        write(&store, |b| {
            b.upsert(Layer::Incidents, &incident("c", 20.0, 4.0))
                .expect("upsert");
        });
        assert_eq!(entries(&store, Layer::Incidents).len(), 3);
    }

    /// The `sql` of every trigger on the layer tables, by name.
    fn triggers(store: &GpkgStore) -> Vec<(String, String)> {
        let conn = store.conn();
        let mut s = conn
            .prepare("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' ORDER BY name")
            .expect("prepare");
        let rows = s
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("query");
        rows.collect::<rusqlite::Result<_>>().expect("rows")
    }

    /// SQLite's own check of an R*Tree: node format, parent and rowid maps,
    /// and every box inside its parent's.
    fn check(store: &GpkgStore, layer: Layer) {
        let got: String = store
            .conn()
            .query_row(&format!("SELECT rtreecheck('{}')", table(layer)), [], |r| {
                r.get(0)
            })
            .expect("rtreecheck");
        assert_eq!(got, "ok", "{layer}");
    }

    /// The fids the index finds in a box, against the stored geometries.
    fn found(store: &GpkgStore, b: [f64; 4]) -> (Vec<i64>, Vec<i64>) {
        let conn = store.conn();
        let ids = |sql: &str| -> Vec<i64> {
            let mut s = conn.prepare(sql).expect("prepare");
            let rows = s
                .query_map(rusqlite::params![b[0], b[1], b[2], b[3]], |r| r.get(0))
                .expect("query");
            let mut v: Vec<i64> = rows.collect::<rusqlite::Result<_>>().expect("rows");
            v.sort_unstable();
            v
        };
        (
            ids("SELECT id FROM rtree_incidents_geom WHERE maxx >= ?1 AND minx <= ?3 AND maxy >= ?2 AND miny <= ?4"),
            ids("SELECT fid FROM incidents WHERE ST_MaxX(geom) >= ?1 AND ST_MinX(geom) <= ?3 AND ST_MaxY(geom) >= ?2 AND ST_MinY(geom) <= ?4"),
        )
    }

    /// A batch that fills a layer packs its index (several levels deep here);
    /// smaller batches, replacements and deletes then keep it current through
    /// SQL and the triggers, which come back exactly as they were; a rolled
    /// back batch leaves the triggers and the index untouched.
    #[test]
    fn a_packed_index_is_a_valid_rtree_that_later_writes_keep_current() {
        let dir = tempfile::TempDir::new().expect("temp dir");
        let store = GpkgStore::open(dir.path().join("s.gpkg")).expect("open");
        let before = triggers(&store);
        let mut rng = crate::rng::Rng::new(7);
        let mut point = || (14.0 + 10.0 * rng.f64(), 2.0 + 8.0 * rng.f64());
        write(&store, |b| {
            for i in 0..6000 {
                let (x, y) = point();
                b.upsert(Layer::Incidents, &incident(&format!("i{i}"), x, y))
                    .expect("upsert");
            }
        });
        assert_eq!(triggers(&store), before);
        check(&store, Layer::Incidents);
        let depth: i64 = store
            .conn()
            .query_row(
                "SELECT rtreedepth(data) FROM rtree_incidents_geom_node WHERE nodeno = 1",
                [],
                |r| r.get(0),
            )
            .unwrap_or_else(|_| {
                // Without rtreedepth: the root's first two bytes.
                let blob: Vec<u8> = store
                    .conn()
                    .query_row(
                        "SELECT data FROM rtree_incidents_geom_node WHERE nodeno = 1",
                        [],
                        |r| r.get(0),
                    )
                    .expect("root");
                i64::from(u16::from_be_bytes([blob[0], blob[1]]))
            });
        assert!(depth >= 2, "depth {depth}");
        assert_eq!(entries(&store, Layer::Incidents).len(), 6000);
        for b in [
            [15.0, 3.0, 16.5, 4.0],
            [18.0, 5.5, 18.2, 9.0],
            [0.0, 0.0, 30.0, 30.0],
        ] {
            let (index, rows) = found(&store, b);
            assert_eq!(index, rows, "{b:?}");
        }
        // A smaller batch: new rows, replacements (moved), one delete.
        write(&store, |b| {
            for i in 0..500 {
                let (x, y) = point();
                b.upsert(Layer::Incidents, &incident(&format!("j{i}"), x, y))
                    .expect("upsert");
            }
            for i in 0..300 {
                let (x, y) = point();
                b.upsert(Layer::Incidents, &incident(&format!("i{i}"), x, y))
                    .expect("upsert");
            }
            b.delete(Layer::Incidents, &Selection::Ids(vec!["i5".into()]))
                .expect("delete");
            b.upsert(Layer::Incidents, &incident("k", 20.0, 5.0))
                .expect("upsert");
        });
        assert_eq!(triggers(&store), before);
        check(&store, Layer::Incidents);
        assert_eq!(entries(&store, Layer::Incidents).len(), 6500);
        for b in [
            [15.0, 3.0, 16.5, 4.0],
            [19.9, 4.9, 20.1, 5.1],
            [0.0, 0.0, 30.0, 30.0],
        ] {
            let (index, rows) = found(&store, b);
            assert_eq!(index, rows, "{b:?}");
        }
        // Not committed: everything, the triggers too, as it was.
        {
            let mut b = store.begin().expect("begin");
            for i in 0..9000 {
                let (x, y) = point();
                b.upsert(Layer::Incidents, &incident(&format!("n{i}"), x, y))
                    .expect("upsert");
            }
        }
        assert_eq!(triggers(&store), before);
        check(&store, Layer::Incidents);
        assert_eq!(entries(&store, Layer::Incidents).len(), 6500);
        // Ordinary writes after the batch (as GDAL or QGIS make them) fire the trigger.
        store
            .conn()
            .execute("INSERT INTO incidents (geom, id, time_start, owner, classification) SELECT geom, 'q', time_start, owner, classification FROM incidents WHERE id = 'k'", [])
            .expect("plain insert");
        assert_eq!(entries(&store, Layer::Incidents).len(), 6501);
        check(&store, Layer::Incidents);
    }

    /// A batch into an empty layer that replaces some of its own new rows
    /// (two inputs with the same ids) packs the index from the table, with
    /// the replaced rows where they were moved to.
    #[test]
    fn a_batch_that_replaces_its_own_rows_packs_them_where_they_moved() {
        let dir = tempfile::TempDir::new().expect("temp dir");
        let store = GpkgStore::open(dir.path().join("s.gpkg")).expect("open");
        let mut rng = crate::rng::Rng::new(11);
        let mut point = || (14.0 + 10.0 * rng.f64(), 2.0 + 8.0 * rng.f64());
        write(&store, |b| {
            for i in 0..3000 {
                let (x, y) = point();
                b.upsert(Layer::Incidents, &incident(&format!("i{i}"), x, y))
                    .expect("upsert");
            }
            for i in 0..50 {
                b.upsert(Layer::Incidents, &incident(&format!("i{i}"), 30.0, 12.0))
                    .expect("upsert");
            }
        });
        check(&store, Layer::Incidents);
        assert_eq!(entries(&store, Layer::Incidents).len(), 3000);
        for b in [[29.0, 11.0, 31.0, 13.0], [0.0, 0.0, 40.0, 40.0]] {
            let (index, rows) = found(&store, b);
            assert_eq!(index, rows, "{b:?}");
        }
        assert_eq!(found(&store, [29.0, 11.0, 31.0, 13.0]).0.len(), 50);
    }

    /// Minima are rounded down and maxima up to `f32` as SQLite does, so a
    /// packed box always holds the geometry.
    #[test]
    fn packed_boxes_round_outwards() {
        for d in [
            4.4,
            -4.4,
            18.24795,
            -0.1,
            0.0,
            1e-30,
            179.99999,
            -89.123456789,
        ] {
            assert!(f64::from(down(d)) <= d && f64::from(up(d)) >= d, "{d}");
            assert!(
                f64::from(up(d)) - f64::from(down(d))
                    <= 2.0 * f64::from(f32::EPSILON) * d.abs().max(1e-30),
                "{d}"
            );
        }
    }

    #[test]
    fn declared_geometry_types_are_the_narrowest_that_hold_every_accepted_kind() {
        use super::super::geometry_type_name;
        let want = [
            (Layer::Incidents, "POINT"),
            (Layer::Sightings, "POINT"),
            (Layer::Patrols, "GEOMETRY"),
            (Layer::Bases, "GEOMETRY"),
            (Layer::Sites, "GEOMETRY"),
        ];
        for (layer, t) in want {
            assert_eq!(geometry_type_name(layer), t, "{layer}");
        }
    }
}
