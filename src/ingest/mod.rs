//! Ingest: read GeoJSON (optionally through a foreign-schema mapping), validate
//! every feature in parallel, and write one atomic batch to the store.
//!
//! Invariants: by default a single invalid feature aborts the whole invocation
//! and the store is left untouched; with `skip_invalid` the valid features are
//! stored and every rejected one is written verbatim, with its reasons, to a
//! rejects file. Either way nothing is silently dropped. Re-ingesting an id
//! replaces the stored feature (upsert).

pub mod geojson;
pub mod mapping;
pub mod presets;

pub use mapping::Mapping;
pub use presets::Preset;

use crate::model::{Feature, Layer, Problem, RawFeature};
use crate::store::{BatchStats, Store, StoreError};
use rayon::prelude::*;
use rustc_hash::FxHashMap;
use serde_json::value::RawValue;
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;

/// Features validated together; large enough to keep both cores busy, small
/// enough that memory stays flat whatever the file size.
const CHUNK: usize = 4096;

/// Errors of ingest.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// An input could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The input.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The input is not GeoJSON we can read (syntax, structure, CRS).
    #[error("{path}: {reason}; nothing was stored")]
    Syntax {
        /// The input.
        path: String,
        /// What is wrong, with the position where serde_json found it.
        reason: String,
    },
    /// Features failed validation (all-or-nothing mode).
    #[error("{} of {total} features rejected; nothing was stored (every rejected feature, verbatim with its reasons: {}; --skip-invalid stores the valid ones)", rejections.len(), rejects_file.as_ref().map(|p| p.display().to_string()).unwrap_or_default())]
    Invalid {
        /// Every rejected feature with its problems.
        rejections: Vec<Rejection>,
        /// Features read.
        total: u64,
        /// Where the rejected features were written.
        rejects_file: Option<PathBuf>,
    },
    /// A mapping file could not be used.
    #[error("mapping {path}: {reason}")]
    Mapping {
        /// The mapping file.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The rejects file could not be written; nothing was stored.
    #[error("rejects file {path}: {source}; nothing was stored")]
    Rejects {
        /// The rejects file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The store failed; nothing was stored.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl IngestError {
    /// Whether the input, not jointmap, is at fault (exit code 2).
    pub fn is_bad_input(&self) -> bool {
        match self {
            IngestError::Io { .. }
            | IngestError::Syntax { .. }
            | IngestError::Invalid { .. }
            | IngestError::Mapping { .. } => true,
            IngestError::Rejects { .. } => false,
            IngestError::Store(e) => e.is_bad_input(),
        }
    }
}

/// One rejected feature: where it was, its id, and every problem.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    /// Input name (file path, `-` for standard input).
    pub source: String,
    /// 0-based position of the feature in that input.
    pub index: usize,
    /// The feature's id, when it had a readable one.
    pub id: Option<String>,
    /// Every problem found.
    pub problems: Vec<Problem>,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: feature #{}", self.source, self.index)?;
        if let Some(id) = &self.id {
            write!(f, " (id {id:?})")?;
        }
        for (i, p) in self.problems.iter().enumerate() {
            write!(f, "{} {p}", if i == 0 { ":" } else { ";" })?;
        }
        Ok(())
    }
}

/// Where features come from.
pub enum Input<'a> {
    /// A GeoJSON file (`-` reads standard input).
    Path(PathBuf),
    /// Features already serialised, e.g. from the demo generator.
    Features {
        /// Name used in messages.
        name: String,
        /// One GeoJSON Feature per item.
        features: Box<dyn Iterator<Item = String> + Send + 'a>,
    },
}

impl Input<'_> {
    fn name(&self) -> String {
        match self {
            Input::Path(p) => p.display().to_string(),
            Input::Features { name, .. } => name.clone(),
        }
    }
}

/// How to ingest.
#[derive(Debug, Clone)]
pub struct IngestOptions {
    /// Target layer.
    pub layer: Layer,
    /// Store the valid features despite rejected ones.
    pub skip_invalid: bool,
    /// Rejects file (newline-delimited JSON): every rejected feature, verbatim,
    /// with its reasons. Created only when something is rejected.
    pub rejects: PathBuf,
    /// Foreign schema to map from.
    pub preset: Option<Preset>,
}

impl IngestOptions {
    /// All-or-nothing ingest of plain jointmap GeoJSON into `layer`.
    pub fn new(layer: Layer) -> Self {
        IngestOptions {
            layer,
            skip_invalid: false,
            rejects: PathBuf::from(format!("jointmap-rejects-{layer}.ndjson")),
            preset: None,
        }
    }
}

/// What an ingest did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct IngestReport {
    /// Features read from all inputs.
    pub read: u64,
    /// Features stored (new or updated).
    pub stored: u64,
    /// Of those, new to the store.
    pub inserted: u64,
    /// Of those, replacing a feature with the same id.
    pub updated: u64,
    /// Features rejected (stored with `skip_invalid`, else the error).
    pub rejected: u64,
    /// The rejects file, when anything was rejected.
    pub rejects_file: Option<PathBuf>,
}

