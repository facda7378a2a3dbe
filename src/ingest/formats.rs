//! Input formats: each reader turns its records into what the GeoJSON reader
//! yields (one GeoJSON Feature text per record, with its 0-based index and
//! where it began), so validation, mappings and presets, atomicity, the
//! rejects file and the messages naming a record are the same whatever the
//! format.

use super::{csv, fgb, geojson, gpx, IngestOptions};
use crate::model::RawFeature;
use std::io::BufRead;
use std::path::Path;

/// The format of an input file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// GeoJSON: a FeatureCollection, a Feature, or newline-delimited features.
    Geojson,
    /// CSV with a header row: longitude/latitude or WKT columns.
    Csv,
    /// GPX: tracks as patrols (per-point times as vertex times), or
    /// waypoints as sightings or sites through a mapping.
    Gpx,
    /// FlatGeobuf (version 3) in WGS 84; also recognised by its magic bytes.
    Fgb,
    /// Any vector format GDAL reads (Shapefile, GeoPackage, KML/KMZ, ...),
    /// reprojected to WGS 84: only in a build with the `gdal` feature.
    Gdal,
}

/// Extensions of formats only GDAL reads: such a file is read through GDAL
/// (or refused, naming the missing feature, by a build without it).
pub const GDAL_EXTENSIONS: &[&str] = &[
    "shp", "kml", "kmz", "gpkg", "gml", "gmt", "tab", "mif", "sqlite", "dxf", "ods", "xlsx",
];

/// What a build without the `gdal` feature says of an input that needs it.
pub const NO_GDAL: &str = "this build of jointmap lacks GDAL support (build it with `cargo build --release --features gdal`, README.md), or convert the file first: ogr2ogr -f GeoJSON -t_srs EPSG:4326 out.geojson IN";

impl Format {
    /// The format of `path` by its extension (`.csv`, `.gpx`, `.fgb`, or
    /// one of [`GDAL_EXTENSIONS`]); GeoJSON for anything else, standard
    /// input included.
    pub fn of_path(path: &Path) -> Format {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("csv") => Format::Csv,
            Some("gpx") => Format::Gpx,
            Some("fgb") => Format::Fgb,
            Some(e) if GDAL_EXTENSIONS.contains(&e) => Format::Gdal,
            _ => Format::Geojson,
        }
    }
}

/// Reads every record of `reader` (the input `path`, in `opts.format` or the
/// format of its extension) and hands each to `sink` as a GeoJSON Feature
/// text; returns the number of records or a message naming the first
/// structural problem (position, row or element).
pub(super) fn read_features<R: BufRead>(
    reader: R,
    path: &Path,
    opts: &IngestOptions,
    sink: &mut dyn FnMut(RawFeature) -> Result<(), String>,
) -> Result<usize, String> {
    let max = opts.bounds.max_feature_bytes;
    let mut reader = reader;
    let format = match opts.format {
        Some(f) => f,
        // A FlatGeobuf file is known by its magic bytes whatever its name.
        None => match reader.fill_buf() {
            Ok(head) if fgb::looks_like(head) => Format::Fgb,
            _ => Format::of_path(path),
        },
    };
    if format != Format::Gdal {
        check_prj(path)?;
    }
    match format {
        // Each feature's syntax is checked by the workers (see `validate`).
        Format::Geojson => geojson::read_features_deferred(reader, max, sink),
        Format::Csv => csv::read_features(reader, &csv::Columns::plan(opts), max, sink),
        Format::Gpx => gpx::read_features(reader, opts, max, sink),
        Format::Fgb => fgb::read_features(reader, max, sink),
        Format::Gdal => read_gdal(reader, path, opts, sink),
    }
}

#[cfg(feature = "gdal")]
fn read_gdal<R: BufRead>(
    reader: R,
    path: &Path,
    opts: &IngestOptions,
    sink: &mut dyn FnMut(RawFeature) -> Result<(), String>,
) -> Result<usize, String> {
    // GDAL opens the file (and its sidecar files) by name itself.
    drop(reader);
    super::gdal::read_features(path, opts, sink)
}

#[cfg(not(feature = "gdal"))]
fn read_gdal<R: BufRead>(
    _reader: R,
    path: &Path,
    _opts: &IngestOptions,
    _sink: &mut dyn FnMut(RawFeature) -> Result<(), String>,
) -> Result<usize, String> {
    let what = match path.extension().and_then(|e| e.to_str()) {
        Some(e) => format!("a .{e} file is read through GDAL"),
        None => "--format gdal reads through GDAL".to_string(),
    };
    Err(format!("{what}, but {NO_GDAL}"))
}

/// The `.prj` file beside `path` (same stem, `.prj` in any case), if any.
pub fn prj_beside(path: &Path) -> Option<std::path::PathBuf> {
    let stem = path.file_stem()?.to_str()?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    ["prj", "PRJ", "Prj"]
        .iter()
        .map(|e| dir.join(format!("{stem}.{e}")))
        .find(|p| p.is_file())
}

