//! `jointmap impact`: a thin shell over [`crate::request::impact`].

use super::{existing_store, Cli, Output};
use std::path::PathBuf;

/// Arguments of `jointmap impact`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The analysis parameters.
    #[command(flatten)]
    pub request: crate::request::impact::ImpactRequest,
    /// Where the GeoJSON (treated cells and the table) goes.
    #[command(flatten)]
    pub output: Output,
    /// Also write the impact table as CSV to this file.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
}

pub(super) fn run(cli: &Cli, args: &Args) -> crate::Result<()> {
    let store = existing_store(cli)?;
    let outcome = args.request.run(&store)?;
    if !cli.quiet {
        eprintln!("{}", outcome.summary);
    }
    if let Some(path) = &args.csv {
        let csv = crate::request::impact::table_csv(&outcome.geojson);
        std::fs::write(path, csv).map_err(|e| {
            crate::store::StoreError::Aborted(format!("writing {}: {e}", path.display()))
        })?;
    }
    args.output.write(&outcome.geojson)
}
