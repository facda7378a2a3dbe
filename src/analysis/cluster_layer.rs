//! The cluster layers: DBSCAN, ST-DBSCAN or HDBSCAN over events, with a
//! summary per cluster, as one of three layers (cluster hulls, cluster
//! centres, labelled events).

use super::clusters::{summarize, ClusterSummary};
use super::dbscan::{dbscan, Clustering};
use super::hdbscan::{hdbscan_haversine, HdbscanParams};
use super::knee::{choose_eps, KneeEps};
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
    /// Hierarchical density-based clustering (variable density, no radius).
    Hdbscan(HdbscanParams),
}

/// Which layer of a clustering a product holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ClusterFeatures {
    /// One polygon per cluster (its convex hull) with its summary.
    #[default]
    Hulls,
    /// One point per cluster (its centre) with its summary.
    Centroids,
    /// Every event as a point with its cluster label (-1: noise).
    Points,
}

/// DBSCAN's `min_points`: given, or chosen from the number of events.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MinPoints {
    /// `max(5, round(ln n))` for `n` events ([`MinPoints::resolve`]).
    #[default]
    Auto,
    /// Given by the caller.
    Given(usize),
}

/// The least `min_points` the automatic rule gives (DBSCAN's customary
/// 2 x dimensions + 1 for points on a surface).
pub const MIN_AUTO_MIN_POINTS: usize = 5;

impl MinPoints {
    /// The number for `n` events: the given one, or `max(5, round(ln n))`,
    /// the rule of Birant and Kut (2007) for ST-DBSCAN, so that a larger layer
    /// needs more events to make a dense place (5 up to 400 events, 8 at
    /// 1,848, 14 at 1,000,000), and chance coincidences in the scatter of a
    /// large layer do not make thousands of small clusters.
    pub fn resolve(self, n: usize) -> usize {
        match self {
            MinPoints::Given(k) => k,
            MinPoints::Auto => {
                let ln = (n.max(1) as f64).ln().round() as usize;
                ln.max(MIN_AUTO_MIN_POINTS)
            }
        }
    }
}

impl std::fmt::Display for MinPoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MinPoints::Auto => f.write_str("auto"),
            MinPoints::Given(k) => write!(f, "{k}"),
        }
    }
}

impl std::str::FromStr for MinPoints {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s == "auto" {
            return Ok(MinPoints::Auto);
        }
        match s.parse::<usize>() {
            Ok(k) if k >= 1 => Ok(MinPoints::Given(k)),
            _ => Err(format!(
                "{s:?} is neither auto nor a whole number of at least 1"
            )),
        }
    }
}

impl PartialEq<usize> for MinPoints {
    fn eq(&self, k: &usize) -> bool {
        *self == MinPoints::Given(*k)
    }
}

/// Recorded as the flag takes it: `"auto"`, or the number.
impl serde::Serialize for MinPoints {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            MinPoints::Auto => s.serialize_str("auto"),
            MinPoints::Given(k) => s.serialize_u64(*k as u64),
        }
    }
}

/// Parameters of a clustering.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClusterParams {
    /// Method.
    pub method: ClusterMethod,
    /// Space neighbourhood in metres (geodesic) for DBSCAN and ST-DBSCAN;
    /// `None`: chosen from the data (the knee of the k-distance curve with
    /// the chaining check, see [`super::knee`]). Unused by HDBSCAN.
    pub eps_m: Option<f64>,
    /// Events (the event itself included) needed within eps to be a core
    /// event (DBSCAN, ST-DBSCAN).
    pub min_points: MinPoints,
    /// The layer the events come from.
    pub layer: Layer,
}

impl Default for ClusterParams {
    fn default() -> Self {
        ClusterParams {
            method: ClusterMethod::Dbscan,
            eps_m: None,
            min_points: MinPoints::Auto,
            layer: Layer::Incidents,
        }
    }
}

/// The radius a DBSCAN or ST-DBSCAN ran with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum EpsUsed {
    /// Given by the caller, metres.
    Given(f64),
    /// Chosen from the data.
    Knee(KneeEps),
    /// None could be chosen: no more events than `min_points`, so there is
    /// no k-distance curve and no cluster; every event is noise. Not an
    /// error, so an empty or sparse selection answers like any other (an
    /// error would tell a role how many events it holds).
    TooFew,
}

impl EpsUsed {
    /// The radius, metres.
    pub fn metres(&self) -> f64 {
        match self {
            EpsUsed::Given(m) => *m,
            EpsUsed::Knee(k) => k.eps_m,
            EpsUsed::TooFew => 0.0,
        }
    }
}

