//! `jointmap blindspots`: a thin shell over [`crate::request::blindspots`].

use super::{existing_store, Cli, Output};

/// Arguments of `jointmap blindspots`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The analysis parameters.
    #[command(flatten)]
    pub request: crate::request::blindspots::BlindspotRequest,
    /// Where the result goes.
    #[command(flatten)]
    pub output: Output,
}

pub(super) fn run(cli: &Cli, args: &Args) -> crate::Result<()> {
    let store = existing_store(cli)?;
    let outcome = args.request.run(&store)?;
    if !cli.quiet {
        eprintln!("{}", outcome.summary);
    }
    args.output.write(&outcome.geojson)
}