/// Whether the WKT of a `.prj` file is WGS 84 longitude/latitude: a
/// geographic CRS on the WGS 84 datum, nothing projected.
pub fn prj_is_wgs84(wkt: &str) -> bool {
    let w = wkt
        .trim_start_matches('\u{feff}')
        .trim()
        .to_ascii_uppercase();
    let geographic = w.starts_with("GEOGCS[") || w.starts_with("GEOGCRS[");
    let datum = w.contains("WGS_1984") || w.contains("WGS 1984") || w.contains("WGS 84");
    geographic && datum && !w.contains("PROJCS") && !w.contains("PROJCRS")
}

/// A file read by a pure-Rust reader is WGS 84 longitude/latitude: a `.prj`
/// beside it declaring anything else refuses it, never a guess.
fn check_prj(path: &Path) -> Result<(), String> {
    if path.as_os_str() == "-" {
        return Ok(());
    }
    let Some(prj) = prj_beside(path) else {
        return Ok(());
    };
    let wkt = std::fs::read_to_string(&prj).map_err(|e| format!("{}: {e}", prj.display()))?;
    if prj_is_wgs84(&wkt) {
        return Ok(());
    }
    let name: String = wkt.chars().take(80).collect();
    let how = if cfg!(feature = "gdal") {
        "read it with --format gdal, which reprojects through GDAL".to_string()
    } else {
        NO_GDAL.to_string()
    };
    Err(format!(
        "{} beside it declares {name:?}, not WGS 84 longitude/latitude; jointmap does not guess: {how}",
        prj.display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_by_extension() {
        for (p, f) in [
            ("a.csv", Format::Csv),
            ("a.CSV", Format::Csv),
            ("dir.gpx/a.gpx", Format::Gpx),
            ("a.fgb", Format::Fgb),
            ("a.geojson", Format::Geojson),
            ("a.json", Format::Geojson),
            ("-", Format::Geojson),
            ("csv", Format::Geojson),
            ("a.shp", Format::Gdal),
            ("a.KMZ", Format::Gdal),
            ("a.gpkg", Format::Gdal),
        ] {
            assert_eq!(Format::of_path(Path::new(p)), f, "{p}");
        }
    }

    #[test]
    fn prj_files_of_wgs84_and_others() {
        let wgs84 = r#"GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]"#;
        assert!(prj_is_wgs84(wgs84));
        assert!(prj_is_wgs84(&format!("\u{feff}{wgs84}\n")));
        let utm = r#"PROJCS["WGS_1984_UTM_Zone_34N",GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"]]"#;
        assert!(!prj_is_wgs84(utm));
        let other = r#"GEOGCS["GCS_Clarke_1880",DATUM["D_Clarke_1880",SPHEROID["Clarke_1880_RGS",6378249.145,293.465]]]"#;
        assert!(!prj_is_wgs84(other));
        assert!(!prj_is_wgs84(""));
    }

    /// A file beside a `.prj` that is not WGS 84 is refused before a record
    /// is read, naming the `.prj` and what the build can do.
    #[test]
    fn a_foreign_prj_refuses_the_file() {
        let dir = tempfile::TempDir::new().expect("temp dir");
        let csv = dir.path().join("e.csv");
        std::fs::write(&csv, "id,lon,lat\na,18.5,4.4\n").expect("write");
        std::fs::write(
            dir.path().join("e.prj"),
            r#"PROJCS["WGS_1984_UTM_Zone_34N",GEOGCS["GCS_WGS_1984"]]"#,
        )
        .expect("write");
        let opts = IngestOptions::new(crate::model::Layer::Incidents);
        let mut n = 0;
        let e = read_features(
            std::io::BufReader::new(std::fs::File::open(&csv).expect("open")),
            &csv,
            &opts,
            &mut |_| {
                n += 1;
                Ok(())
            },
        )
        .expect_err("refused");
        assert_eq!(n, 0);
        assert!(e.contains("e.prj beside it declares"), "{e}");
        assert!(e.contains("UTM_Zone_34N"), "{e}");
        if cfg!(feature = "gdal") {
            assert!(e.contains("--format gdal"), "{e}");
        } else {
            assert!(e.contains("lacks GDAL support"), "{e}");
        }
    }

    /// Without the feature, a file only GDAL reads is refused naming the
    /// missing support, never guessed at.
    #[cfg(not(feature = "gdal"))]
    #[test]
    fn gdal_formats_need_the_feature() {
        let opts = IngestOptions::new(crate::model::Layer::Incidents);
        for name in ["a.shp", "b.kml", "c.gpkg"] {
            let e = read_features(&b"whatever"[..], Path::new(name), &opts, &mut |_| Ok(()))
                .expect_err("refused");
            assert!(e.contains("lacks GDAL support"), "{name}: {e}");
            assert!(e.contains("through GDAL"), "{name}: {e}");
        }
    }
}
