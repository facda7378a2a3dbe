//! `jointmap clusters`

use super::analysis_args::EventArgs;
use super::Cli;
use crate::analysis::cluster_layer::{cluster, ClusterMethod, ClusterParams};
use crate::analysis::AnalysisError;

/// Arguments of `jointmap clusters`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Which events and the output.
    #[command(flatten)]
    pub events: EventArgs,
    /// dbscan (space) or st-dbscan (space and time).
    #[arg(long, default_value = "dbscan", value_parser = ["dbscan", "st-dbscan"])]
    pub method: String,
    /// Neighbourhood radius in km (geodesic).
    #[arg(long, default_value_t = 10.0)]
    pub eps_km: f64,
    /// Time neighbourhood in days (st-dbscan).
    #[arg(long, default_value_t = 14.0)]
    pub eps_days: f64,
    /// Events within the radius (itself included) that make an event a core event.
    #[arg(long, default_value_t = 5)]
    pub min_points: usize,
    /// Also write every event as a point with its cluster label (-1: noise).
    #[arg(long)]
    pub points: bool,
}

pub(super) fn run(cli: &Cli, args: &Args) -> crate::Result<()> {
    if !(args.eps_km.is_finite() && args.eps_km > 0.0) {
        return Err(AnalysisError::param("eps-km", "must be a positive number of km").into());
    }
    if !(args.eps_days.is_finite() && args.eps_days > 0.0) {
        return Err(AnalysisError::param("eps-days", "must be a positive number of days").into());
    }
    let params = ClusterParams {
        method: if args.method == "st-dbscan" {
            ClusterMethod::StDbscan {
                eps_seconds: (args.eps_days * 86_400.0).round() as i64,
            }
        } else {
            ClusterMethod::Dbscan
        },
        eps_m: args.eps_km * 1000.0,
        min_points: args.min_points,
    };
    let store = super::existing_store(cli)?;
    let events = args.events.load(&store)?;
    let result = cluster(&events, &params)?;
    if !cli.quiet {
        let noise = result.clustering.labels.iter().filter(|l| **l < 0).count();
        eprintln!(
            "clusters: {} events, {} clusters, {} noise ({}, eps {} km, min {} events)",
            events.len(),
            result.summaries.len(),
            noise,
            args.method,
            args.eps_km,
            args.min_points
        );
    }
    args.events.write(&result.to_geojson(&events, args.points))
}
