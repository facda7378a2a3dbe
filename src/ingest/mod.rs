//! Ingest: read GeoJSON (optionally through a foreign-schema mapping), validate
//! every feature in parallel, and write one atomic batch to the store.
//!
//! Invariants: by default a single invalid feature aborts the whole invocation
//! and the store is left untouched; with `skip_invalid` the valid features are
//! stored and every rejected one is written verbatim, with its reasons, to a
//! rejects file. Either way nothing is silently dropped. Re-ingesting an id
//! replaces the stored feature (upsert); the store keeps the replaced version.
//!
//! Who may write what is not decided here (ingest knows no roles): a caller
//! that acts for someone with limited rights (the server, for a token) sets
//! [`IngestOptions::write_check`], which sees each valid feature with the
//! version stored under its id, read inside the batch's write transaction.
//! One refused feature refuses the whole batch, whatever `skip_invalid` says.
//! Checked features are held until the input is read (the server's bodies are
//! bounded); without a check, memory stays flat.

pub mod csv;
pub mod fgb;
pub mod formats;
#[cfg(feature = "gdal")]
pub mod gdal;
pub mod geojson;
pub mod gpx;
pub mod mapping;
pub mod paths;
pub mod presets;
mod seen;
mod split;
mod wkt;

pub use formats::Format;
pub use mapping::Mapping;
pub use presets::Preset;

use crate::model::{Bounds, Feature, Layer, Parts, Problem, RawFeature};
use crate::store::{BatchStats, Prepared, Store, StoreError, LOCAL_AUTHOR};
use rayon::prelude::*;
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

/// A chunk is sent on once its features' texts reach this many bytes, so at
/// most a few chunks of bounded size are in flight.
const CHUNK_BYTES: usize = 16 << 20;

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
    /// An output would overwrite the store or an input; nothing was written.
    #[error("{0}")]
    Overwrite(String),
    /// The store committed, but the rejects file could not be put in place.
    #[error("rejects file {path}: {source}; the {stored} valid features were stored, but the rejected ones are not recorded: ingest the input again to get them")]
    RejectsAfterCommit {
        /// The rejects file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
        /// Features stored.
        stored: u64,
    },
    /// The write check refused a feature; nothing was stored.
    #[error("{input}: feature #{index} (id {id:?}): {reason}; nothing was stored")]
    Refused {
        /// Input name.
        input: String,
        /// 0-based position of the feature in that input.
        index: usize,
        /// The feature's id.
        id: String,
        /// The check's reason, as it gave it.
        reason: String,
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
            | IngestError::Mapping { .. }
            | IngestError::Overwrite(_)
            | IngestError::Refused { .. } => true,
            IngestError::Rejects { .. } | IngestError::RejectsAfterCommit { .. } => false,
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
    /// Where in the input the record was when the index alone does not say
    /// (`layer "x" FID 3` of an input read through GDAL).
    pub origin: Option<String>,
    /// The feature's id, when it had a readable one.
    pub id: Option<String>,
    /// Every problem found.
    pub problems: Vec<Problem>,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: feature #{}", self.source, self.index)?;
        if let Some(origin) = &self.origin {
            write!(f, " ({origin})")?;
        }
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

/// Decides whether a valid feature may be written, given the version stored
/// under its id (`None` for a new id); `Err` holds the reason for the caller.
pub type WriteCheckFn = dyn Fn(&Feature, Option<&Feature>) -> Result<(), String> + Send + Sync;

/// A shareable [`WriteCheckFn`].
#[derive(Clone)]
pub struct WriteCheck(pub Arc<WriteCheckFn>);

impl WriteCheck {
    /// Wraps a check.
    pub fn new(
        check: impl Fn(&Feature, Option<&Feature>) -> Result<(), String> + Send + Sync + 'static,
    ) -> Self {
        WriteCheck(Arc::new(check))
    }
}

impl fmt::Debug for WriteCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WriteCheck(..)")
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
    /// with its reasons. An earlier file there is removed when the ingest
    /// starts; this run's is renamed into place only when something was
    /// rejected, after the store committed (or the batch was refused).
    pub rejects: PathBuf,
    /// Foreign schema to map from.
    pub preset: Option<Preset>,
    /// Who may write what; `None` writes everything valid (a local operator).
    pub write_check: Option<WriteCheck>,
    /// Who replaced versions are recorded as in the store's history.
    pub author: String,
    /// The provenance recorded with every stored row (`--source`, `demo`);
    /// `None`: the author.
    pub source: Option<String>,
    /// Plausibility bounds every feature must keep (times, counts, sizes).
    pub bounds: Bounds,
    /// The format of the input files; `None`: by each file's extension.
    pub format: Option<Format>,
    /// Of an input read through GDAL, only this layer (`None`: every layer
    /// with records; see `ingest/gdal.rs`).
    pub source_layer: Option<String>,
}

