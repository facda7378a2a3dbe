//! `jointmap coverage`: a thin shell over [`crate::request::coverage`].

use super::{existing_store, Cli, Output};

/// Arguments of `jointmap coverage`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The analysis parameters.
    #[command(flatten)]
    pub request: crate::request::coverage::CoverageRequest,
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
