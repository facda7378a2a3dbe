//! `jointmap impact`: the analysis shell, and the table as CSV.

use super::analysis::Shell;
use super::Cli;
use std::path::PathBuf;

/// Arguments of `jointmap impact`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The analysis parameters.
    #[command(flatten)]
    pub request: crate::request::impact::ImpactRequest,
    /// Output (the GeoJSON: treated cells and the table) and role.
    #[command(flatten)]
    pub shell: Shell,
    /// Also write the impact table as CSV to this file.
    #[arg(long, value_name = "FILE")]
    pub csv: Option<PathBuf>,
}

pub(super) fn run(cli: &Cli, args: &Args) -> super::Result<()> {
    let product = super::analysis::run(cli, &args.request, &args.shell)?;
    if let Some(path) = &args.csv {
        let (csv, _) = crate::render::csv::impact_table(&product);
        std::fs::write(path, csv).map_err(|e| {
            crate::store::StoreError::Aborted(format!("writing {}: {e}", path.display()))
        })?;
    }
    args.shell.write(&product)
}
