//! `jointmap layers`

use super::Cli;
use crate::model::Layer;

/// Arguments of `jointmap layers`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub(super) fn run(cli: &Cli, args: &Args) -> super::Result<()> {
    // Indexes are built per layer as summary() needs them.
    let store = super::existing_store(cli)?;
    let summaries = Layer::ALL
        .iter()
        .map(|l| store.summary(*l))
        .collect::<Result<Vec<_>, _>>()?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&summaries).unwrap_or_default()
        );
        return Ok(());
    }
    println!(
        "{:<10} {:>9}  {:<40}  time span",
        "layer", "features", "bbox (lon/lat)"
    );
    for s in summaries {
        let bbox = s
            .bbox
            .map(|b| format!("{:.4},{:.4},{:.4},{:.4}", b[0], b[1], b[2], b[3]))
            .unwrap_or_else(|| "-".into());
        let span = match (&s.first, &s.last) {
            (Some(a), Some(b)) => format!("{a} .. {b}"),
            _ => "-".into(),
        };
        println!("{:<10} {:>9}  {:<40}  {}", s.layer, s.count, bbox, span);
    }
    Ok(())
}
