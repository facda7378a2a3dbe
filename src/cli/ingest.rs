//! `jointmap ingest`

use super::{progress_bar, Cli};
use crate::ingest::{ingest, Format, IngestError, IngestOptions, Input, Mapping, Preset};
use crate::model::Layer;
use std::path::PathBuf;

/// Arguments of `jointmap ingest`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Target layer: incidents, sightings, patrols, bases or sites (the
    /// singular, e.g. `incident`, is accepted too).
    pub layer: Layer,
    /// Input files: GeoJSON (FeatureCollection, Feature or newline-delimited),
    /// CSV (`.csv`), GPX (`.gpx`) or FlatGeobuf (`.fgb`, or its magic
    /// bytes), by extension unless --format says; `-` reads stdin (GeoJSON
    /// unless --format says or it starts as FlatGeobuf). With the `gdal`
    /// feature also whatever GDAL reads (`.shp`, `.kml`, `.kmz`, `.gpkg`,
    /// ... by extension, anything with `--format gdal`), reprojected to WGS 84.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// The format of every input, whatever its extension (docs/formats.md).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Of an input read through GDAL with several layers holding records
    /// (a GeoPackage), the layer to read.
    #[arg(long, value_name = "NAME")]
    pub source_layer: Option<String>,
    /// Store the valid features even when some are rejected.
    #[arg(long)]
    pub skip_invalid: bool,
    /// Where rejected features go, verbatim with their reasons (newline-delimited
    /// JSON), with or without --skip-invalid. An earlier run's file there is
    /// removed first; this run's appears (atomically) only when something was
    /// rejected, after the store committed or refused the batch. It may not
    /// name the store or an input.
    #[arg(long, value_name = "FILE", default_value = "jointmap-rejects.ndjson")]
    pub rejects: PathBuf,
    /// Plausibility bounds (docs/data-model.md#plausibility-bounds).
    #[command(flatten)]
    pub bounds: BoundsArgs,
    /// Read a foreign schema through a built-in mapping: ucdp-ged, acled.
    #[arg(long, value_name = "NAME", conflicts_with = "mapping")]
    pub preset: Option<String>,
    /// Read a foreign schema through a mapping file (TOML; see docs/data-model.md).
    #[arg(long, value_name = "FILE")]
    pub mapping: Option<PathBuf>,
    /// Provenance recorded with every stored feature (`jointmap delete
    /// --source` removes it again); default: the input files' names.
    #[arg(long, value_name = "NAME")]
    pub source: Option<String>,
}

/// The default provenance of an ingest: its input files' names (`stdin` for `-`).
fn default_source(files: &[PathBuf]) -> String {
    let names: Vec<String> = files
        .iter()
        .map(|p| match p.file_name() {
            _ if p.as_os_str() == "-" => "stdin".to_string(),
            Some(n) => n.to_string_lossy().into_owned(),
            None => p.display().to_string(),
        })
        .collect();
    names.join(",")
}

/// The plausibility bounds of ingest, defaults in [`crate::model::bounds`].
#[derive(Debug, clap::Args)]
pub struct BoundsArgs {
    /// Refuse times before this date.
    #[arg(long, value_name = "DATE", default_value = crate::model::bounds::EARLIEST, value_parser = super::parse_time_arg)]
    pub earliest: chrono::DateTime<chrono::Utc>,
    /// Refuse times more than this many days after now.
    #[arg(long, value_name = "DAYS", default_value_t = crate::model::bounds::FUTURE_DAYS, value_parser = clap::value_parser!(i64).range(0..=36_500))]
    pub future_days: i64,
    /// Refuse counts (killed, injured, affected, strength) above this.
    #[arg(long, value_name = "N", default_value_t = crate::model::bounds::MAX_COUNT, value_parser = clap::value_parser!(i64).range(0..))]
    pub max_count: i64,
    /// Refuse a site population above this.
    #[arg(long, value_name = "N", default_value_t = crate::model::bounds::MAX_POPULATION, value_parser = clap::value_parser!(i64).range(0..))]
    pub max_population: i64,
    /// Refuse a JSON string (key or value) longer than this many bytes.
    #[arg(long, value_name = "BYTES", default_value_t = crate::model::bounds::MAX_STRING_BYTES)]
    pub max_string_bytes: usize,
    /// Refuse a feature whose GeoJSON text is longer than this many bytes
    /// (checked while reading, so memory stays bounded).
    #[arg(long, value_name = "BYTES", default_value_t = crate::model::bounds::MAX_FEATURE_BYTES)]
    pub max_feature_bytes: usize,
}

