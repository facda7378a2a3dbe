//! The command line: argument definitions and one file per command. Each
//! command is a thin shell over the library.

mod analysis;
mod backup;
mod brief;
mod check;
mod delete;
mod demo;
mod export;
mod impact;
mod ingest;
mod layers;
mod migrate;
mod rerun;
mod serve;
mod store_copy;
mod tiles;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// jointmap: joint human-rights / military protection mapping.
///
/// Ingests incidents against civilians, armed-group sightings, patrol tracks
/// and bases as GeoJSON into one GeoPackage store, and exports them again.
/// Exit codes: 0 ok, 2 bad input, 1 internal error.
#[derive(Debug, Parser)]
#[command(name = "jointmap", version, about, long_about, max_term_width = 100)]
pub struct Cli {
    /// The store: a GeoPackage file's path, `postgresql://...` (PostGIS), or
    /// `memory:` (an empty store that lasts one command). `ingest`, `demo`
    /// and `migrate` create it when absent; every other command needs an
    /// existing one.
    #[arg(
        long,
        global = true,
        env = "JOINTMAP_STORE",
        default_value = "jointmap.gpkg"
    )]
    pub store: crate::store::Location,
    /// Print nothing but errors (no progress bar, no summary).
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate GeoJSON files and store their features in a layer (all or nothing)
    ///
    /// Reads FeatureCollections, single Features and newline-delimited
    /// GeoJSON (`-` for standard input). Every invalid feature is reported with
    /// its index, id, field and reason; by default one invalid feature leaves
    /// the store untouched (exit code 2). Re-ingesting an id updates it.
    /// Layers: incidents, sightings, patrols, bases, sites (or the singular).
    /// Plausibility bounds (times, counts, sizes) are flags below.
    ///
    /// Examples:
    ///   jointmap ingest incidents week47.geojson
    ///   jointmap ingest patrols tracks/*.geojson --skip-invalid --rejects bad.ndjson
    ///   jointmap ingest incidents ged.geojson --preset ucdp-ged
    #[command(verbatim_doc_comment)]
    Ingest(ingest::Args),
    /// Show each layer's feature count, extent and time span.
    Layers(layers::Args),
    /// Write a layer as GeoJSON, optionally filtered by bbox and time
    ///
    /// Examples:
    ///   jointmap export incidents -o incidents.geojson
    ///   jointmap export patrols --bbox 17.0,5.0,19.0,7.0 --from 2025-01-01 --to 2025-03-31
    #[command(verbatim_doc_comment)]
    Export(export::Args),
    /// Generate a synthetic mission (western Central African Republic) and load it.
    ///
    /// Deterministic for a given seed and size: towns and road corridors, four
    /// fictional armed groups with seasonal escalation, clustered incidents,
    /// sightings, bases and patrols. `--incidents 1000000` for benchmarks.
    Demo(demo::Args),
    /// Hot and cold spots: events on a grid with kernel density, Getis-Ord Gi*
    /// (FDR-corrected classes) and Local Moran's I, as GeoJSON cells.
    ///
    /// Examples:
    ///   jointmap hotspots --cell-km 5 -o hotspots.geojson
    ///   jointmap hotspots --grid h3 --h3-resolution 6 --weight fatalities --from 2025-10-01
    #[command(verbatim_doc_comment)]
    Hotspots(analysis::Args<crate::request::hotspots::HotspotRequest>),
    /// Clusters of events: DBSCAN, ST-DBSCAN or HDBSCAN with geodesic
    /// distances, as GeoJSON hulls with summaries; with -o and --points or
    /// --centroids, the labelled events or the cluster centres in files beside it.
    /// Without --eps-km the DBSCAN radius is chosen from the data (reported).
    ///
    /// Examples:
    ///   jointmap clusters -o clusters.geojson --points --centroids
    ///   jointmap clusters --eps-km 10 --min-points 5
    ///   jointmap clusters --method hdbscan --min-cluster-size 20
    ///   jointmap clusters --method st-dbscan --eps-km 15 --eps-days 14
    #[command(verbatim_doc_comment)]
    Clusters(analysis::Args<crate::request::clusters::ClusterRequest>),
    /// Trends and emerging hot spots: events in a space-time cube (cells x
    /// time steps), space-time Gi* per bin, Mann-Kendall and Sen's slope per
    /// cell, and each cell's emerging hot spot category (new, consecutive,
    /// intensifying, persistent, diminishing, sporadic, oscillating,
    /// historical; hot or cold), as GeoJSON cells with the per-step series.
    ///
    /// Examples:
    ///   jointmap trends --cell-km 10 --band-km 15 --as-of 2025-12-31 -o trends.geojson
    ///   jointmap trends --step-days 7 --window-steps 2 --reference 2025-01-06 --steps 26
    #[command(verbatim_doc_comment)]
    Trends(analysis::Args<crate::request::trends::TrendRequest>),
    /// The mission's briefs as of a date: weekly-hotspot (new, intensifying
    /// and persistent hot spots against last week's patrol presence, with
    /// patrol priorities) and early-warning (areas that became hot spots in
    /// the last two steps, sightings near them, blind spots, alerts apart
    /// from warnings, ranked on the EWRR 3x3 grid), quarterly-outlook (the
    /// last quarter's hot spots, casualties by sex and age against the
    /// quarter before, and the triggers of a --calendar file in the next
    /// three months near them). HTML (prints to A4 PDF),
    /// GeoJSON or CSV, in English or French (docs/briefs.md).
    ///
    /// Examples:
    ///   jointmap brief weekly-hotspot --as-of 2025-06-30 --out brief.html
    ///   jointmap brief early-warning --as-of 2025-06-30 --lang fr --as-role partner --format geojson
    ///   jointmap brief quarterly-outlook --as-of 2025-12-31 --calendar data/triggers-demo.toml
    #[command(verbatim_doc_comment)]
    Brief(brief::Args),
    /// Presence per grid cell: patrol effort (km and hours per mode, within
    /// each mode's corridor), base reach and information coverage.
    ///
    /// Examples:
    ///   jointmap coverage -o presence.geojson
    ///   jointmap coverage --from 2025-07-01 --to 2025-09-30 --cell-km 2 --corridor-foot-km 3
    #[command(verbatim_doc_comment)]
    Coverage(analysis::Args<crate::request::coverage::CoverageRequest>),
    /// Blind spots: where risk is high and the mission has no regular presence,
    /// and where it has no information next to hot spots; ranked polygons.
    ///
    /// Examples:
    ///   jointmap blindspots -o blindspots.geojson
    ///   jointmap blindspots --min-risk extreme --max-presence 0.25 --cells -o risk.geojson
    #[command(verbatim_doc_comment)]
    Blindspots(analysis::Args<crate::request::blindspots::BlindspotRequest>),
    /// Patrol and base impact: incidents before and after presence began, per
    /// patrol mode and per base opened, against comparable cells without
    /// presence (association, not proof).
    ///
    /// Examples:
    ///   jointmap impact -o impact.geojson --csv impact.csv
    ///   jointmap impact --from 2025-01-01 --window-days 60 --category killing,abduction
    #[command(verbatim_doc_comment)]
    Impact(impact::Args),
    /// Run an analysis product again from its `jointmap` member (same request, gate and
    /// data version): on unchanged data, the same file byte for byte.
    Rerun(rerun::Args),
    /// Serve the layers over HTTP: OGC API - Features, analysis layers and
    /// ingest, with bearer tokens and need-to-know access
    ///
    /// Examples:
    ///   jointmap token --name hr-desk --role hr     # a new secret and its [[tokens]] entry
    ///   jointmap serve --config jointmap.toml
    ///   JOINTMAP_LISTEN=0.0.0.0:8080 jointmap serve -c jointmap.toml
    #[command(verbatim_doc_comment)]
    Serve(serve::Args),
    /// Make a bearer token: prints a new random secret and the `[[tokens]]`
    /// entry (with its SHA-256) for the server's configuration.
    ///
    /// Touches no store: the global --store is ignored here.
    Token(serve::TokenArgs),
    /// Validate every stored feature again, as ingest does (edits made in
    /// QGIS or with SQL included); exit code 2 when some fail
    ///
    /// Examples:
    ///   jointmap check
    ///   jointmap check --layer incidents --fix-mode quarantine
    ///   jointmap check --layer incidents --restore inc-17
    #[command(verbatim_doc_comment)]
    Check(check::Args),
    /// Delete features from a layer, all or nothing; each is kept in the
    /// store's history
    ///
    /// Examples:
    ///   jointmap delete incidents --id inc-17 inc-18
    ///   jointmap delete incidents --source week47.geojson
    ///   jointmap delete patrols --before 2024-01-01
    #[command(verbatim_doc_comment)]
    Delete(delete::Args),
    /// Write a consistent copy of the store (SQLite online backup), also
    /// while a server or an ingest writes to it
    ///
    /// Example:
    ///   jointmap backup /backups/jointmap-$(date +%F).gpkg
    #[command(verbatim_doc_comment)]
    Backup(backup::Args),
    /// Pre-render the tiles of a layer over an area into a tile tree
    /// (DIR/{layer}/{z}/{x}/{y}.png), in parallel; with --as-role, exactly
    /// the tiles the server gives that role.
    ///
    ///   jointmap render-tiles --layer heat --bbox 15,4,19,7 --zoom 5-10 --as-role partner
    #[command(verbatim_doc_comment)]
    RenderTiles(tiles::RenderArgs),
    /// Write the tiles of a layer over an area as an MBTiles 1.3 package
    /// (PNG or vector tiles) for QGIS or a field office without a server;
    /// with --as-role, exactly the tiles the server gives that role.
    ///
    ///   jointmap export-mbtiles --layer incidents --bbox 15,4,19,7 --zoom 5-12 \
    ///       --as-role partner --format mvt -o field.mbtiles
    #[command(verbatim_doc_comment)]
    ExportMbtiles(tiles::MbtilesArgs),
    /// Bring the store's schema to this jointmap's version (creating the store
    /// when absent), printing the version before and after
    ///
    /// A schema written by a newer jointmap is refused. Examples:
    ///   jointmap migrate --dry-run --store postgresql://jointmap@db/mission
    ///   jointmap migrate --store mission.gpkg
    #[command(verbatim_doc_comment)]
    Migrate(migrate::Args),
    /// Copy every layer of the store SRC into DST (GeoPackage or PostGIS, either
    /// way), all or nothing; the global --store is ignored
    ///
    /// DST is created when absent; one holding features is refused unless
    /// --replace. Prints each layer's count, verified after the commit. Example:
    ///   jointmap store-copy mission.gpkg postgresql://jointmap@db/hq
    #[command(verbatim_doc_comment)]
    StoreCopy(store_copy::Args),
}

