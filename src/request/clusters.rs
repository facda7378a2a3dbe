//! The cluster request (`jointmap clusters`, `/analysis/clusters`).

use super::events::EventArgs;
use super::{Outcome, Protect};
use crate::analysis::cluster_layer::{
    cluster, ClusterFeatures, ClusterMethod, ClusterParams, EpsUsed, MinPoints,
};
use crate::analysis::hdbscan::HdbscanParams;
use crate::analysis::AnalysisError;
use crate::store::FeatureSource;

/// The clustering method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Method {
    /// DBSCAN: dense groups at one radius (scikit-learn's rules).
    #[default]
    Dbscan,
    /// ST-DBSCAN: dense in space and time.
    StDbscan,
    /// HDBSCAN: dense groups at any density (the `hdbscan` package's rules).
    Hdbscan,
}

impl Method {
    /// The name as the flag spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Dbscan => "dbscan",
            Method::StDbscan => "st-dbscan",
            Method::Hdbscan => "hdbscan",
        }
    }
}

/// Parameters of a cluster analysis.
#[derive(Debug, Clone, clap::Args, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct ClusterRequest {
    /// Which events.
    #[command(flatten)]
    #[serde(flatten)]
    pub events: EventArgs,
    /// dbscan (space), st-dbscan (space and time) or hdbscan (space, any density).
    #[arg(long, value_enum, default_value_t = Method::Dbscan)]
    #[serde(serialize_with = "super::record::value_enum")]
    pub method: Method,
    /// Neighbourhood radius in km (geodesic; dbscan, st-dbscan). Default:
    /// chosen from the data, at the knee of the sorted distances to each
    /// event's min-points-th nearest event, lowered when one cluster there
    /// would hold more than a quarter of the events (reported in the output).
    #[arg(long)]
    pub eps_km: Option<f64>,
    /// Time neighbourhood in days (st-dbscan).
    #[arg(long, default_value_t = 14.0)]
    pub eps_days: f64,
    /// Events within the radius (itself included) that make an event a core
    /// event (dbscan, st-dbscan). Default (auto): max(5, round(ln n)) for n
    /// events (8 for 1,848 events, 14 for 1,000,000).
    #[arg(long, default_value = "auto")]
    pub min_points: MinPoints,
    /// Smallest group hdbscan calls a cluster.
    #[arg(long, default_value_t = 20)]
    pub min_cluster_size: usize,
    /// hdbscan's density smoothing: neighbours (the event itself not counted)
    /// behind each event's core distance. Default: --min-cluster-size.
    #[arg(long)]
    pub min_samples: Option<usize>,
    /// The layer of every event as a point with its cluster label (-1:
    /// noise) instead of the cluster hulls (the CLI with -o FILE writes it
    /// beside FILE, as FILE-points.geojson, and the hulls to FILE).
    #[arg(long)]
    pub points: bool,
    /// The layer of cluster centres as points instead of the cluster hulls
    /// (the CLI with -o FILE writes it beside FILE, as FILE-centroids.geojson).
    #[arg(long)]
    pub centroids: bool,
}

impl ClusterRequest {
    /// Runs the analysis against `store`.
    pub fn run(&self, store: &dyn FeatureSource) -> crate::Result<Outcome> {
        run(store, self, None)
    }

    /// Runs the analysis against `store` with the gate's `protect` (see
    /// [`Protect`]): released events only.
    pub fn run_protected(
        &self,
        store: &dyn FeatureSource,
        protect: Option<&Protect<'_>>,
    ) -> crate::Result<Outcome> {
        run(store, self, protect)
    }

    /// The layer this request asks for.
    pub fn features(&self) -> ClusterFeatures {
        if self.points {
            ClusterFeatures::Points
        } else if self.centroids {
            ClusterFeatures::Centroids
        } else {
            ClusterFeatures::Hulls
        }
    }
}

fn run(
    store: &dyn FeatureSource,
    args: &ClusterRequest,
    protect: Option<&Protect<'_>>,
) -> crate::Result<Outcome> {
    if let Some(e) = args.eps_km {
        if !(e.is_finite() && e > 0.0) {
            return Err(AnalysisError::param("eps-km", "must be a positive number of km").into());
        }
    }
    if !(args.eps_days.is_finite() && args.eps_days > 0.0) {
        return Err(AnalysisError::param("eps-days", "must be a positive number of days").into());
    }
    if args.points && args.centroids {
        return Err(AnalysisError::param("points", "asks for one layer; centroids another").into());
    }
    let params = ClusterParams {
        method: match args.method {
            Method::Dbscan => ClusterMethod::Dbscan,
            Method::StDbscan => ClusterMethod::StDbscan {
                eps_seconds: (args.eps_days * 86_400.0).round() as i64,
            },
            Method::Hdbscan => ClusterMethod::Hdbscan(HdbscanParams {
                min_cluster_size: args.min_cluster_size,
                min_samples: args.min_samples,
            }),
        },
        eps_m: args.eps_km.map(|k| k * 1000.0),
        min_points: args.min_points,
        layer: args.events.layer,
    };
    let events = args.events.load_protected(store, protect)?;
    let result = cluster(&events, &params)?;
    let noise = result.clustering.noise_count();
    let min_points = result.min_points;
    let how = match (args.method, result.eps) {
        (Method::Hdbscan, _) => format!(
            "min cluster size {}, min samples {}",
            args.min_cluster_size,
            args.min_samples.unwrap_or(args.min_cluster_size)
        ),
        (_, Some(EpsUsed::Knee(k))) => {
            let mut how = format!(
                "eps {:.3} km chosen from the data (kneedle on the sorted {}-distances of {} events",
                k.eps_m / 1000.0,
                k.k,
                k.sample,
            );
            if let Some(c) = k.chaining {
                how.push_str(&format!(
                    "; at the knee, {:.3} km, one cluster held {:.1} % of the events, {}",
                    k.knee_m / 1000.0,
                    100.0 * c.knee_share,
                    if c.found {
                        format!(
                            "so the radius was lowered until none holds more than {:.0} % ({} runs)",
                            100.0 * crate::analysis::knee::MAX_SHARE,
                            c.runs
                        )
                    } else {
                        "and no smaller radius on the curve avoids it".to_string()
                    }
                ));
            }
            how.push_str(&format!("), min {min_points} events"));
            how
        }
        (_, Some(EpsUsed::TooFew)) => {
            format!("no radius chosen: no more than {min_points} events")
        }
        (_, eps) => format!(
            "eps {} km, min {min_points} events",
            eps.map_or(0.0, |e| e.metres() / 1000.0),
        ),
    };
    let mut summary = format!(
        "clusters: {} events, {} clusters, {} noise ({}, {how})",
        events.len(),
        result.summaries.len(),
        noise,
        args.method.as_str(),
    );
    // One cluster holding most events: the dense parts of the layer are
    // connected at this radius (towns joined by roads); say so.
    let clustered = events.len() - noise;
    if let Some(big) = result.summaries.iter().map(|s| s.count).max() {
        if result.summaries.len() > 1 && 2 * big > clustered {
            summary.push_str(&format!(
                "\nwarning: one cluster holds {big} of the {clustered} clustered events: at this \
                 radius the dense parts are connected; try a smaller --eps-km or --method hdbscan"
            ));
        }
    }
    let mut product = result.to_product(&events, args.features());
    let window = super::record::window_param(
        args.events.filter.from.map(|t| t.timestamp()),
        args.events.filter.to.map(|t| t.timestamp()),
    );
    super::record::stamp(&mut product, args, vec![("window", window)], store)?;
    Ok(Outcome { product, summary })
}
