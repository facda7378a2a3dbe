//! `jointmap export`

use super::{existing_store, parse_bbox, parse_time_arg, parse_to_arg, Cli};
use crate::access::{Principal, Role};
use crate::model::{Feature, Layer};
use crate::store::{Query, StoreError};
use serde_json::Value;
use std::io::Write;
use std::path::PathBuf;

/// The format `jointmap export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// A GeoJSON FeatureCollection.
    Geojson,
    /// Newline-delimited GeoJSON: one Feature per line.
    Ndjson,
    /// CSV: `id`, the geometry as WKT in `wkt`, one column per property
    /// (what `jointmap ingest` reads back).
    Csv,
    /// A GeoPackage with one table named after the layer, its columns the
    /// exported properties, typed from their values (for QGIS, ArcGIS,
    /// GDAL); needs --output.
    Gpkg,
    /// FlatGeobuf with its spatial index: the GeoPackage export's columns
    /// and types (for QGIS, ArcGIS, GDAL); needs --output.
    Fgb,
    /// ESRI Shapefile (`-o NAME.shp`, with its .shx, .dbf, .prj and .cpg;
    /// field names cut to 10 bytes, docs/formats.md): only in a build with
    /// the `gdal` feature.
    Shp,
    /// KML (for Google Earth): only in a build with the `gdal` feature;
    /// needs --output.
    Kml,
}

/// A format written through GDAL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ogr {
    /// ESRI Shapefile.
    Shp,
    /// KML.
    Kml,
}

/// Visits every feature to write, handing each to the sink; the count.
pub(super) type EachFeature<'a> =
    dyn FnMut(&mut dyn FnMut(&Value) -> crate::store::Result<()>) -> super::Result<u64> + 'a;

/// Writes the features `each` visits (twice: the columns first) into
/// `path` through GDAL; the number written.
#[cfg(feature = "gdal")]
pub(super) fn write_ogr(
    format: Ogr,
    path: &std::path::Path,
    name: &str,
    each: &mut EachFeature<'_>,
) -> super::Result<u64> {
    use crate::render::ogr::{OgrFormat, OgrSchema, OgrWriter};
    let mut schema = OgrSchema::default();
    each(&mut |v| {
        schema.note(v);
        Ok(())
    })?;
    let format = match format {
        Ogr::Shp => OgrFormat::Shapefile,
        Ogr::Kml => OgrFormat::Kml,
    };
    let mut out = OgrWriter::create(format, path, name, &schema)?;
    each(&mut |v| out.add(v))?;
    Ok(out.finish()?)
}

/// Without the `gdal` feature: an error saying so.
#[cfg(not(feature = "gdal"))]
pub(super) fn write_ogr(
    format: Ogr,
    _path: &std::path::Path,
    _name: &str,
    _each: &mut EachFeature<'_>,
) -> super::Result<u64> {
    let what = match format {
        Ogr::Shp => "Shapefile",
        Ogr::Kml => "KML",
    };
    Err(StoreError::Aborted(format!(
        "{what} is written through GDAL, but this build of jointmap lacks GDAL support (build it with `cargo build --release --features gdal`, README.md); or export --format gpkg and convert that with ogr2ogr"
    ))
    .into())
}

/// Arguments of `jointmap export`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Layer to export.
    pub layer: Layer,
    /// Output file (default: standard output; required for gpkg, fgb, shp
    /// and kml).
    #[arg(long, short, required_if_eq_any([("format", "gpkg"), ("format", "fgb"), ("format", "shp"), ("format", "kml")]))]
    pub output: Option<PathBuf>,
    /// Only features touching min_lon,min_lat,max_lon,max_lat (min_lon > max_lon crosses the antimeridian).
    #[arg(long, value_parser = parse_bbox, allow_hyphen_values = true)]
    pub bbox: Option<[f64; 4]>,
    /// Only features whose time overlaps from this time on (RFC 3339 or date).
    #[arg(long, value_parser = parse_time_arg)]
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    /// Only features whose time overlaps up to this time (RFC 3339, or a date: through the end of that day).
    #[arg(long, value_parser = parse_to_arg)]
    pub to: Option<chrono::DateTime<chrono::Utc>>,
    /// Newline-delimited GeoJSON (one Feature per line) instead of a
    /// FeatureCollection: the same as `--format ndjson`.
    #[arg(long, conflicts_with = "format")]
    pub ndjson: bool,
    /// Output format.
    #[arg(long, value_enum, default_value = "geojson")]
    pub format: ExportFormat,
    /// Export exactly what ROLE (hr, military, jmac, partner) may see of the
    /// layer, through the access gate as the server serves it to a token of
    /// that role: features it may not see left out, properties it may not
    /// see removed. For handing a partner its share.
    #[arg(long, value_name = "ROLE")]
    pub as_role: Option<Role>,
    /// The server configuration whose `[access]` policy applies with
    /// --as-role (default: the built-in policy).
    #[arg(long, value_name = "FILE", requires = "as_role")]
    pub config: Option<PathBuf>,
}

