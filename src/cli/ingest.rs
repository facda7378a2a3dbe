//! `jointmap ingest`

use super::{progress_bar, Cli};
use crate::ingest::{ingest, IngestError, IngestOptions, Input, Mapping, Preset};
use crate::model::Layer;
use crate::store::GpkgStore;
use std::path::PathBuf;

/// Arguments of `jointmap ingest`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Target layer: incidents, sightings, patrols or bases.
    pub layer: Layer,
    /// GeoJSON files (FeatureCollection, Feature or newline-delimited); `-` reads stdin.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Store the valid features even when some are rejected.
    #[arg(long)]
    pub skip_invalid: bool,
    /// Where rejected features go, verbatim with their reasons (newline-delimited
    /// JSON); written only when something is rejected, with or without --skip-invalid.
    #[arg(long, value_name = "FILE", default_value = "jointmap-rejects.ndjson")]
    pub rejects: PathBuf,
    /// Read a foreign schema through a built-in mapping: ucdp-ged.
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
            Some(Preset::File(Mapping::from_toml(&text).map_err(err)?))
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
        // A local operator with the file: full rights, recorded as "cli".
        ..IngestOptions::new(args.layer)
    };
    let total: u64 = args
        .files
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let existed = cli.store.exists();
    let store = GpkgStore::open_unindexed(&cli.store)?;
    let bar = progress_bar(cli.quiet, total, "bytes");
    bar.set_message(format!("ingest {}", args.layer));
    let inputs = args.files.iter().cloned().map(Input::Path).collect();
    let result = ingest(&store, &opts, inputs, &|bytes, _| bar.set_position(bytes));
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
            if !existed {
                // The store did not exist before: leave no empty store behind.
                for suffix in ["", "-wal", "-shm"] {
                    let mut p = cli.store.clone().into_os_string();
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
