//! Reading patrols and bases from a store, vertex times spread by distance.

use super::*;
use crate::model::time::parse_time;
use crate::model::Layer;
use serde_json::Value;

#[test]
fn load_presence_reads_patrols_and_bases_from_the_store() {
    use crate::ingest::{ingest, IngestOptions, Input};
    use crate::store::GpkgStore;
    let dir = tempfile::TempDir::new().unwrap();
    let store = GpkgStore::open(dir.path().join("s.gpkg")).unwrap();
    let put = |layer: Layer, features: Vec<Value>| {
        let input = Input::Features {
            name: "test".into(),
            features: Box::new(features.into_iter().map(|v| v.to_string())),
        };
        let mut opts = IngestOptions::new(layer);
        opts.rejects = dir.path().join("rejects.ndjson");
        ingest(&store, &opts, vec![input], &|_, _| {}).unwrap();
    };
    let line = |id: &str, coords: Value, props: Value| json!({"type": "Feature", "id": id, "geometry": {"type": "LineString", "coordinates": coords}, "properties": props});
    put(
        Layer::Patrols,
        vec![
            line(
                "p1",
                json!([[18.0, 4.0], [18.1, 4.0], [18.2, 4.0]]),
                json!({"unit": "A", "mode": "vehicle", "time_start": "2025-01-10T08:00:00Z",
                           "time_end": "2025-01-10T10:00:00Z", "vertex_times":
                           ["2025-01-10T08:00:00Z", "2025-01-10T08:10:00Z", "2025-01-10T10:00:00Z"]}),
            ),
            // Spread by distance: 1/3 of the way at the second vertex.
            line(
                "p2",
                json!([[18.0, 4.1], [18.1, 4.1], [18.3, 4.1]]),
                json!({"unit": "B", "mode": "foot", "kind": "escort",
                           "time_start": "2025-01-11T06:00:00Z", "time_end": "2025-01-11T09:00:00Z"}),
            ),
            json!({"type": "Feature", "id": "p3", "geometry": {"type": "MultiLineString",
                       "coordinates": [[[18.0, 4.2], [18.1, 4.2]], [[18.3, 4.2], [18.4, 4.2]]]},
                       "properties": {"unit": "C", "mode": "boat",
                       "time_start": "2025-01-12T00:00:00Z", "time_end": "2025-01-12T02:00:00Z"}}),
            // Outside the window.
            line(
                "p4",
                json!([[18.0, 4.3], [18.1, 4.3]]),
                json!({"unit": "D", "mode": "air", "time_start": "2024-06-01T00:00:00Z",
                           "time_end": "2024-06-01T01:00:00Z"}),
            ),
        ],
    );
    put(
        Layer::Bases,
        vec![
            json!({"type": "Feature", "id": "b1", "geometry": {"type": "Point", "coordinates": [18.2, 4.2]},
                       "properties": {"name": "Alpha COB", "base_type": "cob", "time_start": "2024-01-01"}}),
            json!({"type": "Feature", "id": "b2", "geometry": {"type": "Polygon", "coordinates":
                       [[[18.3, 4.3], [18.32, 4.3], [18.32, 4.32], [18.3, 4.32], [18.3, 4.3]]]},
                       "properties": {"name": "Bravo TOB", "base_type": "tob", "reach_km": 3,
                       "time_start": "2023-01-01", "time_end": "2023-06-01"}}),
        ],
    );
    let t = |s: &str| parse_time(s).unwrap().timestamp();
    let (from, to) = (t("2025-01-01"), t("2025-01-31"));
    let pr = load_presence(&store, from, to, None).unwrap();
    let ids: Vec<&str> = pr.patrols.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["p1", "p2", "p3"]);
    let (p1, p2, p3) = (&pr.patrols[0], &pr.patrols[1], &pr.patrols[2]);
    assert_eq!((p1.mode, p2.mode, p3.mode), (1, 0, 3));
    assert_eq!(p2.kind, "escort");
    assert_eq!(
        p1.times,
        [[
            t("2025-01-10T08:00:00Z"),
            t("2025-01-10T08:10:00Z"),
            t("2025-01-10T10:00:00Z")
        ]]
    );
    let s2 = t("2025-01-11T06:00:00Z");
    assert_eq!(p2.times, [[s2, s2 + 3_600, s2 + 3 * 3_600]]);
    // Two lines of equal length: the gap between them takes no time.
    let s3 = t("2025-01-12T00:00:00Z");
    assert_eq!(p3.parts.len(), 2);
    assert_eq!(p3.times, [[s3, s3 + 3_600], [s3 + 3_600, s3 + 7_200]]);
    assert_eq!(pr.bases.len(), 2);
    let (b1, b2) = (&pr.bases[0], &pr.bases[1]);
    assert_eq!(
        (b1.name.as_str(), b1.reach_m, b1.end),
        ("Alpha COB", 25_000.0, None)
    );
    assert_eq!((b2.base_type.as_str(), b2.reach_m), ("tob", 3_000.0));
    assert!(b1.is_active(to) && !b2.is_active(to));
    assert!(matches!(b2.geometry, geo_types::Geometry::Polygon(_)));
    // A bounding box keeps what lies in it.
    let west = load_presence(&store, from, to, Some([17.9, 3.9, 18.15, 4.15])).unwrap();
    let ids: Vec<&str> = west.patrols.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["p1", "p2"]);
    assert!(west.bases.is_empty());
    assert!(load_presence(&store, to, from, None).is_err());
    // And the loaded presence maps.
    let g = Grid::square(&Area::BBox([17.9, 3.9, 18.5, 4.4]), 1000.0).unwrap();
    let cov = coverage(&g, &pr, &Events::default(), &params(from, to)).unwrap();
    assert_eq!((cov.patrols_used, cov.bases_active), (3, 1));
    let km: f64 = cov.cells.iter().map(|c| c.km[3]).sum();
    assert!((km - 22.2).abs() < 0.2, "{km}");
}
