//! The cluster layer: DBSCAN or ST-DBSCAN over events, with a summary per
//! cluster, as GeoJSON (hull polygons, optionally the labelled points).

use super::clusters::{summarize, ClusterSummary};
use super::dbscan::{dbscan, Clustering};
use super::product::{Field, Item, Param, Product, Shape};
use super::st_dbscan::st_dbscan_intervals;
use super::{AnalysisError, Events};
use crate::model::Layer;

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
    /// The layer the events come from.
    pub layer: Layer,
}

impl Default for ClusterParams {
    fn default() -> Self {
        ClusterParams {
            method: ClusterMethod::Dbscan,
            eps_m: 10_000.0,
            min_points: 5,
            layer: Layer::Incidents,
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
        ClusterMethod::StDbscan { eps_seconds } => st_dbscan_intervals(
            &events.lon,
            &events.lat,
            &events.time,
            &events.ends(),
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

impl Clusters {
    /// Cluster hulls as polygons (count, centroid, time span, leading category
    /// and actor), and with `with_points` every event as a point with its label.
    /// Member ids appear only on the points, never on the cluster polygons.
    pub fn to_product(&self, events: &Events, with_points: bool) -> Product {
        let layer = self.params.layer;
        let (category_field, actor_field) = match layer {
            Layer::Sightings => ("activity", "actor"),
            _ => ("category", "perpetrator"),
        };
        let mut items: Vec<Item> = self
            .summaries
            .iter()
            .map(|s| Item {
                id: Field::Key(format!("cluster-{}", s.label)),
                geometry: Shape::Hull(s.hull.clone()),
                properties: vec![
                    ("kind", Field::Key("cluster".into())),
                    ("cluster", Field::param(i64::from(s.label))),
                    (
                        "count",
                        Field::Count {
                            layer,
                            n: s.count as u64,
                        },
                    ),
                    (
                        "count_sensitive",
                        Field::Sensitive(events.count_sensitive(s.members.iter().copied()) as u64),
                    ),
                    ("centroid", Field::Position(s.centroid)),
                    ("first", Field::EventTime(s.first)),
                    ("last", Field::EventTime(s.last)),
                    (
                        "leading_category",
                        Field::FieldValue {
                            layer,
                            field: category_field,
                            value: s.leading_category.clone(),
                        },
                    ),
                    (
                        "leading_actor",
                        Field::FieldValue {
                            layer,
                            field: actor_field,
                            value: s.leading_actor.clone(),
                        },
                    ),
                ],
            })
            .collect();
        if with_points {
            for i in 0..events.len() {
                items.push(Item {
                    id: Field::Reference {
                        prefix: "",
                        layer,
                        id: events.id[i].clone(),
                    },
                    geometry: Shape::Point([events.lon[i], events.lat[i]]),
                    properties: vec![
                        ("kind", Field::Key("event".into())),
                        (
                            "cluster",
                            Field::param(i64::from(self.clustering.labels[i])),
                        ),
                        ("core", Field::param(self.clustering.core[i])),
                    ],
                });
            }
        }
        let method = match self.params.method {
            ClusterMethod::Dbscan => Param::Object(vec![("method", "dbscan".into())]),
            ClusterMethod::StDbscan { eps_seconds } => Param::Object(vec![
                ("method", "st-dbscan".into()),
                ("eps_seconds", eps_seconds.into()),
            ]),
        };
        let noise = self.clustering.labels.iter().filter(|l| **l < 0).count();
        let mut p = Product::new("clusters");
        p.meta.extend([
            ("clustering", Field::Param(method)),
            ("eps_m", Field::param(self.params.eps_m)),
            ("min_points", Field::param(self.params.min_points)),
            (
                "events",
                Field::Count {
                    layer,
                    n: events.len() as u64,
                },
            ),
            ("clusters", Field::Tally(self.summaries.len() as u64)),
            (
                "noise",
                Field::Count {
                    layer,
                    n: noise as u64,
                },
            ),
            (
                "distance",
                Field::param("haversine, sphere of radius 6371008.8 m"),
            ),
        ]);
        p.items = items;
        p
    }
}