/// Progress as the inputs are read: bytes read from files and features read.
pub type Progress<'a> = &'a (dyn Fn(u64, u64) + Sync);

enum Msg {
    Chunk(usize, Vec<RawFeature>),
    Failed(IngestError),
}

type Checked = (
    usize,
    Vec<(RawFeature, Result<Feature, crate::model::feature::Invalid>)>,
);

/// Reads, validates and stores features from `inputs` into one atomic batch.
pub fn ingest(
    store: &dyn Store,
    opts: &IngestOptions,
    inputs: Vec<Input<'_>>,
    progress: Progress<'_>,
) -> Result<IngestReport, IngestError> {
    let names: Vec<String> = inputs.iter().map(Input::name).collect();
    // Writing rejects over an input would truncate it while it is being read.
    let same = |p: &Path| match (
        std::fs::canonicalize(p),
        std::fs::canonicalize(&opts.rejects),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if inputs
        .iter()
        .any(|i| matches!(i, Input::Path(p) if same(p)))
    {
        return Err(IngestError::Io {
            path: opts.rejects.display().to_string(),
            source: std::io::Error::other(
                "the rejects file is also an input; choose another --rejects",
            ),
        });
    }
    let mut batch = store.begin()?;
    let bytes = Arc::new(AtomicU64::new(0));
    let (raw_tx, raw_rx) = sync_channel::<Msg>(4);
    let (ok_tx, ok_rx) = sync_channel::<Result<Checked, IngestError>>(4);
    let outcome = std::thread::scope(|s| {
        let bytes_r = bytes.clone();
        s.spawn(move || read_inputs(inputs, raw_tx, bytes_r, progress));
        s.spawn(move || validate(opts, raw_rx, ok_tx));
        write(opts, &names, ok_rx, &mut *batch)
    });
    let mut report = outcome?;
    let BatchStats { inserted, updated } = batch.commit()?;
    report.inserted = inserted;
    report.updated = updated;
    Ok(report)
}

fn open_input(path: &Path) -> Result<Box<dyn BufRead + Send>, IngestError> {
    if path.as_os_str() == "-" {
        return Ok(Box::new(BufReader::with_capacity(
            1 << 20,
            std::io::stdin(),
        )));
    }
    let file = File::open(path).map_err(|source| IngestError::Io {
        path: path.display().to_string(),
        source,
    })?;
    Ok(Box::new(BufReader::with_capacity(1 << 20, file)))
}

fn read_inputs(
    inputs: Vec<Input<'_>>,
    tx: SyncSender<Msg>,
    bytes: Arc<AtomicU64>,
    progress: Progress<'_>,
) {
    let mut features = 0u64;
    for (n, input) in inputs.into_iter().enumerate() {
        let mut chunk = Vec::with_capacity(CHUNK);
        let mut send = |f: RawFeature, chunk: &mut Vec<RawFeature>| -> Result<(), String> {
            chunk.push(f);
            features += 1;
            if chunk.len() == CHUNK {
                progress(bytes.load(Ordering::Relaxed), features);
                tx.send(Msg::Chunk(
                    n,
                    std::mem::replace(chunk, Vec::with_capacity(CHUNK)),
                ))
                .map_err(|_| "ingest stopped".to_string())?;
            }
            Ok(())
        };
        let result = match input {
            Input::Path(path) => {
                let name = path.display().to_string();
                match open_input(&path) {
                    Err(e) => Err(e),
                    Ok(r) => {
                        let r = BufReader::with_capacity(
                            1 << 16,
                            geojson::CountingReader::new(r, bytes.clone()),
                        );
                        geojson::read_features(r, &mut |f| send(f, &mut chunk))
                            .map(|_| ())
                            .map_err(|reason| IngestError::Syntax { path: name, reason })
                    }
                }
            }
            Input::Features {
                name,
                features: items,
            } => items
                .enumerate()
                .try_for_each(|(index, text)| send(RawFeature { index, text }, &mut chunk))
                .map_err(|reason| IngestError::Syntax { path: name, reason }),
        };
        if let Err(e) = result {
            let _ = tx.send(Msg::Failed(e));
            return;
        }
        if !chunk.is_empty() && tx.send(Msg::Chunk(n, chunk)).is_err() {
            return;
        }
        progress(bytes.load(Ordering::Relaxed), features);
    }
}

fn validate(opts: &IngestOptions, rx: Receiver<Msg>, tx: SyncSender<Result<Checked, IngestError>>) {
    for msg in rx {
        let out = match msg {
            Msg::Failed(e) => Err(e),
            Msg::Chunk(n, raws) => Ok((
                n,
                raws.into_par_iter()
                    .map(|raw| {
                        let checked = check(opts, &raw.text);
                        (raw, checked)
                    })
                    .collect(),
            )),
        };
        if tx.send(out).is_err() {
            return;
        }
    }
}

fn check(opts: &IngestOptions, text: &str) -> Result<Feature, crate::model::feature::Invalid> {
    match &opts.preset {
        None => Feature::from_geojson_str(opts.layer, text),
        Some(preset) => match serde_json::from_str::<serde_json::Value>(text) {
            Ok(mut v) => {
                preset.apply(&mut v);
                Feature::from_geojson(opts.layer, v, text)
            }
            Err(_) => Feature::from_geojson_str(opts.layer, text),
        },
    }
}

struct Rejects {
    path: PathBuf,
    out: Option<BufWriter<File>>,
}

impl Rejects {
    fn write(&mut self, r: &Rejection, text: &str) -> Result<(), IngestError> {
        let err = |source| IngestError::Rejects {
            path: self.path.display().to_string(),
            source,
        };
        if self.out.is_none() {
            self.out = Some(BufWriter::new(File::create(&self.path).map_err(err)?));
        }
        // One line per rejected feature: a pretty-printed feature's line breaks
        // are whitespace between tokens (JSON strings cannot hold raw ones), so
        // turning them into spaces keeps the feature otherwise verbatim.
        let text = if text.contains(['\n', '\r']) {
            text.replace(['\n', '\r'], " ")
        } else {
            text.to_string()
        };
        let feature = RawValue::from_string(text).map_err(|e| err(std::io::Error::other(e)))?;
        #[derive(serde::Serialize)]
        struct Line<'a> {
            source: &'a str,
            index: usize,
            id: &'a Option<String>,
            problems: &'a [Problem],
            feature: &'a RawValue,
        }
        let line = Line {
            source: &r.source,
            index: r.index,
            id: &r.id,
            problems: &r.problems,
            feature: &feature,
        };
        if let Some(out) = self.out.as_mut() {
            serde_json::to_writer(&mut *out, &line).map_err(|e| err(e.into()))?;
            writeln!(out).map_err(err)?;
        }
        Ok(())
    }

    fn finish(self) -> Result<Option<PathBuf>, IngestError> {
        match self.out {
            None => Ok(None),
            Some(mut out) => {
                out.flush().map_err(|source| IngestError::Rejects {
                    path: self.path.display().to_string(),
                    source,
                })?;
                Ok(Some(self.path))
            }
        }
    }
}

