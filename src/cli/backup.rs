//! `jointmap backup`: a consistent copy of the store, also while a server
//! or an ingest writes to it.

use super::Cli;
use std::path::PathBuf;

/// Arguments of `jointmap backup`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The copy to write (replaced atomically when it exists).
    pub dest: PathBuf,
}

pub(super) fn run(cli: &Cli, args: &Args) -> super::Result<()> {
    // Copies the file itself: GeoPackage only.
    let store = crate::store::open_geopackage(&cli.store, &super::EXISTING)?;
    store.backup(&args.dest)?;
    if !cli.quiet {
        eprintln!("backed up {} to {}", cli.store, args.dest.display());
    }
    Ok(())
}
