//! Reading patrols and bases from the store, with vertex times.

use super::{Base, Patrol, Presence};
use crate::analysis::AnalysisError;
use crate::model::schema::{default_reach_km, MODES};
use crate::model::time::parse_time;
use crate::model::{Feature, Layer};
use crate::store::{FeatureSource, Query, StoreError};
use chrono::{DateTime, Utc};
use geo::{Distance, Haversine, Point};
use serde_json::Value;

fn timestamp(name: &'static str, t: i64) -> Result<DateTime<Utc>, AnalysisError> {
    DateTime::from_timestamp(t, 0)
        .ok_or_else(|| AnalysisError::param(name, format!("{t} is not a representable time")))
}

/// Reads the patrols whose time overlaps `[from, to]` and all bases (open
/// at any time) within `bbox` (`[min_lon, min_lat, max_lon, max_lat]`;
/// `None`: everywhere) through the [`Store`] trait, in store order.
///
/// Vertex times are the feature's `vertex_times` when present; otherwise
/// they are spread between `time_start` and `time_end` in proportion to the
/// (haversine) distance along the track, the gaps between the lines of a
/// MultiLineString not counting; without `time_end` every vertex is at
/// `time_start`. Times are kept to the second.
pub fn load_presence(
    store: &dyn FeatureSource,
    from: i64,
    to: i64,
    bbox: Option<[f64; 4]>,
) -> Result<Presence, AnalysisError> {
    if to < from {
        return Err(AnalysisError::param(
            "to",
            "the time window ends before it starts",
        ));
    }
    let query = Query {
        bbox,
        from: Some(timestamp("from", from)?),
        to: Some(timestamp("to", to)?),
    };
    let began = std::time::Instant::now();
    let mut out = Presence::default();
    let mut failed = None;
    let abort = |e: String, failed: &mut Option<String>| {
        *failed = Some(e.clone());
        StoreError::Aborted(e)
    };
    let read = store.query(Layer::Patrols, &query, &mut |f| {
        let p = patrol_from_feature(&f).map_err(|e| abort(e, &mut failed))?;
        out.patrols.push(p);
        Ok(())
    });
    if let Some(e) = failed.take() {
        return Err(AnalysisError::param("patrols", e));
    }
    read?;
    let query = Query {
        bbox,
        from: None,
        to: None,
    };
    let read = store.query(Layer::Bases, &query, &mut |f| {
        let b = base_from_feature(&f).map_err(|e| abort(e, &mut failed))?;
        out.bases.push(b);
        Ok(())
    });
    if let Some(e) = failed {
        return Err(AnalysisError::param("bases", e));
    }
    read?;
    tracing::info!(
        patrols = out.patrols.len(),
        bases = out.bases.len(),
        read_ms = began.elapsed().as_secs_f64() * 1e3,
        "store presence read"
    );
    Ok(out)
}

fn patrol_from_feature(f: &Feature) -> Result<Patrol, String> {
    let line = |l: &geo_types::LineString<f64>| -> Vec<[f64; 2]> {
        l.0.iter().map(|c| [c.x, c.y]).collect()
    };
    let parts: Vec<Vec<[f64; 2]>> = match &f.geometry {
        geo_types::Geometry::LineString(l) => vec![line(l)],
        geo_types::Geometry::MultiLineString(m) => m.0.iter().map(line).collect(),
        other => {
            return Err(format!(
                "patrol {}: a track must be a LineString or MultiLineString, not {other:?}",
                f.id
            ))
        }
    };
    let mode = f.str("mode").unwrap_or("");
    let mode = MODES
        .iter()
        .position(|m| *m == mode)
        .ok_or_else(|| format!("patrol {}: unknown mode {mode:?}", f.id))?;
    let start = f.time.start.timestamp();
    let end = f.time.end.map(|e| e.timestamp());
    let times = match f.properties.get("vertex_times") {
        Some(Value::Array(list)) => {
            let mut flat = Vec::with_capacity(list.len());
            for v in list {
                let t = v
                    .as_str()
                    .ok_or_else(|| format!("patrol {}: vertex time {v} is not a string", f.id))
                    .and_then(|s| parse_time(s).map_err(|e| format!("patrol {}: {e}", f.id)))?;
                flat.push(t.timestamp());
            }
            let n: usize = parts.iter().map(Vec::len).sum();
            if flat.len() != n {
                return Err(format!(
                    "patrol {}: {} vertex times for {n} vertices",
                    f.id,
                    flat.len()
                ));
            }
            let mut it = flat.into_iter();
            parts
                .iter()
                .map(|p| it.by_ref().take(p.len()).collect())
                .collect()
        }
        _ => spread_times(&parts, start, end),
    };
    Ok(Patrol {
        id: f.id.clone(),
        mode,
        kind: f.str("kind").unwrap_or("").to_string(),
        parts,
        times,
    })
}

/// Vertex times in proportion to distance along the track (see
/// [`load_presence`]); evenly by vertex when the track has no length.
fn spread_times(parts: &[Vec<[f64; 2]>], start: i64, end: Option<i64>) -> Vec<Vec<i64>> {
    let Some(end) = end.filter(|e| *e > start) else {
        return parts.iter().map(|p| vec![start; p.len()]).collect();
    };
    let cum: Vec<Vec<f64>> = {
        let mut total = 0.0;
        parts
            .iter()
            .map(|p| {
                p.iter()
                    .enumerate()
                    .map(|(i, v)| {
                        if i > 0 {
                            total += Haversine.distance(Point::from(p[i - 1]), Point::from(*v));
                        }
                        total
                    })
                    .collect()
            })
            .collect()
    };
    let total = cum.iter().flatten().copied().fold(0.0, f64::max);
    let n: usize = parts.iter().map(Vec::len).sum();
    let span = (end - start) as f64;
    let mut k = 0usize;
    cum.iter()
        .map(|c| {
            c.iter()
                .map(|d| {
                    let frac = if total > 0.0 {
                        d / total
                    } else {
                        k as f64 / (n.max(2) - 1) as f64
                    };
                    k += 1;
                    start + (span * frac.clamp(0.0, 1.0)).round() as i64
                })
                .collect()
        })
        .collect()
}

fn base_from_feature(f: &Feature) -> Result<Base, String> {
    let base_type = f.str("base_type").unwrap_or("").to_string();
    let reach_km = f
        .properties
        .get("reach_km")
        .and_then(Value::as_f64)
        .or_else(|| default_reach_km(&base_type))
        .ok_or_else(|| format!("base {}: no reach_km and unknown base type", f.id))?;
    Ok(Base {
        id: f.id.clone(),
        name: f.str("name").unwrap_or("").to_string(),
        base_type,
        geometry: f.geometry.clone(),
        reach_m: reach_km * 1000.0,
        start: f.time.start.timestamp(),
        end: f.time.end.map(|e| e.timestamp()),
    })
}