/// What a command can fail with: the library's errors, and the server's
/// (which the library's error does not wrap: serving is the command
/// line's business).
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The library failed.
    #[error(transparent)]
    Jointmap(#[from] crate::Error),
    /// The server could not start (configuration, address).
    #[error(transparent)]
    Server(#[from] crate::server::ServerError),
}

/// The result of a command.
pub type Result<T, E = CliError> = std::result::Result<T, E>;

impl From<crate::store::StoreError> for CliError {
    fn from(e: crate::store::StoreError) -> Self {
        CliError::Jointmap(e.into())
    }
}

impl From<crate::access::AccessError> for CliError {
    fn from(e: crate::access::AccessError) -> Self {
        CliError::Jointmap(e.into())
    }
}

impl From<crate::ingest::IngestError> for CliError {
    fn from(e: crate::ingest::IngestError) -> Self {
        CliError::Jointmap(e.into())
    }
}

impl From<crate::analysis::AnalysisError> for CliError {
    fn from(e: crate::analysis::AnalysisError) -> Self {
        CliError::Jointmap(e.into())
    }
}

impl From<crate::model::ModelError> for CliError {
    fn from(e: crate::model::ModelError) -> Self {
        CliError::Jointmap(e.into())
    }
}

impl CliError {
    /// The process's exit code: 2 for bad input (data, parameters,
    /// configuration), 1 for internal failures.
    pub fn exit_code(&self) -> i32 {
        use crate::Error;
        match self {
            CliError::Server(crate::server::ServerError::Config(_)) => 2,
            CliError::Server(crate::server::ServerError::InvalidStore(_)) => 2,
            CliError::Server(_) => 1,
            CliError::Jointmap(e) => match e {
                Error::Ingest(e) if e.is_bad_input() => 2,
                Error::Model(_) => 2,
                Error::Store(e) if e.is_bad_input() => 2,
                Error::Analysis(crate::analysis::AnalysisError::InvalidParameter { .. }) => 2,
                Error::Analysis(crate::analysis::AnalysisError::Grid(_)) => 2,
                _ => 1,
            },
        }
    }
}

/// Set once a write to standard output failed because its reader closed it.
static STDOUT_CLOSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether standard output's reader went away (`... | head -1`): the binary
/// then ends quietly with 0, whatever the command made of the failed write.
pub fn stdout_closed() -> bool {
    STDOUT_CLOSED.load(std::sync::atomic::Ordering::Relaxed)
}

/// Standard output, noting a closed pipe for [`stdout_closed`].
pub(crate) fn stdout() -> impl std::io::Write {
    struct Out(std::io::StdoutLock<'static>);
    impl Out {
        fn note<T>(r: std::io::Result<T>) -> std::io::Result<T> {
            if let Err(e) = &r {
                if e.kind() == std::io::ErrorKind::BrokenPipe {
                    STDOUT_CLOSED.store(true, std::sync::atomic::Ordering::Relaxed);
                }
            }
            r
        }
    }
    impl std::io::Write for Out {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            Out::note(self.0.write(buf))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Out::note(self.0.flush())
        }
    }
    Out(std::io::stdout().lock())
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    refuse_overwrites(&cli)?;
    match &cli.command {
        Command::Ingest(a) => ingest::run(&cli, a),
        Command::Layers(a) => layers::run(&cli, a),
        Command::Export(a) => export::run(&cli, a),
        Command::Demo(a) => demo::run(&cli, a),
        Command::Hotspots(a) => analysis::command(&cli, a),
        Command::Clusters(a) => analysis::clusters(&cli, a),
        Command::Trends(a) => analysis::command(&cli, a),
        Command::Brief(a) => brief::run(&cli, a),
        Command::Coverage(a) => analysis::command(&cli, a),
        Command::Blindspots(a) => analysis::command(&cli, a),
        Command::Impact(a) => impact::run(&cli, a),
        Command::Rerun(a) => rerun::run(&cli, a),
        Command::Serve(a) => serve::run(&cli, a),
        Command::Token(a) => serve::token(a),
        Command::Check(a) => check::run(&cli, a),
        Command::Delete(a) => delete::run(&cli, a),
        Command::Backup(a) => backup::run(&cli, a),
        Command::RenderTiles(a) => tiles::render(&cli, a),
        Command::ExportMbtiles(a) => tiles::mbtiles(&cli, a),
        Command::Migrate(a) => migrate::run(&cli, a),
        Command::StoreCopy(a) => store_copy::run(&cli, a),
    }
}

/// Refuses, before anything is written, an output file that is the store (or
/// one of its SQLite files) or a file the command reads.
fn refuse_overwrites(cli: &Cli) -> Result<()> {
    use crate::ingest::paths::Protected;
    use std::path::Path;
    let mut protected = Protected::new();
    if let Some(store) = cli.store.path() {
        protected = protected.store(store);
    }
    let mut outputs: Vec<(&str, &Path)> = Vec::new();
    match &cli.command {
        Command::Ingest(a) => {
            for f in &a.files {
                protected = protected.input("input", f);
            }
            if let Some(m) = &a.mapping {
                protected = protected.input("the mapping file", m);
            }
            outputs.push(("--rejects", &a.rejects));
        }
        Command::Export(a) => outputs.extend(a.output.as_deref().map(|o| ("-o", o))),
        Command::Hotspots(a) => outputs.extend(a.shell.output.as_deref().map(|o| ("-o", o))),
        Command::Clusters(a) => outputs.extend(a.shell.output.as_deref().map(|o| ("-o", o))),
        Command::Trends(a) => outputs.extend(a.shell.output.as_deref().map(|o| ("-o", o))),
        Command::Brief(a) => outputs.extend(a.out.as_deref().map(|o| ("--out", o))),
        Command::Coverage(a) => outputs.extend(a.shell.output.as_deref().map(|o| ("-o", o))),
        Command::Blindspots(a) => outputs.extend(a.shell.output.as_deref().map(|o| ("-o", o))),
        Command::ExportMbtiles(a) => outputs.push(("-o", &a.output)),
        Command::Impact(a) => {
            outputs.extend(a.shell.output.as_deref().map(|o| ("-o", o)));
            outputs.extend(a.csv.as_deref().map(|o| ("--csv", o)));
        }
        _ => {}
    }
    for (flag, path) in outputs {
        protected
            .check(flag, path)
            .map_err(crate::ingest::IngestError::Overwrite)?;
    }
    Ok(())
}

/// A progress bar over `total` bytes (or features), hidden with `--quiet` or
/// when stderr is not a terminal.
fn progress_bar(quiet: bool, total: u64, what: &str) -> indicatif::ProgressBar {
    use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
    if quiet {
        return ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
    }
    let bar = ProgressBar::new(total);
    let template = if what == "bytes" {
        "{spinner} {msg} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, {eta})"
    } else {
        "{spinner} {msg} [{bar:30}] {pos}/{len} ({per_sec}, {eta})"
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// The store for commands that only read: it must exist (a mistyped path
/// would otherwise create an empty store and report nothing).
pub(crate) fn existing_store(cli: &Cli) -> Result<Box<dyn crate::store::Store>> {
    Ok(crate::store::open_with(&cli.store, &EXISTING)?)
}

/// How commands that only read (and the server) open the store: it must
/// exist.
pub(crate) const EXISTING: crate::store::OpenOptions = crate::store::OpenOptions {
    if_missing: crate::store::IfMissing::Refuse,
    indexes: crate::store::Indexes::OnFirstUse,
};

pub(crate) use crate::request::{parse_bbox, parse_time_arg, parse_to_arg};

/// Where an analysis result goes.
#[derive(Debug, clap::Args)]
pub struct Output {
    /// Output GeoJSON file (default: standard output).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

impl Output {
    /// Writes a result to the output file or standard output.
    pub fn write(&self, value: &serde_json::Value) -> Result<()> {
        use std::io::Write;
        let io =
            |e: std::io::Error| crate::store::StoreError::Aborted(format!("writing output: {e}"));
        let out: Box<dyn Write> = match &self.output {
            Some(p) => Box::new(std::fs::File::create(p).map_err(io)?),
            None => Box::new(stdout()),
        };
        let mut out = std::io::BufWriter::new(out);
        serde_json::to_writer(&mut out, value).map_err(|e| io(e.into()))?;
        out.write_all(b"\n").map_err(io)?;
        out.flush().map_err(io)?;
        Ok(())
    }
}
