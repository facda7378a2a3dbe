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
}

impl Format {
    /// The format of `path` by its extension (`.csv`, `.gpx`, `.fgb`);
    /// GeoJSON for anything else, standard input included.
    pub fn of_path(path: &Path) -> Format {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("csv") => Format::Csv,
            Some("gpx") => Format::Gpx,
            Some("fgb") => Format::Fgb,
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
    match format {
        Format::Geojson => geojson::read_features_limited(reader, max, sink),
        Format::Csv => csv::read_features(reader, &csv::Columns::plan(opts), max, sink),
        Format::Gpx => gpx::read_features(reader, opts, max, sink),
        Format::Fgb => fgb::read_features(reader, max, sink),
    }
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
        ] {
            assert_eq!(Format::of_path(Path::new(p)), f, "{p}");
        }
    }
}