fn write(
    opts: &IngestOptions,
    names: &[String],
    rx: Receiver<Result<Checked, IngestError>>,
    batch: &mut dyn crate::store::Batch,
) -> Result<IngestReport, IngestError> {
    let mut report = IngestReport::default();
    let mut rejections = Vec::new();
    let mut rejects = Rejects {
        path: opts.rejects.clone(),
        out: None,
    };
    let mut seen: FxHashMap<String, usize> = FxHashMap::default();
    let mut current = usize::MAX;
    for msg in rx {
        let (n, items) = msg?;
        if n != current {
            // Duplicate ids are checked within one file; across files the later one wins.
            seen.clear();
            current = n;
        }
        for (raw, checked) in items {
            report.read += 1;
            let mut reject = |id: Option<String>,
                              problems: Vec<Problem>,
                              text: &str|
             -> Result<(), IngestError> {
                let r = Rejection {
                    source: names.get(n).cloned().unwrap_or_default(),
                    index: raw.index,
                    id,
                    problems,
                };
                // Written in both modes, so that the full list is at hand even
                // when all-or-nothing refuses the batch.
                rejects.write(&r, text)?;
                report.rejected += 1;
                if !opts.skip_invalid {
                    rejections.push(r);
                }
                Ok(())
            };
            match checked {
                Ok(feature) => {
                    if let Some(first) = seen.get(&feature.id) {
                        let problem = Problem::new(
                            "id",
                            format!(
                                "duplicate id {:?}: also feature #{first} of this file",
                                feature.id
                            ),
                        );
                        reject(Some(feature.id.clone()), vec![problem], &raw.text)?;
                        continue;
                    }
                    seen.insert(feature.id.clone(), raw.index);
                    if rejections.is_empty() {
                        batch.upsert(opts.layer, &feature)?;
                        report.stored += 1;
                    }
                }
                Err(invalid) => {
                    if let Some(id) = &invalid.id {
                        seen.entry(id.clone()).or_insert(raw.index);
                    }
                    reject(invalid.id, invalid.problems, &raw.text)?;
                }
            }
        }
    }
    let rejects_file = rejects.finish()?;
    if !rejections.is_empty() {
        return Err(IngestError::Invalid {
            rejections,
            total: report.read,
            rejects_file,
        });
    }
    report.rejects_file = rejects_file;
    Ok(report)
}