/// Clusters with their summaries.
#[derive(Debug, Clone)]
pub struct Clusters {
    /// Per-event labels and core flags (HDBSCAN: no core flags, all false).
    pub clustering: Clustering,
    /// HDBSCAN's membership strength per event (0 for noise), as the
    /// `hdbscan` package's `probabilities_`.
    pub probabilities: Option<Vec<f64>>,
    /// One summary per cluster, by label.
    pub summaries: Vec<ClusterSummary>,
    /// The parameters.
    pub params: ClusterParams,
    /// The radius used (DBSCAN, ST-DBSCAN).
    pub eps: Option<EpsUsed>,
    /// `min_points` used (resolved from [`ClusterParams::min_points`]).
    pub min_points: usize,
}

/// Runs the clustering.
pub fn cluster(events: &Events, params: &ClusterParams) -> Result<Clusters, AnalysisError> {
    let min_points = params.min_points.resolve(events.len());
    // The clustering the chaining check ended on, when it is DBSCAN's.
    let mut chosen = None;
    let eps = match (params.method, params.eps_m) {
        (ClusterMethod::Hdbscan(_), _) => None,
        (_, Some(m)) => Some(EpsUsed::Given(m)),
        (_, None) if events.len() <= min_points => Some(EpsUsed::TooFew),
        (_, None) => {
            let (knee, c) = choose_eps(&events.lon, &events.lat, min_points)?;
            chosen = Some(c);
            Some(EpsUsed::Knee(knee))
        }
    };
    let eps_m = eps.map_or(0.0, |e| e.metres());
    let mut probabilities = None;
    let clustering = match params.method {
        _ if matches!(eps, Some(EpsUsed::TooFew)) => Clustering {
            labels: vec![-1; events.len()],
            core: vec![false; events.len()],
        },
        ClusterMethod::Dbscan => match chosen {
            Some(c) => c,
            None => dbscan(&events.lon, &events.lat, eps_m, min_points)?,
        },
        ClusterMethod::StDbscan { eps_seconds } => st_dbscan_intervals(
            &events.lon,
            &events.lat,
            &events.time,
            &events.ends(),
            eps_m,
            eps_seconds,
            min_points,
        )?,
        ClusterMethod::Hdbscan(p) => {
            let h = hdbscan_haversine(&events.lon, &events.lat, &p)?;
            probabilities = Some(h.probabilities);
            Clustering {
                core: vec![false; h.labels.len()],
                labels: h.labels,
            }
        }
    };
    let summaries = summarize(events, &clustering);
    Ok(Clusters {
        clustering,
        probabilities,
        summaries,
        params: *params,
        eps,
        min_points,
    })
}