impl BoundsArgs {
    /// The bounds these flags give, `latest` counted from now.
    pub fn bounds(&self) -> crate::model::Bounds {
        crate::model::Bounds {
            earliest: self.earliest,
            latest: chrono::Utc::now() + chrono::Duration::days(self.future_days),
            max_count: self.max_count,
            max_population: self.max_population,
            max_string_bytes: self.max_string_bytes,
            max_feature_bytes: self.max_feature_bytes,
        }
    }
}

pub(super) fn run(cli: &Cli, args: &Args) -> super::Result<()> {
    let preset = match (&args.preset, &args.mapping) {
        (Some(name), _) => Some(Preset::builtin(name).ok_or_else(|| IngestError::Mapping {
            path: name.clone(),
            reason: format!(
                "unknown preset; built-in presets: {}",
                Preset::NAMES.join(", ")
            ),
        })?),
        (None, Some(path)) => {
            let err = |reason: String| IngestError::Mapping {
                path: path.display().to_string(),
                reason,
            };
            let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
            let mapping = Mapping::from_toml(&text)
                .map_err(err)?
                .named(path.display().to_string());
            mapping.check_targets(args.layer).map_err(err)?;
            Some(Preset::File(mapping))
        }
        (None, None) => None,
    };
    let opts = IngestOptions {
        layer: args.layer,
        skip_invalid: args.skip_invalid,
        rejects: args.rejects.clone(),
        preset,
        source: Some(
            args.source
                .clone()
                .unwrap_or_else(|| default_source(&args.files)),
        ),
        bounds: args.bounds.bounds(),
        format: args.format,
        source_layer: args.source_layer.clone(),
        // A local operator with the file: full rights, recorded as "cli".
        ..IngestOptions::new(args.layer)
    };
    let total: u64 = args
        .files
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let existed = cli.store.path().is_none_or(|p| p.exists());
    let store = crate::store::open_with(&cli.store, &crate::store::OpenOptions::default())?;
    let bar = progress_bar(cli.quiet, total, "bytes");
    bar.set_message(format!("ingest {}", args.layer));
    let inputs = args.files.iter().cloned().map(Input::Path).collect();
    let result = ingest(&*store, &opts, inputs, &|bytes, _| bar.set_position(bytes));
    bar.finish_and_clear();
    drop(store);
    match result {
        Ok(r) => {
            if !cli.quiet {
                eprintln!(
                    "{}: read {}, stored {} ({} new, {} updated), rejected {}",
                    args.layer, r.read, r.stored, r.inserted, r.updated, r.rejected
                );
                if let Some(p) = &r.rejects_file {
                    eprintln!("rejected features, verbatim with reasons: {}", p.display());
                }
            }
            Ok(())
        }
        Err(e) => {
            if let (false, Some(path)) = (existed, cli.store.path()) {
                // The store did not exist before: leave no empty store behind.
                for suffix in ["", "-wal", "-shm"] {
                    let mut p = path.to_path_buf().into_os_string();
                    p.push(suffix);
                    let _ = std::fs::remove_file(p);
                }
            }
            if let IngestError::Invalid { rejections, .. } = &e {
                const SHOWN: usize = 50;
                for r in rejections.iter().take(SHOWN) {
                    eprintln!("{r}");
                }
                if rejections.len() > SHOWN {
                    eprintln!(
                        "... and {} more (all are in the rejects file)",
                        rejections.len() - SHOWN
                    );
                }
            }
            Err(e.into())
        }
    }
}
