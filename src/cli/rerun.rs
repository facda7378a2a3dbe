//! `jointmap rerun PRODUCT.geojson`: runs an analysis again from nothing
//! but the product's `jointmap` member: the recorded request (parsed by the
//! same definitions as the command's flags), through the same gate (role,
//! "now" and configuration), against the store, which must be at the data
//! version recorded unless `--allow-data-change`. On unchanged data the
//! output is the product byte for byte.

use super::analysis::{gate, run_at, Shell};
use super::{existing_store, Cli, CliError};
use crate::access::{Analysis, Role};
use crate::analysis::AnalysisError;
use crate::request;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// Arguments of `jointmap rerun`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The product: a GeoJSON file written by hotspots, clusters, coverage,
    /// blindspots or impact.
    #[arg(value_name = "PRODUCT")]
    pub product: PathBuf,
    /// Output GeoJSON file (default: standard output).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Re-run even when the store's data version differs from the one the
    /// product records (the answer may then differ).
    #[arg(long)]
    pub allow_data_change: bool,
    /// The server configuration whose access policy the product was made
    /// under (`--as-role` with `--config`, or the server's): its policy must
    /// be the one recorded (SHA-256 of every value).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// What a product records about how it was made.
struct Recorded<'a> {
    analysis: &'a str,
    request: &'a Map<String, Value>,
    /// `None` in a product made for a role (it records none).
    data_version: Option<u64>,
    role: Option<Role>,
    now: DateTime<Utc>,
    policy_sha256: Option<&'a str>,
}

fn bad(product: &Path, reason: impl std::fmt::Display) -> CliError {
    AnalysisError::param("product", format!("{}: {reason}", product.display())).into()
}

fn recorded<'a>(path: &Path, v: &'a Value) -> super::Result<Recorded<'a>> {
    let meta = v
        .get("jointmap")
        .and_then(Value::as_object)
        .ok_or_else(|| bad(path, "no `jointmap` member: not a jointmap product"))?;
    let analysis = meta
        .get("analysis")
        .and_then(Value::as_str)
        .ok_or_else(|| bad(path, "`jointmap.analysis` is missing"))?;
    let request = meta
        .get("request")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            bad(
            path,
            "`jointmap.request` is missing: made by a jointmap that did not record its requests",
        )
        })?;
    let data_version = match meta.get("data_version") {
        None => None,
        Some(v) => Some(
            v.as_u64()
                .ok_or_else(|| bad(path, "`jointmap.data_version` is not a version"))?,
        ),
    };
    let (role, now, policy_sha256) = match meta.get("gate") {
        Some(Value::Null) => (None, Utc::now(), None),
        Some(Value::Object(g)) => {
            let role = g
                .get("role")
                .and_then(Value::as_str)
                .and_then(|r| r.parse::<Role>().ok())
                .ok_or_else(|| bad(path, "`jointmap.gate.role` is not a role"))?;
            let now = g
                .get("now_unix_s")
                .and_then(Value::as_i64)
                .and_then(|t| DateTime::<Utc>::from_timestamp(t, 0))
                .ok_or_else(|| bad(path, "`jointmap.gate.now_unix_s` is not a time"))?;
            let policy = g
                .get("policy_sha256")
                .and_then(Value::as_str)
                .ok_or_else(|| bad(path, "`jointmap.gate.policy_sha256` is missing"))?;
            (Some(role), now, Some(policy))
        }
        _ => {
            return Err(bad(
                path,
                "`jointmap.gate` is missing: the product does not say which role it was \
                 made for (a server answer); ask the server again with the recorded request",
            ))
        }
    };
    if data_version.is_none() && role.is_none() {
        return Err(bad(path, "`jointmap.data_version` is missing"));
    }
    Ok(Recorded {
        analysis,
        request,
        data_version,
        role,
        now,
        policy_sha256,
    })
}

/// Runs `jointmap rerun`.
pub(super) fn run(cli: &Cli, args: &Args) -> super::Result<()> {
    let path = &args.product;
    let text = std::fs::read_to_string(path).map_err(|e| bad(path, e))?;
    let v: Value = serde_json::from_str(&text).map_err(|e| bad(path, e))?;
    let rec = recorded(path, &v)?;
    let version = existing_store(cli)?.data_version()?;
    // A role's product records no version (it would date writes the role
    // may not see): it is made again on the data as it is now.
    if let Some(made_at) = rec
        .data_version
        .filter(|&v| v != version && !args.allow_data_change)
    {
        return Err(AnalysisError::param(
            "store",
            format!(
                "{} is at data version {version}, the product was made at data version {}: \
                 the data changed, so the answer may differ (give --allow-data-change to re-run \
                 on the data as it is now)",
                cli.store, made_at
            ),
        )
        .into());
    }
    match rec.policy_sha256 {
        None if args.config.is_some() => {
            return Err(AnalysisError::param(
                "config",
                "the product was made by the operator, through no access policy",
            )
            .into())
        }
        Some(want) if gate(args.config.as_deref())?.0.policy_sha256() != want => {
            return Err(AnalysisError::param(
                "config",
                format!(
                    "the access policy of {} is not the one the product was made under \
                     (SHA-256 differs): give the configuration it was made with",
                    args.config.as_ref().map_or_else(
                        || "the built-in policy (no --config)".to_string(),
                        |p| p.display().to_string()
                    )
                ),
            )
            .into())
        }
        _ => {}
    }
    let shell = Shell {
        output: args.output.clone(),
        as_role: rec.role,
        config: args.config.clone(),
        format: super::analysis::ProductFormat::Geojson,
    };
    let dir = tempfile::TempDir::new().map_err(|e| bad(path, e))?;
    let area = dir.path().join("area.geojson");
    match rec.analysis {
        "hotspots" => again::<request::hotspots::HotspotRequest>(cli, &rec, &shell, &area),
        "clusters" => again::<request::clusters::ClusterRequest>(cli, &rec, &shell, &area),
        "trends" => again::<request::trends::TrendRequest>(cli, &rec, &shell, &area),
        "coverage" => again::<request::coverage::CoverageRequest>(cli, &rec, &shell, &area),
        "blindspots" => again::<request::blindspots::BlindspotRequest>(cli, &rec, &shell, &area),
        "impact" => again::<request::impact::ImpactRequest>(cli, &rec, &shell, &area),
        other => Err(bad(path, format!("unknown analysis {other:?}"))),
    }
}

fn again<A: Analysis + Clone + clap::Args + clap::FromArgMatches>(
    cli: &Cli,
    rec: &Recorded<'_>,
    shell: &Shell,
    area_file: &Path,
) -> super::Result<()> {
    let req: A = request::record::parse(rec.request, area_file)?;
    let product = run_at(cli, &req, shell, rec.now)?;
    shell.write(&product)
}
