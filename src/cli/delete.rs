//! `jointmap delete`: remove features from a layer, all or nothing, keeping
//! each in the store's history.

use super::{parse_time_arg, Cli};
use crate::model::Layer;
use crate::store::Selection;
use chrono::{DateTime, Utc};

/// Arguments of `jointmap delete`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["id", "source", "before"])))]
pub struct Args {
    /// The layer.
    pub layer: Layer,
    /// These features (all must exist, or nothing is deleted); repeatable.
    #[arg(long, value_name = "ID", num_args = 1..)]
    pub id: Vec<String>,
    /// Every feature an ingest stored for this source (`ingest --source`, by
    /// default the input file's name; `demo` for the demo generator).
    #[arg(long, value_name = "NAME")]
    pub source: Option<String>,
    /// Every feature that ended (or, with no end, started) before this time;
    /// bases and sites still open never match.
    #[arg(long, value_name = "TIME", value_parser = parse_time_arg)]
    pub before: Option<DateTime<Utc>>,
}

pub(super) fn run(cli: &Cli, args: &Args) -> super::Result<()> {
    let store = super::existing_store(cli)?;
    let selection = match (&args.source, args.before) {
        (Some(s), _) => Selection::Source(s.clone()),
        (None, Some(t)) => Selection::Before(t),
        (None, None) => Selection::Ids(args.id.clone()),
    };
    let mut batch = store.begin()?;
    let deleted = batch.delete(args.layer, &selection)?;
    batch.commit()?;
    if !cli.quiet {
        eprintln!(
            "{}: deleted {} (kept in the store's history)",
            args.layer,
            deleted.len()
        );
    }
    Ok(())
}