pub(super) fn run(cli: &Cli, args: &Args) -> super::Result<()> {
    let store = existing_store(cli)?;
    let query = Query {
        bbox: args.bbox,
        from: args.from,
        to: args.to,
    };
    query.validate()?;
    let (gate, _) = super::analysis::gate(args.config.as_deref())?;
    let principal = args.as_role.map(|role| Principal {
        name: format!("cli export --as-role {role}"),
        role,
        ingest: Vec::new(),
    });
    let view = match &principal {
        Some(p) => Some(gate.features(p, args.layer)?),
        None => None,
    };
    let format = if args.ndjson {
        ExportFormat::Ndjson
    } else {
        args.format
    };
    // What the role sees of each feature (everything, for the operator).
    let shown = |f: &Feature| match &view {
        Some(v) => v.show(f),
        None => Some(f.to_geojson()),
    };
    let each = |sink: &mut dyn FnMut(&Value) -> crate::store::Result<()>| {
        let mut n = 0u64;
        store.query(args.layer, &query, &mut |f| {
            if let Some(v) = shown(&f) {
                n += 1;
                sink(&v)?;
            }
            Ok(())
        })?;
        Ok::<u64, crate::Error>(n)
    };
    if let Some(ogr) = match format {
        ExportFormat::Shp => Some(Ogr::Shp),
        ExportFormat::Kml => Some(Ogr::Kml),
        _ => None,
    } {
        let path = args.output.as_ref().ok_or_else(|| {
            StoreError::Aborted("--format shp and kml write a file: give it with --output".into())
        })?;
        let mut visit =
            |sink: &mut dyn FnMut(&Value) -> crate::store::Result<()>| -> super::Result<u64> {
                Ok(each(sink)?)
            };
        let n = write_ogr(ogr, path, args.layer.name(), &mut visit)?;
        if !cli.quiet {
            eprintln!("{}: exported {n} features", args.layer);
        }
        return Ok(());
    }
    if matches!(format, ExportFormat::Gpkg | ExportFormat::Fgb) {
        let path = args.output.as_ref().ok_or_else(|| {
            StoreError::Aborted("--format gpkg and fgb write a file: give it with --output".into())
        })?;
        // Two reads: the columns and their types come from every feature.
        let mut schema = crate::store::PlainSchema::default();
        each(&mut |v| {
            schema.note(v);
            Ok(())
        })?;
        let about = format!("jointmap export of {}", args.layer);
        let n = if format == ExportFormat::Fgb {
            let mut fgb =
                crate::render::fgb::FgbWriter::create(path, args.layer.name(), &about, &schema)?;
            each(&mut |v| fgb.add(v))?;
            fgb.finish()?
        } else {
            let mut gpkg =
                crate::store::PlainGpkg::create(path, args.layer.name(), &about, &schema)?;
            each(&mut |v| gpkg.add(v))?;
            gpkg.finish()?
        };
        if !cli.quiet {
            eprintln!("{}: exported {n} features", args.layer);
        }
        return Ok(());
    }
    // Write beside the target and rename on success, so a failed export never
    // destroys the previous file.
    let tmp = args.output.as_ref().map(|p| {
        let mut t = p.clone().into_os_string();
        t.push(".partial");
        PathBuf::from(t)
    });
    let out: Box<dyn Write> = match &tmp {
        Some(p) => Box::new(
            std::fs::File::create(p)
                .map_err(|e| StoreError::Aborted(format!("{}: {e}", p.display())))?,
        ),
        None => Box::new(super::stdout()),
    };
    let mut out = std::io::BufWriter::with_capacity(1 << 20, out);
    let io = |e: std::io::Error| StoreError::Aborted(format!("writing output: {e}"));
    // Text formats: GeoJSON, NDJSON or CSV (a GeoPackage was written above).
    let n = if format == ExportFormat::Csv {
        // Two reads: the header names every property some feature has.
        let mut extras = Vec::new();
        each(&mut |v| {
            crate::render::table::note_extras(args.layer, v, &mut extras);
            Ok(())
        })?;
        let columns = crate::render::table::columns(args.layer, &extras);
        crate::render::table::header(&mut out, &columns).map_err(io)?;
        each(&mut |v| crate::render::table::row(&mut out, &columns, v).map_err(io))?
    } else {
        let nd = format == ExportFormat::Ndjson;
        if !nd {
            out.write_all(b"{\"type\":\"FeatureCollection\",\"features\":[\n")
                .map_err(io)?;
        }
        let mut first = true;
        let n = each(&mut |v| {
            let mut write = || -> std::io::Result<()> {
                if !nd && !first {
                    out.write_all(b",\n")?;
                }
                first = false;
                serde_json::to_writer(&mut out, v)?;
                if nd {
                    out.write_all(b"\n")?;
                }
                Ok(())
            };
            write().map_err(io)
        })?;
        if !nd {
            out.write_all(b"\n]}\n").map_err(io)?;
        }
        n
    };
    out.flush().map_err(io)?;
    drop(out);
    if let (Some(tmp), Some(target)) = (&tmp, &args.output) {
        std::fs::rename(tmp, target)
            .map_err(|e| StoreError::Aborted(format!("{}: {e}", target.display())))?;
    }
    if !cli.quiet && args.output.is_some() {
        eprintln!("{}: exported {n} features", args.layer);
    }
    Ok(())
}