impl Clusters {
    /// One layer of the clustering: cluster hulls as polygons or cluster
    /// centres as points (each with its count, time span, leading category
    /// and actor), or every event as a point with its label. Member ids
    /// appear only on the event points, never on the clusters.
    pub fn to_product(&self, events: &Events, features: ClusterFeatures) -> Product {
        let layer = self.params.layer;
        let items: Vec<Item> = match features {
            ClusterFeatures::Hulls | ClusterFeatures::Centroids => self
                .summaries
                .iter()
                .map(|s| Item {
                    id: Field::Key(format!("cluster-{}", s.label)),
                    geometry: if features == ClusterFeatures::Hulls {
                        Shape::Hull(s.hull.clone())
                    } else {
                        Shape::Centroid(s.centroid)
                    },
                    properties: self.summary_fields(events, s),
                })
                .collect(),
            ClusterFeatures::Points => (0..events.len())
                .map(|i| {
                    let mut properties = vec![
                        ("kind", Field::Key("event".into())),
                        (
                            "cluster",
                            Field::param(i64::from(self.clustering.labels[i])),
                        ),
                    ];
                    match &self.probabilities {
                        Some(p) => properties.push(("probability", Field::Value(p[i]))),
                        None => properties.push(("core", Field::param(self.clustering.core[i]))),
                    }
                    Item {
                        id: Field::Reference {
                            prefix: "",
                            layer,
                            id: events.id[i].clone(),
                        },
                        geometry: Shape::Point([events.lon[i], events.lat[i]]),
                        properties,
                    }
                })
                .collect(),
        };
        let method = match self.params.method {
            ClusterMethod::Dbscan => Param::Object(vec![("method", "dbscan".into())]),
            ClusterMethod::StDbscan { eps_seconds } => Param::Object(vec![
                ("method", "st-dbscan".into()),
                ("eps_seconds", eps_seconds.into()),
            ]),
            ClusterMethod::Hdbscan(p) => Param::Object(vec![
                ("method", "hdbscan".into()),
                ("min_cluster_size", p.min_cluster_size.into()),
                (
                    "min_samples",
                    p.min_samples.unwrap_or(p.min_cluster_size).into(),
                ),
                ("cluster_selection", "eom".into()),
            ]),
        };
        let noise = self.clustering.noise_count();
        let mut p = Product::new("clusters");
        p.meta.push(("clustering", Field::Param(method)));
        p.meta
            .push(("features", Field::param(features_name(features))));
        if let Some(eps) = self.eps {
            if !matches!(eps, EpsUsed::TooFew) {
                p.meta.push(("eps_m", Field::param(eps.metres())));
            }
            let chosen = match eps {
                EpsUsed::TooFew => Param::Object(vec![(
                    "method",
                    "none: no more events than min_points, so no cluster".into(),
                )]),
                EpsUsed::Given(_) => Param::Object(vec![("method", "given".into())]),
                EpsUsed::Knee(k) => {
                    let mut v = vec![
                        (
                            "method",
                            "kneedle on the sorted k-distance curve, then the chaining check: \
                             the largest radius below the knee at which no cluster holds more \
                             than max_share of the events, if the knee's largest cluster does"
                                .into(),
                        ),
                        ("k", k.k.into()),
                        ("sample", k.sample.into()),
                        ("sample_seed", super::knee::SEED.into()),
                        ("knee_rank", k.rank.into()),
                        ("knee_eps_m", k.knee_m.into()),
                        ("max_share", super::knee::MAX_SHARE.into()),
                    ];
                    if let Some(c) = k.chaining {
                        v.extend([
                            ("knee_largest_share", c.knee_share.into()),
                            ("search_ratio", super::knee::SEARCH_RATIO.into()),
                            ("search_runs", c.runs.into()),
                            ("found", c.found.into()),
                            ("rank", c.rank.into()),
                            ("largest_share", c.share.into()),
                        ]);
                    }
                    Param::Object(v)
                }
            };
            p.meta.push(("eps_chosen", Field::Param(chosen)));
            p.meta.push(("min_points", Field::param(self.min_points)));
            p.meta.push((
                "min_points_rule",
                Field::param(match self.params.min_points {
                    MinPoints::Given(_) => "given",
                    MinPoints::Auto => "max(5, round(ln(events)))",
                }),
            ));
        }
        p.meta.extend([
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

    /// The properties of a cluster hull or centre.
    fn summary_fields(&self, events: &Events, s: &ClusterSummary) -> Vec<(&'static str, Field)> {
        let layer = self.params.layer;
        let (category_field, actor_field) = match layer {
            Layer::Sightings => ("activity", "actor"),
            _ => ("category", "perpetrator"),
        };
        vec![
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
        ]
    }
}

/// The name of a layer, as the flag spells it.
fn features_name(f: ClusterFeatures) -> &'static str {
    match f {
        ClusterFeatures::Hulls => "hulls",
        ClusterFeatures::Centroids => "centroids",
        ClusterFeatures::Points => "points",
    }
}

#[cfg(test)]
mod too_few_tests {
    use super::*;

    /// `n` events 100 m apart on a line, on one day.
    fn events(n: usize) -> Events {
        Events {
            id: (0..n).map(|i| format!("e{i}")).collect(),
            lon: (0..n).map(|i| 20.0 + i as f64 * 1e-3).collect(),
            lat: vec![7.0; n],
            time: vec![0; n],
            time_end: vec![0; n],
            weight: vec![1.0; n],
            category: vec!["attack".into(); n],
            actor: vec![String::new(); n],
            sensitive: vec![false; n],
        }
    }

    /// An empty or tiny selection is answered, not refused: every event is
    /// noise and the product says why (an error would count the events).
    #[test]
    fn too_few_events_for_a_radius_are_all_noise_not_an_error() {
        for n in 0..=5 {
            for method in [
                ClusterMethod::Dbscan,
                ClusterMethod::StDbscan {
                    eps_seconds: 86_400,
                },
            ] {
                let params = ClusterParams {
                    method,
                    ..ClusterParams::default()
                };
                let c = cluster(&events(n), &params).expect("no error");
                assert_eq!(c.eps, Some(EpsUsed::TooFew));
                assert!(c.clustering.labels.iter().all(|&l| l == -1));
                assert!(c.summaries.is_empty());
            }
        }
        // One more event than min_points: a radius is chosen from the data.
        let c = cluster(&events(6), &ClusterParams::default()).expect("clusters");
        assert!(matches!(c.eps, Some(EpsUsed::Knee(_))));
    }
}
