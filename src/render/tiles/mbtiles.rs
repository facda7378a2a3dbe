//! MBTiles 1.3 packages: one SQLite file with a `metadata` table and a
//! `tiles` table, for a field office's GIS (QGIS, `gdalinfo`) without a
//! server.
//!
//! Rows are TMS (`tile_row = 2^z - 1 - y`, origin at the bottom). Vector
//! tiles are stored gzip-compressed, as the specification asks. The file is
//! written beside its target under a temporary name and renamed only when
//! every tile is in: an error (or a dropped writer) leaves no file behind
//! and the previous package untouched.

use super::{TileError, TileId};
use rusqlite::{params, Connection};
use std::io::Write;
use std::path::{Path, PathBuf};

/// What the package's tiles are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackageFormat {
    /// PNG images (`format = png`).
    Png,
    /// Mapbox Vector Tiles, gzip-compressed (`format = pbf`).
    Mvt,
}

impl PackageFormat {
    /// The `format` value of the metadata.
    pub fn name(self) -> &'static str {
        match self {
            PackageFormat::Png => "png",
            PackageFormat::Mvt => "pbf",
        }
    }
}

/// The `metadata` rows of a package.
#[derive(Debug, Clone)]
pub struct Metadata {
    /// `name`.
    pub name: String,
    /// `description`.
    pub description: String,
    /// `format`.
    pub format: PackageFormat,
    /// `bounds`: min_lon, min_lat, max_lon, max_lat.
    pub bounds: [f64; 4],
    /// `minzoom`.
    pub minzoom: u8,
    /// `maxzoom`.
    pub maxzoom: u8,
    /// `attribution`.
    pub attribution: String,
    /// `json` (vector tiles: the `vector_layers` document).
    pub json: Option<String>,
    /// `filter`, a row of jointmap's own: the tile endpoints' filter
    /// parameters the tiles were drawn with, as a query string
    /// (`from=...&to=...`); absent when every feature was drawn.
    pub filter: Option<String>,
}

impl Metadata {
    /// The (name, value) rows, in the specification's order.
    pub fn rows(&self) -> Vec<(&'static str, String)> {
        let b = self.bounds;
        let mut rows = vec![
            ("name", self.name.clone()),
            ("format", self.format.name().to_string()),
            ("bounds", format!("{},{},{},{}", b[0], b[1], b[2], b[3])),
            (
                "center",
                format!(
                    "{},{},{}",
                    (b[0] + b[2]) / 2.0,
                    (b[1] + b[3]) / 2.0,
                    self.minzoom
                ),
            ),
            ("minzoom", self.minzoom.to_string()),
            ("maxzoom", self.maxzoom.to_string()),
            ("attribution", self.attribution.clone()),
            ("description", self.description.clone()),
            ("type", "overlay".to_string()),
            ("version", "1.3".to_string()),
        ];
        if let Some(j) = &self.json {
            rows.push(("json", j.clone()));
        }
        if let Some(f) = &self.filter {
            rows.push(("filter", f.clone()));
        }
        rows
    }
}

/// The TMS row of a tile: rows count from the bottom.
pub fn tms_row(id: TileId) -> u32 {
    (1u32 << id.z) - 1 - id.y
}

/// A package being written; [`MbtilesWriter::finish`] puts it in place.
#[derive(Debug)]
pub struct MbtilesWriter {
    conn: Option<Connection>,
    format: PackageFormat,
    partial: PathBuf,
    target: PathBuf,
}

fn sql(e: rusqlite::Error) -> TileError {
    TileError::Package(e.to_string())
}

