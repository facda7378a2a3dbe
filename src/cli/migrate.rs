//! `jointmap migrate`: brings the store's schema to this build's version.

use super::Cli;
use crate::store::SchemaStatus;

/// Arguments of `jointmap migrate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Say what would be done, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// A version as the report shows it.
fn version(s: &SchemaStatus) -> String {
    s.found
        .map_or_else(|| "none (no store)".into(), |v| v.to_string())
}

pub(super) fn run(cli: &Cli, args: &Args) -> super::Result<()> {
    let (before, after) = crate::store::migrate(&cli.store, args.dry_run)?;
    let line = match (before.pending, args.dry_run) {
        (false, _) => format!(
            "{}: schema version {}, up to date (this jointmap's is {}); nothing to do",
            cli.store,
            version(&before),
            before.supported
        ),
        (true, true) => format!(
            "{}: would migrate the schema from version {} to {} (dry run: nothing changed)",
            cli.store,
            version(&before),
            before.supported
        ),
        (true, false) => format!(
            "{}: migrated the schema from version {} to {}",
            cli.store,
            version(&before),
            version(&after)
        ),
    };
    if !cli.quiet {
        println!("{line}");
    }
    Ok(())
}
