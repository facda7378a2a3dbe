//! `jointmap brief KIND --as-of DATE`: the weekly hotspot brief and the
//! early-warning brief, as the operator or, with `--as-role`, through the
//! access gate exactly as the server makes it for a token of that role.

use super::{existing_store, Cli};
use crate::access::{Principal, Role};
use crate::render::brief::{self, BriefFormat};
use crate::request::brief::{Brief, BriefKind, BriefRequest};
use std::path::PathBuf;

/// Arguments of `jointmap brief`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Which brief: weekly-hotspot, early-warning, quarterly-outlook, handover or
    /// threat-matrix.
    #[arg(value_enum)]
    pub kind: BriefKind,
    /// The brief's parameters.
    #[command(flatten)]
    pub request: BriefRequest,
    /// The trigger calendar of the quarterly outlook (a TOML file,
    /// docs/briefs.md).
    #[arg(long, value_name = "FILE")]
    pub calendar: Option<PathBuf>,
    /// Make it for ROLE (hr, military, jmac, partner): every part runs
    /// through the access gate for that role.
    #[arg(long, value_name = "ROLE")]
    pub as_role: Option<Role>,
    /// The server configuration whose `[access]` policy and `[limits]`
    /// apply with --as-role (default: the built-in policy, no limits).
    #[arg(long, value_name = "FILE", requires = "as_role")]
    pub config: Option<PathBuf>,
    /// Output format: the HTML document, the areas as GeoJSON, or as CSV.
    #[arg(long, value_enum, default_value = "html")]
    pub format: BriefFormat,
    /// Output file (default: standard output).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Makes the brief and writes it.
pub fn run(cli: &Cli, args: &Args) -> super::Result<()> {
    let store = existing_store(cli)?;
    let mut request = args.request.clone();
    if let Some(p) = &args.calendar {
        request.calendar = Some(crate::request::brief::outlook::load_calendar(p)?);
    }
    let brief = match args.as_role {
        None => Brief::assemble(args.kind, &request, None, &mut |part| {
            brief::as_operator(&*store, part)
        })?,
        Some(role) => {
            let (gate, budget) = super::analysis::gate(args.config.as_deref())?;
            let principal = Principal {
                name: format!("cli --as-role {role}"),
                role,
                ingest: Vec::new(),
            };
            let now = chrono::Utc::now();
            Brief::assemble(
                args.kind,
                &request,
                Some(role.as_str().to_string()),
                &mut |part| brief::through_gate(&gate, &principal, &budget, now, &*store, part),
            )?
        }
    };
    let (bytes, n) = brief::encode(&brief, args.format)
        .map_err(|e| crate::store::StoreError::Aborted(e.to_string()))?;
    let io = |e: std::io::Error| crate::store::StoreError::Aborted(format!("writing output: {e}"));
    match &args.out {
        Some(p) => std::fs::write(p, &bytes).map_err(io)?,
        None => {
            use std::io::Write;
            let mut out = super::stdout();
            out.write_all(&bytes).map_err(io)?;
            out.flush().map_err(io)?;
        }
    }
    if !cli.quiet {
        eprintln!(
            "brief {}: {n} areas as of {}{}",
            args.kind.as_str(),
            args.request
                .as_of
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            args.as_role
                .map_or_else(String::new, |r| format!(" for role {r}"))
        );
    }
    Ok(())
}
