//! The analysis commands (`hotspots`, `clusters`, `coverage`, `blindspots`,
//! `impact`): one shell over [`crate::request`] for all of them.
//!
//! Run as the operator (who holds the store file) by default; with
//! `--as-role ROLE`, through the access gate exactly as the server would
//! answer that role, so an analyst can preview what a role receives.
//! Either way the product's `jointmap.gate` records it (null for the
//! operator; else, written by the gate, the role, the gate's "now" and the
//! policy's digest), so `jointmap rerun` passes it through the same gate.

use super::{existing_store, Cli};
use crate::access::{Analysis, Budget, Gate, Policy, Principal, Role};
use crate::analysis::product::{Field, Param, Product};
use chrono::{DateTime, Utc};
use std::path::PathBuf;

/// Output and role options shared by the analysis commands.
#[derive(Debug, clap::Args)]
pub struct Shell {
    /// Output file (default: standard output; required for gpkg, fgb, shp
    /// and kml).
    #[arg(long, short, required_if_eq_any([("format", "gpkg"), ("format", "fgb"), ("format", "shp"), ("format", "kml")]))]
    pub output: Option<PathBuf>,
    /// Preview what ROLE (hr, military, jmac, partner) would receive: the
    /// analysis runs through the access gate as the server runs it for a
    /// token of that role (minimum counts, coarse cells, whole time steps).
    #[arg(long, value_name = "ROLE")]
    pub as_role: Option<Role>,
    /// The server configuration whose `[access]` policy and `[limits]`
    /// apply with --as-role (default: the built-in policy, no limits).
    #[arg(long, value_name = "FILE", requires = "as_role")]
    pub config: Option<PathBuf>,
    /// Output format: the GeoJSON product (with its parameters), or its
    /// features as CSV (geometry as WKT, a column per property).
    #[arg(long, value_enum, default_value = "geojson")]
    pub format: ProductFormat,
}

/// The format an analysis product is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProductFormat {
    /// A GeoJSON FeatureCollection with a `jointmap` member.
    Geojson,
    /// The features as CSV: `wkt`, then a column per property.
    Csv,
    /// The features as a GeoPackage table named after the analysis, its
    /// parameters (the `jointmap` member) as the table's description;
    /// needs --output.
    Gpkg,
    /// The features as FlatGeobuf with its spatial index, the parameters
    /// as the header's description; needs --output.
    Fgb,
    /// The features as an ESRI Shapefile (`-o NAME.shp`; field names cut to
    /// 10 bytes, docs/formats.md): only in a build with the `gdal` feature.
    Shp,
    /// The features as KML: only in a build with the `gdal` feature; needs
    /// --output.
    Kml,
}

/// Runs `req` as the operator or, with `--as-role`, through the gate; prints
/// the summary (operator, or a role that sees every layer read in full)
/// and returns the product to write.
pub(super) fn run<A: Analysis + Clone>(
    cli: &Cli,
    req: &A,
    shell: &Shell,
) -> super::Result<Product> {
    run_at(cli, req, shell, Utc::now())
}

/// [`run`] with the gate's "now" (from which delays count) given: the
/// time recorded in a product, when it is re-run.
pub(super) fn run_at<A: Analysis + Clone>(
    cli: &Cli,
    req: &A,
    shell: &Shell,
    now: DateTime<Utc>,
) -> super::Result<Product> {
    let store = existing_store(cli)?;
    let (mut product, summary) = match shell.as_role {
        None => {
            let outcome = req.run(&*store, None)?;
            (outcome.product, Some(outcome.summary))
        }
        Some(role) => {
            let (gate, budget) = gate(shell.config.as_deref())?;
            let principal = Principal {
                name: format!("cli --as-role {role}"),
                role,
                ingest: Vec::new(),
            };
            let mut req = req.clone();
            let plan = gate.plan(&principal, &mut req, &budget, now)?;
            gate.run(&plan, &req, &*store)?
        }
    };
    if shell.as_role.is_none() {
        product.meta.push(("gate", Field::Param(Param::Null)));
    }
    if !cli.quiet {
        match summary {
            Some(s) => eprintln!("{s}"),
            None => eprintln!(
                "{}: {} features as role {} would receive them",
                A::NAME,
                product.items.len(),
                shell.as_role.map_or("operator", |r| r.as_str())
            ),
        }
    }
    Ok(product)
}

/// The gate and budget of the server configuration at `config` (its
/// `[access]` policy and `[limits]`), or of the built-in policy without
/// limits.
pub(super) fn gate(config: Option<&std::path::Path>) -> super::Result<(Gate, Budget)> {
    let (policy, budget) = match config {
        Some(path) => {
            let cfg = crate::server::config::Config::load(Some(path))
                .map_err(crate::server::ServerError::from)?;
            let l = &cfg.limits;
            (
                cfg.access.clone().unwrap_or_default(),
                Budget {
                    min_cell_km: l.min_cell_km,
                    max_h3_resolution: l.max_h3_resolution,
                    max_permutations: l.max_permutations,
                    max_cells: l.max_cells,
                    max_output_cells: l.max_output_cells,
                },
            )
        }
        None => (Policy::default(), Budget::unlimited()),
    };
    Ok((Gate::new(policy, None)?, budget))
}

impl Shell {
    /// Writes a product in the shell's format to the output file or
    /// standard output.
    pub fn write(&self, product: &Product) -> super::Result<()> {
        self.write_to(self.output.clone(), product)
    }

