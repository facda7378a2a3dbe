//! `jointmap export`

use super::{existing_store, parse_bbox, parse_time_arg, parse_to_arg, Cli};
use crate::model::Layer;
use crate::store::{Query, StoreError};
use std::io::Write;
use std::path::PathBuf;

/// Arguments of `jointmap export`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Layer to export.
    pub layer: Layer,
    /// Output file (default: standard output).
    #[arg(long, short)]
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
    /// Newline-delimited GeoJSON (one Feature per line) instead of a FeatureCollection.
    #[arg(long)]
    pub ndjson: bool,
}

pub(super) fn run(cli: &Cli, args: &Args) -> super::Result<()> {
    let store = existing_store(cli)?;
    let query = Query {
        bbox: args.bbox,
        from: args.from,
        to: args.to,
    };
    query.validate()?;
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
    if !args.ndjson {
        out.write_all(b"{\"type\":\"FeatureCollection\",\"features\":[\n")
            .map_err(io)?;
    }
    let mut first = true;
    let n = store.query(args.layer, &query, &mut |f| {
        if !args.ndjson && !first {
            out.write_all(b",\n").map_err(io)?;
        }
        first = false;
        serde_json::to_writer(&mut out, &f.to_geojson()).map_err(|e| io(e.into()))?;
        if args.ndjson {
            out.write_all(b"\n").map_err(io)?;
        }
        Ok(())
    })?;
    if !args.ndjson {
        out.write_all(b"\n]}\n").map_err(io)?;
    }
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
