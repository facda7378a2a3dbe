//! The cluster layer: DBSCAN or ST-DBSCAN over events, with a summary per
//! cluster, as GeoJSON (hull polygons, optionally the labelled points).

use super::clusters::{summarize, ClusterSummary};
use super::dbscan::{dbscan, Clustering};
use super::st_dbscan::st_dbscan;
use super::{AnalysisError, Events};
use serde_json::{json, Value};

/// Which clustering.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ClusterMethod {
    /// Density-based clustering in space.
    Dbscan,
    /// Density-based clustering in space and time.
    StDbscan {
        /// Time neighbourhood in seconds.
        eps_seconds: i64,
    },
}

/// Parameters of a clustering.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClusterParams {
    /// Method.
    pub method: ClusterMethod,
    /// Space neighbourhood in metres (geodesic).
    pub eps_m: f64,
    /// Events (the event itself included) needed within eps to be a core event.
    pub min_points: usize,
}

impl Default for ClusterParams {
    fn default() -> Self {
        ClusterParams {
            method: ClusterMethod::Dbscan,
            eps_m: 10_000.0,
            min_points: 5,
        }
    }
}

/// Clusters with their summaries.
#[derive(Debug, Clone)]
pub struct Clusters {
    /// Per-event labels and core flags.
    pub clustering: Clustering,
    /// One summary per cluster, by label.
    pub summaries: Vec<ClusterSummary>,
    /// The parameters.
    pub params: ClusterParams,
}

/// Runs the clustering.
pub fn cluster(events: &Events, params: &ClusterParams) -> Result<Clusters, AnalysisError> {
    let clustering = match params.method {
        ClusterMethod::Dbscan => dbscan(&events.lon, &events.lat, params.eps_m, params.min_points)?,
        ClusterMethod::StDbscan { eps_seconds } => st_dbscan(
            &events.lon,
            &events.lat,
            &events.time,
            params.eps_m,
            eps_seconds,
            params.min_points,
        )?,
    };
    let summaries = summarize(events, &clustering);
    Ok(Clusters {
        clustering,
        summaries,
        params: *params,
    })
}

fn iso(t: i64) -> Value {
    chrono::DateTime::from_timestamp(t, 0).map_or(Value::Null, |t| {
        Value::String(crate::model::time::format_time(&t))
    })
}

impl Clusters {
    /// Cluster hulls as polygons (count, centroid, time span, leading category
    /// and actor), and with `with_points` every event as a point with its label.
    /// Member ids appear only on the points, never on the cluster polygons.
    pub fn to_geojson(&self, events: &Events, with_points: bool) -> Value {
        let mut features: Vec<Value> = self
            .summaries
            .iter()
            .map(|s| {
                let ring: Vec<Value> = s.hull.iter().map(|q| json!([q[0], q[1]])).collect();
                json!({"type": "Feature", "id": format!("cluster-{}", s.label),
                    "geometry": {"type": "Polygon", "coordinates": [ring]},
                    "properties": {"kind": "cluster", "cluster": s.label, "count": s.count,
                        "centroid": [s.centroid[0], s.centroid[1]], "first": iso(s.first), "last": iso(s.last),
                        "leading_category": s.leading_category, "leading_actor": s.leading_actor}})
            })
            .collect();
        if with_points {
            for i in 0..events.len() {
                features.push(json!({"type": "Feature", "id": events.id[i],
                    "geometry": {"type": "Point", "coordinates": [events.lon[i], events.lat[i]]},
                    "properties": {"kind": "event", "cluster": self.clustering.labels[i], "core": self.clustering.core[i]}}));
            }
        }
        let method = match self.params.method {
            ClusterMethod::Dbscan => json!({"method": "dbscan"}),
            ClusterMethod::StDbscan { eps_seconds } => {
                json!({"method": "st-dbscan", "eps_seconds": eps_seconds})
            }
        };
        let noise = self.clustering.labels.iter().filter(|l| **l < 0).count();
        json!({"type": "FeatureCollection",
            "jointmap": {"analysis": "clusters", "clustering": method, "eps_m": self.params.eps_m,
                "min_points": self.params.min_points, "events": events.len(),
                "clusters": self.summaries.len(), "noise": noise, "distance": "haversine, sphere of radius 6371008.8 m"},
            "features": features})
    }
}