impl IngestOptions {
    /// All-or-nothing ingest of plain jointmap GeoJSON into `layer`.
    pub fn new(layer: Layer) -> Self {
        IngestOptions {
            layer,
            skip_invalid: false,
            rejects: PathBuf::from(format!("jointmap-rejects-{layer}.ndjson")),
            preset: None,
            write_check: None,
            author: LOCAL_AUTHOR.to_string(),
            source: None,
            bounds: Bounds::default(),
            format: None,
            source_layer: None,
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

/// A chunk of one input, validated: each feature with its row prepared by
/// the store (encoded on the validation workers), or why it is invalid.
type Checked = (
    usize,
    Vec<RawFeature>,
    Vec<Result<Valid, crate::model::feature::Invalid>>,
);

/// A valid feature as the writer gets it.
enum Valid {
    /// Waiting for the write check, which sees features.
    Checked(Feature),
    /// Prepared by the store (its row encoded), to be written as it is.
    Ready(Prepared),
}

impl Valid {
    fn id(&self) -> &str {
        match self {
            Valid::Checked(f) => &f.id,
            Valid::Ready(p) => p.id(),
        }
    }
}

/// Reads, validates and stores features from `inputs` into one atomic batch.
pub fn ingest(
    store: &dyn Store,
    opts: &IngestOptions,
    inputs: Vec<Input<'_>>,
    progress: Progress<'_>,
) -> Result<IngestReport, IngestError> {
    let names: Vec<String> = inputs.iter().map(Input::name).collect();
    // Writing rejects over an input would truncate it while it is being read.
    let protected = inputs.iter().fold(paths::Protected::new(), |p, i| match i {
        Input::Path(path) => p.input("input", path),
        Input::Features { .. } => p,
    });
    protected
        .check("--rejects", &opts.rejects)
        .map_err(IngestError::Overwrite)?;
    // An earlier run's rejects must not look like this run's, whatever happens
    // to this one (even a crash): this run's are renamed into place only after
    // the store has committed them, or the batch was refused.
    Rejects::remove_stale(&opts.rejects)?;
    let mut batch = store.begin()?;
    batch.set_author(&opts.author);
    if let Some(source) = &opts.source {
        batch.set_source(source);
    }
    let bytes = Arc::new(AtomicU64::new(0));
    let (raw_tx, raw_rx) = sync_channel::<Msg>(4);
    let (ok_tx, ok_rx) = sync_channel::<Result<Checked, IngestError>>(4);
    let outcome = std::thread::scope(|s| {
        let bytes_r = bytes.clone();
        s.spawn(move || read_inputs(inputs, opts, raw_tx, bytes_r, progress));
        s.spawn(|| validate(opts, store, &names, raw_rx, ok_tx));
        write(opts, &names, ok_rx, &mut *batch)
    });
    let (mut report, rejections, rejects) = outcome?;
    if let Some(Preset::File(mapping)) = &opts.preset {
        let unused = mapping.unused_sources();
        if report.read > 0 && !unused.is_empty() {
            return Err(IngestError::Mapping {
                path: mapping.name.clone(),
                reason: format!("{}; nothing was stored", unused.join("; ")),
            });
        }
    }
    if !rejections.is_empty() {
        // Refused: roll the batch back first, then say why.
        drop(batch);
        let rejects_file = rejects.persist()?;
        return Err(IngestError::Invalid {
            rejections,
            total: report.read,
            rejects_file,
        });
    }
    let BatchStats { inserted, updated } = batch.commit()?;
    report.inserted = inserted;
    report.updated = updated;
    report.rejects_file = rejects.persist().map_err(|e| match e {
        IngestError::Rejects { path, source } => IngestError::RejectsAfterCommit {
            path,
            source,
            stored: report.stored,
        },
        other => other,
    })?;
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
    opts: &IngestOptions,
    tx: SyncSender<Msg>,
    bytes: Arc<AtomicU64>,
    progress: Progress<'_>,
) {
    let mut features = 0u64;
    for (n, input) in inputs.into_iter().enumerate() {
        let mut chunk = Vec::with_capacity(CHUNK);
        let mut chunk_bytes = 0usize;
        let mut send = |f: RawFeature, chunk: &mut Vec<RawFeature>| -> Result<(), String> {
            chunk_bytes += f.text.len();
            chunk.push(f);
            features += 1;
            // Large features make smaller chunks: memory stays bounded.
            if chunk.len() == CHUNK || chunk_bytes >= CHUNK_BYTES {
                chunk_bytes = 0;
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
                        formats::read_features(r, &path, opts, &mut |f| send(f, &mut chunk))
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
                .try_for_each(|(index, text)| {
                    // Separate texts: no input to count positions in.
                    let start = None;
                    send(
                        RawFeature {
                            index,
                            text,
                            start,
                            origin: None,
                        },
                        &mut chunk,
                    )
                })
                .map_err(|reason| IngestError::Syntax { path: name, reason }),
        };
        if let Err(e) = result {
            // The features read before the error go first: the workers may
            // find the input's first (syntax) error in one of them.
            if !chunk.is_empty() {
                let _ = tx.send(Msg::Chunk(n, chunk));
            }
            let _ = tx.send(Msg::Failed(e));
            return;
        }
        if !chunk.is_empty() && tx.send(Msg::Chunk(n, chunk)).is_err() {
            return;
        }
        progress(bytes.load(Ordering::Relaxed), features);
    }
}

fn validate(
    opts: &IngestOptions,
    store: &dyn Store,
    names: &[String],
    rx: Receiver<Msg>,
    tx: SyncSender<Result<Checked, IngestError>>,
) {
    for msg in rx {
        let out = match msg {
            Msg::Failed(e) => Err(e),
            Msg::Chunk(n, raws) => {
                let checked: Vec<_> = raws
                    .par_iter()
                    .map(|raw| {
                        // A write check sees features, not rows.
                        check(opts, raw).map(|p| match opts.write_check {
                            None => Valid::Ready(store.prepare_parts(p)),
                            Some(_) => Valid::Checked(Feature::from(p)),
                        })
                    })
                    .collect();
                // The reader left the syntax of features cut from an input
                // (`start` known) to this check, which only an invalid one
                // can fail: the first failure refuses the input.
                let syntax = raws
                    .par_iter()
                    .zip(checked.par_iter())
                    .find_map_first(|(raw, c)| {
                        let at = raw.start.filter(|_| c.is_err())?;
                        split::check_syntax(&raw.text, at).err()
                    });
                match syntax {
                    Some(reason) => Err(IngestError::Syntax {
                        path: names.get(n).cloned().unwrap_or_default(),
                        reason,
                    }),
                    None => Ok((n, raws, checked)),
                }
            }
        };
        if tx.send(out).is_err() {
            return;
        }
    }
}

fn check(opts: &IngestOptions, raw: &RawFeature) -> Result<Parts, crate::model::feature::Invalid> {
    let text = &raw.text;
    let Some(preset) = &opts.preset else {
        // No mapping to apply: the properties are read as a list, not a map.
        return Parts::from_text_at(opts.layer, text, &opts.bounds, raw.start);
    };
    let mut v = crate::model::feature::parse_strict_at(text, &opts.bounds, raw.start)?;
    preset.apply(&mut v);
    Parts::from_geojson_with(opts.layer, v, text, &opts.bounds)
}

/// The rejects file being written: a temporary file beside the target,
/// renamed over it only by [`Rejects::persist`], so the target is never torn
/// and never names features of a batch that was not stored (a crash leaves
/// at most a `.jointmap-rejects-*.tmp` file behind).
struct Rejects {
    path: PathBuf,
    out: Option<BufWriter<tempfile::NamedTempFile>>,
}

impl Rejects {
    fn error(&self, source: std::io::Error) -> IngestError {
        IngestError::Rejects {
            path: self.path.display().to_string(),
            source,
        }
    }

    /// Removes the rejects file of an earlier run, if there is one.
    fn remove_stale(path: &Path) -> Result<(), IngestError> {
        match std::fs::remove_file(path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(IngestError::Rejects {
                path: path.display().to_string(),
                source,
            }),
        }
    }

    fn write(&mut self, r: &Rejection, text: &str) -> Result<(), IngestError> {
        if self.out.is_none() {
            let dir = match self.path.parent() {
                Some(d) if !d.as_os_str().is_empty() => d,
                _ => Path::new("."),
            };
            let tmp = tempfile::Builder::new()
                .prefix(".jointmap-rejects-")
                .suffix(".tmp")
                .tempfile_in(dir)
                .map_err(|e| self.error(e))?;
            self.out = Some(BufWriter::new(tmp));
        }
        // One line per rejected feature: a pretty-printed feature's line breaks
        // are whitespace between tokens (JSON strings cannot hold raw ones), so
        // turning them into spaces keeps the feature otherwise verbatim.
        let text = if text.contains(['\n', '\r']) {
            text.replace(['\n', '\r'], " ")
        } else {
            text.to_string()
        };
        let feature =
            RawValue::from_string(text).map_err(|e| self.error(std::io::Error::other(e)))?;
        #[derive(serde::Serialize)]
        struct Line<'a> {
            source: &'a str,
            index: usize,
            #[serde(skip_serializing_if = "Option::is_none")]
            record: &'a Option<String>,
            id: &'a Option<String>,
            problems: &'a [Problem],
            feature: &'a RawValue,
        }
        let line = Line {
            source: &r.source,
            index: r.index,
            record: &r.origin,
            id: &r.id,
            problems: &r.problems,
            feature: &feature,
        };
        if let Some(out) = self.out.as_mut() {
            let written = serde_json::to_writer(&mut *out, &line)
                .map_err(std::io::Error::from)
                .and_then(|()| writeln!(out));
            written.map_err(|e| self.error(e))?;
        }
        Ok(())
    }

    /// Moves the complete rejects into place (flushed and synced first), or
    /// does nothing when nothing was rejected.
    fn persist(mut self) -> Result<Option<PathBuf>, IngestError> {
        let Some(out) = self.out.take() else {
            return Ok(None);
        };
        let tmp = out.into_inner().map_err(|e| self.error(e.into_error()))?;
        tmp.as_file().sync_all().map_err(|e| self.error(e))?;
        tmp.persist(&self.path).map_err(|e| self.error(e.error))?;
        // The rename itself survives a power cut once the directory is synced.
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(Some(self.path))
    }
}

fn write(
    opts: &IngestOptions,
    names: &[String],
    rx: Receiver<Result<Checked, IngestError>>,
    batch: &mut dyn crate::store::Batch,
) -> Result<(IngestReport, Vec<Rejection>, Rejects), IngestError> {
    let mut report = IngestReport::default();
    let mut rejections = Vec::new();
    let mut rejects = Rejects {
        path: opts.rejects.clone(),
        out: None,
    };
    let mut seen = seen::Seen::default();
    // With a write check, valid features wait for it: (input, index, feature).
    let mut held: Vec<(usize, usize, Feature)> = Vec::new();
    // The valid features of the current chunk, written together.
    let mut ready: Vec<Prepared> = Vec::with_capacity(CHUNK);
    let mut current = usize::MAX;
    for msg in rx {
        let (n, raws, items) = msg?;
        if n != current {
            // Duplicate ids are checked within one file; across files the later one wins.
            seen.clear();
            current = n;
        }
        for (raw, checked) in raws.iter().zip(items) {
            report.read += 1;
            let mut reject = |id: Option<String>,
                              problems: Vec<Problem>,
                              text: &str|
             -> Result<(), IngestError> {
                let r = Rejection {
                    source: names.get(n).cloned().unwrap_or_default(),
                    index: raw.index,
                    origin: raw.origin.clone(),
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
                    if let Some(first) = seen.insert(feature.id(), raw.index) {
                        let problem = Problem::new(
                            "id",
                            format!(
                                "duplicate id {:?}: also feature #{first} of this file",
                                feature.id()
                            ),
                        );
                        reject(Some(feature.id().to_string()), vec![problem], &raw.text)?;
                        continue;
                    }
                    if rejections.is_empty() {
                        match feature {
                            Valid::Checked(f) => held.push((n, raw.index, f)),
                            Valid::Ready(p) => ready.push(p),
                        }
                        report.stored += 1;
                    }
                }
                Err(invalid) => {
                    if let Some(id) = &invalid.id {
                        let _ = seen.insert(id, raw.index);
                    }
                    reject(invalid.id, invalid.problems, &raw.text)?;
                }
            }
        }
        if rejections.is_empty() && !ready.is_empty() {
            batch.upsert_prepared(opts.layer, &ready)?;
        }
        // The chunk's texts and rows are freed on a worker, not by the
        // single writer.
        let spent = (
            raws,
            std::mem::replace(&mut ready, Vec::with_capacity(CHUNK)),
        );
        rayon::spawn(move || drop(spent));
    }
    if rejections.is_empty() {
        if let Some(check) = &opts.write_check {
            write_checked(opts.layer, check, names, held, batch)?;
        }
    }
    Ok((report, rejections, rejects))
}

/// Writes features through `check`, refusing the batch at the first refusal.
/// First every feature is checked on its own (what the caller could predict
/// without the store), then each against the version stored under its id: so
/// the refused feature's index says whether a stored record was involved no
/// more than the refusal itself does (a batch with a feature refused on its
/// own is refused at that feature whatever the store holds).
fn write_checked(
    layer: Layer,
    check: &WriteCheck,
    names: &[String],
    features: Vec<(usize, usize, Feature)>,
    batch: &mut dyn crate::store::Batch,
) -> Result<(), IngestError> {
    let refused = |n: usize, index: usize, f: &Feature, reason: String| IngestError::Refused {
        input: names.get(n).cloned().unwrap_or_default(),
        index,
        id: f.id.clone(),
        reason,
    };
    for (n, index, f) in &features {
        (check.0)(f, None).map_err(|r| refused(*n, *index, f, r))?;
    }
    for (n, index, f) in &features {
        // Read in the batch's write transaction: no other writer can change
        // it before the commit.
        let existing = batch.get(layer, &f.id)?;
        (check.0)(f, existing.as_ref()).map_err(|r| refused(*n, *index, f, r))?;
        batch.upsert(layer, f)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{FeatureSource, GpkgStore};
    use serde_json::json;
    use std::sync::Mutex;

    fn site(id: &str, name: &str, owner: &str) -> String {
        json!({"type": "Feature", "id": id,
            "geometry": {"type": "Point", "coordinates": [18.5, 4.4]},
            "properties": {"time_start": "2024-01-01", "name": name, "site_type": "village",
                "owner": owner}})
        .to_string()
    }

    fn run(
        store: &GpkgStore,
        opts: &IngestOptions,
        features: Vec<String>,
    ) -> Result<IngestReport, IngestError> {
        let input = Input::Features {
            name: "test".into(),
            features: Box::new(features.into_iter()),
        };
        ingest(store, opts, vec![input], &|_, _| {})
    }

    fn names(store: &GpkgStore) -> Vec<(String, String)> {
        let mut out = Vec::new();
        store
            .query(Layer::Sites, &crate::store::Query::default(), &mut |f| {
                out.push((f.id.clone(), f.str("name").unwrap_or_default().to_string()));
                Ok(())
            })
            .expect("query");
        out
    }

    /// The check sees each valid feature with the version stored under its
    /// id; one refusal stores nothing, even with `skip_invalid`, and names
    /// the feature.
    #[test]
    fn a_refused_feature_refuses_the_batch() {
        let dir = tempfile::TempDir::new().expect("temp dir");
        let store = GpkgStore::open(dir.path().join("s.gpkg")).expect("open");
        let mut opts = IngestOptions::new(Layer::Sites);
        opts.rejects = dir.path().join("rejects.ndjson");
        run(&store, &opts, vec![site("a", "A", "military")]).expect("first ingest");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        opts.write_check = Some(WriteCheck::new(move |new, old| {
            log.lock()
                .expect("lock")
                .push((new.id.clone(), old.map(|o| o.owner.as_str())));
            match (new.owner.as_str(), old.map(|o| o.owner.as_str())) {
                ("mission", None | Some("mission")) => Ok(()),
                _ => Err("not yours".to_string()),
            }
        }));
        opts.skip_invalid = true;
        let e = run(
            &store,
            &opts,
            vec![site("new", "N", "mission"), site("a", "A2", "mission")],
        )
        .expect_err("refused");
        let IngestError::Refused {
            index, id, reason, ..
        } = &e
        else {
            panic!("{e:?}")
        };
        assert_eq!(
            (*index, id.as_str(), reason.as_str()),
            (1, "a", "not yours")
        );
        assert!(e.to_string().contains("nothing was stored"), "{e}");
        assert!(e.is_bad_input());
        // Each feature on its own first, then against the store.
        assert_eq!(
            *seen.lock().expect("lock"),
            [
                ("new".to_string(), None),
                ("a".to_string(), None),
                ("new".to_string(), None),
                ("a".to_string(), Some("military"))
            ]
        );
        // A feature refused on its own is the one named, whatever the store
        // holds under the ids before it.
        let e = run(
            &store,
            &opts,
            vec![site("a", "A3", "mission"), site("x", "X", "hr")],
        )
        .expect_err("refused");
        assert!(
            matches!(&e, IngestError::Refused { index: 1, id, .. } if id == "x"),
            "{e:?}"
        );
        assert_eq!(names(&store), [("a".to_string(), "A".to_string())]);
        // Allowed features go through, and replaced versions are recorded
        // under the options' author.
        opts.author = "jmac-desk".into();
        let r = run(&store, &opts, vec![site("m", "M", "mission")]).expect("allowed");
        assert_eq!((r.inserted, r.updated), (1, 0));
        let r = run(&store, &opts, vec![site("m", "M2", "mission")]).expect("allowed");
        assert_eq!((r.inserted, r.updated), (0, 1));
        let h = store.history(Layer::Sites, "m").expect("history");
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].replaced_by, "jmac-desk");
    }
}
