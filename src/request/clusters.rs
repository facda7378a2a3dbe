//! The cluster request (`jointmap clusters`, `/analysis/clusters`).

use super::events::EventArgs;
use super::{Outcome, Protect};
use crate::analysis::cluster_layer::{cluster, ClusterMethod, ClusterParams};
use crate::analysis::AnalysisError;
use crate::store::Store;

/// Parameters of a cluster analysis.
#[derive(Debug, Clone, clap::Args, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct ClusterRequest {
    /// Which events.
    #[command(flatten)]
    #[serde(flatten)]
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

impl ClusterRequest {
    /// Runs the analysis against `store`.
    pub fn run(&self, store: &dyn Store) -> crate::Result<Outcome> {
        run(store, self, None)
    }

    /// Runs the analysis against `store` with the gate's `protect` (see
    /// [`Protect`]): released events only.
    pub fn run_protected(
        &self,
        store: &dyn Store,
        protect: Option<&Protect<'_>>,
    ) -> crate::Result<Outcome> {
        run(store, self, protect)
    }
}

fn run(
    store: &dyn Store,
    args: &ClusterRequest,
    protect: Option<&Protect<'_>>,
) -> crate::Result<Outcome> {
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
        layer: args.events.layer,
    };
    let events = args.events.load_protected(store, protect)?;
    let result = cluster(&events, &params)?;
    let noise = result.clustering.labels.iter().filter(|l| **l < 0).count();
    let summary = format!(
        "clusters: {} events, {} clusters, {} noise ({}, eps {} km, min {} events)",
        events.len(),
        result.summaries.len(),
        noise,
        args.method,
        args.eps_km,
        args.min_points
    );
    let mut product = result.to_product(&events, args.points);
    let window = super::record::window_param(
        args.events.filter.from.map(|t| t.timestamp()),
        args.events.filter.to.map(|t| t.timestamp()),
    );
    super::record::stamp(&mut product, args, vec![("window", window)], store)?;
    Ok(Outcome { product, summary })
}