    /// Writes a product in the shell's format to `output` (or standard
    /// output).
    fn write_to(&self, output: Option<PathBuf>, product: &Product) -> super::Result<()> {
        let value = crate::render::geojson::to_value(product);
        match self.format {
            ProductFormat::Geojson => super::Output { output }.write(&value),
            ProductFormat::Csv => {
                use std::io::Write;
                let io = |e: std::io::Error| {
                    crate::store::StoreError::Aborted(format!("writing output: {e}"))
                };
                let out: Box<dyn Write> = match &output {
                    Some(p) => Box::new(std::fs::File::create(p).map_err(io)?),
                    None => Box::new(super::stdout()),
                };
                let mut out = std::io::BufWriter::new(out);
                crate::render::table::collection(&mut out, &value).map_err(io)?;
                out.flush().map_err(io)?;
                Ok(())
            }
            ProductFormat::Shp | ProductFormat::Kml => {
                let path = output.ok_or_else(|| {
                    crate::store::StoreError::Aborted(
                        "--format shp and kml write a file: give it with --output".into(),
                    )
                })?;
                let features = value["features"].as_array().map_or(&[][..], Vec::as_slice);
                let name = value["jointmap"]["analysis"].as_str().unwrap_or("product");
                let format = if self.format == ProductFormat::Shp {
                    super::export::Ogr::Shp
                } else {
                    super::export::Ogr::Kml
                };
                let mut each = |sink: &mut dyn FnMut(
                    &serde_json::Value,
                )
                    -> crate::store::Result<()>|
                 -> super::Result<u64> {
                    for f in features {
                        sink(f)?;
                    }
                    Ok(features.len() as u64)
                };
                super::export::write_ogr(format, &path, name, &mut each)?;
                Ok(())
            }
            ProductFormat::Gpkg | ProductFormat::Fgb => {
                let path = output.ok_or_else(|| {
                    crate::store::StoreError::Aborted(
                        "--format gpkg and fgb write a file: give it with --output".into(),
                    )
                })?;
                let features = value["features"].as_array().map_or(&[][..], Vec::as_slice);
                let mut schema = crate::store::PlainSchema::default();
                features.iter().for_each(|f| schema.note(f));
                let name = value["jointmap"]["analysis"].as_str().unwrap_or("product");
                let about = value["jointmap"].to_string();
                if self.format == ProductFormat::Fgb {
                    let mut fgb =
                        crate::render::fgb::FgbWriter::create(&path, name, &about, &schema)?;
                    for f in features {
                        fgb.add(f)?;
                    }
                    fgb.finish()?;
                } else {
                    let mut gpkg = crate::store::PlainGpkg::create(&path, name, &about, &schema)?;
                    for f in features {
                        gpkg.add(f)?;
                    }
                    gpkg.finish()?;
                }
                Ok(())
            }
        }
    }
}

/// Arguments of an analysis command: the request's parameters and the
/// shell's options.
#[derive(Debug, clap::Args)]
pub struct Args<R: clap::Args> {
    /// The analysis parameters.
    #[command(flatten)]
    pub request: R,
    /// Output and role.
    #[command(flatten)]
    pub shell: Shell,
}

/// Runs an analysis command and writes its product.
pub(super) fn command<R: Analysis + Clone + clap::Args>(
    cli: &Cli,
    args: &Args<R>,
) -> super::Result<()> {
    let product = run(cli, &args.request, &args.shell)?;
    args.shell.write(&product)
}

/// `jointmap clusters`: with `-o FILE` and `--points` or `--centroids`, the
/// hulls go to FILE and each further layer to its own file beside it
/// (`FILE-points.geojson`, `FILE-centroids.geojson`), so that polygons and
/// points never share a layer; to standard output, the one layer asked for.
pub(super) fn clusters(
    cli: &Cli,
    args: &Args<crate::request::clusters::ClusterRequest>,
) -> super::Result<()> {
    let req = &args.request;
    let Some(out) = &args.shell.output else {
        return command(cli, args);
    };
    if !(req.points || req.centroids) {
        return command(cli, args);
    }
    let layer = |points: bool, centroids: bool| crate::request::clusters::ClusterRequest {
        points,
        centroids,
        ..req.clone()
    };
    args.shell
        .write(&run(cli, &layer(false, false), &args.shell)?)?;
    for (on, name, points) in [
        (req.points, "points", true),
        (req.centroids, "centroids", false),
    ] {
        if on {
            let product = run(cli, &layer(points, !points), &args.shell)?;
            let path = beside(out, name);
            if !cli.quiet {
                eprintln!("{name}: {}", path.display());
            }
            args.shell.write_to(Some(path), &product)?;
        }
    }
    Ok(())
}

/// `dir/name.geojson` -> `dir/name-SUFFIX.geojson` (the extension kept).
fn beside(path: &std::path::Path, suffix: &str) -> PathBuf {
    let stem = path
        .file_stem()
        .map_or_else(|| "clusters".into(), |s| s.to_string_lossy().into_owned());
    let name = match path.extension() {
        Some(ext) => format!("{stem}-{suffix}.{}", ext.to_string_lossy()),
        None => format!("{stem}-{suffix}"),
    };
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::beside;
    use std::path::Path;

    #[test]
    fn layer_files_sit_beside_the_output() {
        assert_eq!(
            beside(Path::new("out/c.geojson"), "points"),
            Path::new("out/c-points.geojson")
        );
        assert_eq!(
            beside(Path::new("c"), "centroids"),
            Path::new("c-centroids")
        );
    }
}
