//! `jointmap check`: validate every stored feature again, as ingest does.

use super::Cli;
use crate::model::Layer;
use crate::store::check::{check, Fix};
use crate::store::StoreError;

/// What `check` does with invalid features.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FixMode {
    /// List them and exit with code 2; change nothing.
    Report,
    /// List them and move them into the quarantine (one transaction): no
    /// analysis or reader sees them, `--restore` puts them back.
    Quarantine,
}

/// Arguments of `jointmap check`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Check only this layer (default: every layer).
    #[arg(long)]
    pub layer: Option<Layer>,
    /// What to do with invalid features.
    #[arg(long, value_enum, default_value_t = FixMode::Report)]
    pub fix_mode: FixMode,
    /// Put the quarantined feature with this id back into --layer, as it was
    /// (to correct it in QGIS, then check again); repeatable.
    #[arg(
        long,
        value_name = "ID",
        requires = "layer",
        conflicts_with = "fix_mode"
    )]
    pub restore: Vec<String>,
    /// The plausibility bounds stored features must keep (as at ingest).
    #[command(flatten)]
    pub bounds: super::ingest::BoundsArgs,
}

pub(super) fn run(cli: &Cli, args: &Args) -> super::Result<()> {
    let store = super::existing_store(cli)?;
    let layers: Vec<Layer> = args.layer.map_or(Layer::ALL.to_vec(), |l| vec![l]);
    if !args.restore.is_empty() {
        let layer = layers[0];
        let mut batch = store.begin()?;
        for id in &args.restore {
            if batch.restore(layer, id)? == 0 {
                return Err(StoreError::BadQuery(format!(
                    "{layer}: no quarantined feature with id {id:?}; nothing restored"
                ))
                .into());
            }
        }
        batch.commit()?;
        if !cli.quiet {
            eprintln!("{layer}: restored {}", args.restore.join(", "));
        }
        return Ok(());
    }
    let fix = match args.fix_mode {
        FixMode::Report => Fix::Report,
        FixMode::Quarantine => Fix::Quarantine,
    };
    let report = check(&*store, &layers, fix, &args.bounds.bounds())?;
    for f in &report.findings {
        eprintln!("{f}");
    }
    if !cli.quiet {
        eprintln!(
            "checked {} stored features: {} invalid{}",
            report.checked,
            report.findings.len(),
            if report.quarantined > 0 {
                format!(", {} moved into the quarantine", report.quarantined)
            } else {
                String::new()
            }
        );
    }
    if fix == Fix::Report && !report.findings.is_empty() {
        return Err(StoreError::Invalid {
            location: cli.store.to_string(),
            reason: format!(
                "{} stored features fail validation (listed above); correct them, or move them \
                 aside with `jointmap check --fix-mode quarantine`",
                report.findings.len()
            ),
        }
        .into());
    }
    Ok(())
}