impl MbtilesWriter {
    /// Starts the package `target` with `meta` (written under a temporary
    /// name beside it).
    pub fn create(target: &Path, meta: &Metadata) -> Result<MbtilesWriter, TileError> {
        let mut partial = target.as_os_str().to_owned();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        match std::fs::remove_file(&partial) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(TileError::Package(format!("{}: {e}", partial.display()))),
        }
        let conn = Connection::open(&partial).map_err(sql)?;
        let w = MbtilesWriter {
            conn: Some(conn),
            format: meta.format,
            partial,
            target: target.to_path_buf(),
        };
        let conn = w.conn()?;
        conn.execute_batch(
            "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; \
             PRAGMA application_id = 0x4d504258; \
             CREATE TABLE metadata (name TEXT, value TEXT); \
             CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, \
                                 tile_row INTEGER, tile_data BLOB); \
             BEGIN;",
        )
        .map_err(sql)?;
        for (k, v) in meta.rows() {
            conn.execute(
                "INSERT INTO metadata (name, value) VALUES (?1, ?2)",
                params![k, v],
            )
            .map_err(sql)?;
        }
        Ok(w)
    }

    fn conn(&self) -> Result<&Connection, TileError> {
        self.conn
            .as_ref()
            .ok_or_else(|| TileError::Package("the package is closed".into()))
    }

    /// Adds the tile `id` (an XYZ tile; stored at its TMS row). Vector
    /// tiles are given uncompressed and stored gzip-compressed.
    pub fn insert(&mut self, id: TileId, bytes: &[u8]) -> Result<(), TileError> {
        let data = match self.format {
            PackageFormat::Png => bytes.to_vec(),
            PackageFormat::Mvt => gzip(bytes)?,
        };
        self.conn()?
            .prepare_cached(
                "INSERT INTO tiles (zoom_level, tile_column, tile_row, tile_data) \
                 VALUES (?1, ?2, ?3, ?4)",
            )
            .and_then(|mut s| s.execute(params![id.z, id.x, tms_row(id), data]))
            .map_err(sql)?;
        Ok(())
    }

    /// Indexes and commits the tiles and renames the file to its target;
    /// on failure the temporary file is removed.
    pub fn finish(mut self) -> Result<(), TileError> {
        let conn = self
            .conn
            .take()
            .ok_or_else(|| TileError::Package("the package is closed".into()))?;
        let done = conn
            .execute_batch(
                "CREATE UNIQUE INDEX tile_index ON tiles (zoom_level, tile_column, tile_row); \
                 CREATE UNIQUE INDEX name ON metadata (name); COMMIT;",
            )
            .map_err(sql)
            .and_then(|()| conn.close().map_err(|(_, e)| sql(e)))
            .and_then(|()| {
                std::fs::rename(&self.partial, &self.target)
                    .map_err(|e| TileError::Package(format!("{}: {e}", self.target.display())))
            });
        if done.is_err() {
            let _ = std::fs::remove_file(&self.partial);
        }
        done
    }
}

impl Drop for MbtilesWriter {
    /// An unfinished package leaves nothing behind.
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            drop(conn);
            let _ = std::fs::remove_file(&self.partial);
        }
    }
}

/// `bytes` gzip-compressed.
pub fn gzip(bytes: &[u8]) -> Result<Vec<u8>, TileError> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes)
        .and_then(|()| enc.finish())
        .map_err(|e| TileError::Encode(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(format: PackageFormat) -> Metadata {
        Metadata {
            name: "t".into(),
            description: "d".into(),
            format,
            bounds: [16.0, 4.0, 18.0, 6.0],
            minzoom: 5,
            maxzoom: 6,
            attribution: "a".into(),
            json: None,
            filter: None,
        }
    }

    #[test]
    fn rows_flip_to_tms() {
        assert_eq!(tms_row(TileId::new(0, 0, 0).unwrap()), 0);
        assert_eq!(tms_row(TileId::new(3, 1, 0).unwrap()), 7);
        assert_eq!(tms_row(TileId::new(3, 1, 7).unwrap()), 0);
        assert_eq!(tms_row(TileId::new(18, 0, 5).unwrap()), (1 << 18) - 6);
    }

    #[test]
    fn a_finished_package_reads_back_and_a_dropped_one_leaves_nothing() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("a.mbtiles");
        let mut w = MbtilesWriter::create(&path, &meta(PackageFormat::Mvt)).unwrap();
        w.insert(TileId::new(5, 17, 15).unwrap(), b"abc").unwrap();
        w.finish().unwrap();
        let conn = Connection::open(&path).unwrap();
        let (row, data): (u32, Vec<u8>) = conn
            .query_row(
                "SELECT tile_row, tile_data FROM tiles WHERE zoom_level = 5 AND tile_column = 17",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(row, 31 - 15);
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&data[..]), &mut out).unwrap();
        assert_eq!(out, b"abc");
        let format: String = conn
            .query_row(
                "SELECT value FROM metadata WHERE name = 'format'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(format, "pbf");

        let other = dir.path().join("b.mbtiles");
        let mut w = MbtilesWriter::create(&other, &meta(PackageFormat::Png)).unwrap();
        w.insert(TileId::new(5, 1, 1).unwrap(), b"x").unwrap();
        // The same tile twice: the unique index refuses it at the end.
        w.insert(TileId::new(5, 1, 1).unwrap(), b"y").unwrap();
        assert!(w.finish().is_err());
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "only a.mbtiles remains");
        drop(MbtilesWriter::create(&other, &meta(PackageFormat::Png)).unwrap());
        assert!(!other.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
