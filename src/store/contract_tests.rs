//! The store contract ([`FeatureSource`], [`FeatureSink`], [`Batch`]) as
//! tests: each body runs on every backend (the GeoPackage, the in-memory
//! store, and PostGIS when `JOINTMAP_TEST_PG` names a server, each test in a
//! fresh schema), so a backend that passes them behaves as the
//! documentation says, and the backends agree.

use super::*;
use serde_json::{json, Value};
use std::ops::{Bound, ControlFlow};

/// Runs each contract test on every backend.
macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        mod gpkg {
            $(
                #[test]
                fn $name() {
                    let dir = tempfile::TempDir::new().expect("temp dir");
                    let store = crate::store::GpkgStore::open(dir.path().join("c.gpkg"))
                        .expect("open");
                    super::$name(&store);
                }
            )*
        }
        mod memory {
            $(
                #[test]
                fn $name() {
                    super::$name(&crate::store::MemoryStore::new());
                }
            )*
        }
        mod postgis {
            $(
                #[test]
                #[cfg_attr(
                    not(jointmap_test_pg),
                    ignore = "needs JOINTMAP_TEST_PG, a PostgreSQL URL (tools/pg-test-cluster.sh start)"
                )]
                fn $name() {
                    let db = crate::store::postgis::tests::TestDb::new();
                    super::$name(&*db);
                }
            )*
        }
    };
}

on_every_backend!(
    upsert_inserts_then_replaces_in_place,
    a_dropped_batch_leaves_nothing,
    the_data_version_changes_on_commit_only,
    bbox_queries_keep_what_touches_the_box,
    time_queries_keep_overlapping_intervals,
    get_finds_by_id_only_what_is_stored,
    walks_page_by_keyset_in_id_order,
    deletes_and_quarantine_keep_storage_order,
    bad_queries_are_refused_everywhere,
);

fn incident(id: &str, lon: f64, lat: f64, props: Value) -> Feature {
    let mut p = json!({"category": "killing", "killed_men": 1});
    p.as_object_mut()
        .expect("object")
        .extend(props.as_object().cloned().unwrap_or_default());
    let v = json!({"type": "Feature", "id": id,
        "geometry": {"type": "Point", "coordinates": [lon, lat]}, "properties": p});
    Feature::from_geojson_str(Layer::Incidents, &v.to_string()).expect("valid incident")
}

fn at(id: &str, lon: f64, time: &str) -> Feature {
    incident(id, lon, 5.0, json!({"time": time}))
}

fn write(store: &dyn Store, layer: Layer, features: &[Feature]) -> BatchStats {
    let mut b = store.begin().expect("begin");
    for f in features {
        b.upsert(layer, f).expect("upsert");
    }
    b.commit().expect("commit")
}

fn ids(store: &dyn FeatureSource, layer: Layer, q: &Query) -> Vec<String> {
    let mut out = Vec::new();
    let n = store
        .query(layer, q, &mut |f| {
            out.push(f.id);
            Ok(())
        })
        .expect("query");
    assert_eq!(n as usize, out.len());
    out
}

/// Ids visited by a walk that stops after `take` (all when `None`).
fn walk(
    store: &dyn FeatureSource,
    q: &Query,
    from: Bound<&str>,
    direction: Direction,
    take: Option<usize>,
) -> Vec<String> {
    let mut out = Vec::new();
    let n = store
        .walk(Layer::Incidents, q, from, direction, &mut |f| {
            out.push(f.id);
            Ok(match take {
                Some(t) if out.len() >= t => ControlFlow::Break(()),
                _ => ControlFlow::Continue(()),
            })
        })
        .expect("walk");
    assert_eq!(n as usize, out.len());
    out
}

fn upsert_inserts_then_replaces_in_place(store: &dyn Store) {
    let first = [
        at("c", 18.0, "2024-01-01"),
        at("a", 18.1, "2024-01-02"),
        at("b", 18.2, "2024-01-03"),
    ];
    let stats = write(store, Layer::Incidents, &first);
    assert_eq!((stats.inserted, stats.updated), (3, 0));
    // A replacement keeps its place in storage order; a new id goes last.
    let mut changed = incident("a", 18.5, 5.5, json!({"time": "2024-02-01"}));
    changed.properties.insert("killed_men".into(), json!(7));
    let stats = write(
        store,
        Layer::Incidents,
        &[changed.clone(), at("d", 18.3, "2024-01-04")],
    );
    assert_eq!((stats.inserted, stats.updated), (1, 1));
    assert_eq!(
        ids(store, Layer::Incidents, &Query::default()),
        ["c", "a", "b", "d"]
    );
    let got = store
        .get(Layer::Incidents, "a")
        .expect("get")
        .expect("stored");
    assert_eq!(got, changed);
    // The same id twice in one batch: the last version wins.
    let stats = write(
        store,
        Layer::Incidents,
        &[at("e", 18.0, "2024-01-01"), at("e", 19.0, "2024-01-01")],
    );
    assert_eq!((stats.inserted, stats.updated), (1, 1));
    let e = store.get(Layer::Incidents, "e").expect("get").expect("e");
    assert_eq!(e.geometry, at("e", 19.0, "2024-01-01").geometry);
    assert_eq!(store.summary(Layer::Incidents).expect("summary").count, 5);
    // A delete in the batch does not turn a new id into a replacement (nor
    // a replacement into an insert): the counts are of the upserts.
    let mut b = store.begin().expect("begin");
    b.delete(Layer::Incidents, &Selection::Ids(vec!["c".into()]))
        .expect("delete");
    b.upsert(Layer::Incidents, &at("f", 18.0, "2024-01-05"))
        .expect("upsert");
    b.upsert(Layer::Incidents, &at("b", 18.4, "2024-01-03"))
        .expect("upsert");
    let stats = b.commit().expect("commit");
    assert_eq!((stats.inserted, stats.updated), (1, 1));
    assert_eq!(store.summary(Layer::Incidents).expect("summary").count, 5);
    // Layers are apart.
    assert_eq!(store.summary(Layer::Sightings).expect("summary").count, 0);
    assert!(store.get(Layer::Sightings, "a").expect("get").is_none());
}

fn a_dropped_batch_leaves_nothing(store: &dyn Store) {
    write(store, Layer::Incidents, &[at("kept", 18.0, "2024-01-01")]);
    let before = store.data_version().expect("version");
    {
        let mut b = store.begin().expect("begin");
        b.upsert(Layer::Incidents, &at("new", 18.0, "2024-01-01"))
            .expect("upsert");
        b.upsert(Layer::Incidents, &at("kept", 10.0, "2025-01-01"))
            .expect("upsert");
        b.delete(Layer::Incidents, &Selection::Ids(vec!["kept".into()]))
            .expect("delete");
        // The batch sees its own writes.
        assert!(b.get(Layer::Incidents, "new").expect("get").is_some());
        assert!(b.get(Layer::Incidents, "kept").expect("get").is_none());
    }
    assert_eq!(ids(store, Layer::Incidents, &Query::default()), ["kept"]);
    let kept = store
        .get(Layer::Incidents, "kept")
        .expect("get")
        .expect("kept");
    assert_eq!(kept, at("kept", 18.0, "2024-01-01"));
    assert_eq!(store.data_version().expect("version"), before);
    // A failing operation inside a batch, then the batch dropped: nothing.
    {
        let mut b = store.begin().expect("begin");
        b.upsert(Layer::Incidents, &at("x", 18.0, "2024-01-01"))
            .expect("upsert");
        let e = b
            .delete(Layer::Incidents, &Selection::Ids(vec!["nope".into()]))
            .expect_err("missing id");
        assert!(e.is_bad_input(), "{e}");
    }
    assert!(store.get(Layer::Incidents, "x").expect("get").is_none());
    // The store takes the next batch.
    write(store, Layer::Incidents, &[at("y", 18.0, "2024-01-01")]);
    assert_eq!(
        ids(store, Layer::Incidents, &Query::default()),
        ["kept", "y"]
    );
}

fn the_data_version_changes_on_commit_only(store: &dyn Store) {
    let v0 = store.data_version().expect("version");
    assert_eq!(
        store.data_version().expect("version"),
        v0,
        "reads change nothing"
    );
    ids(store, Layer::Incidents, &Query::default());
    assert_eq!(store.data_version().expect("version"), v0);
    drop(store.begin().expect("begin"));
    assert_eq!(store.data_version().expect("version"), v0);
    write(store, Layer::Incidents, &[at("a", 18.0, "2024-01-01")]);
    let v1 = store.data_version().expect("version");
    assert_ne!(v1, v0);
    // Every commit, even one that changed nothing visible.
    write(store, Layer::Incidents, &[]);
    let v2 = store.data_version().expect("version");
    assert!(v2 != v1 && v2 != v0);
}

fn bbox_queries_keep_what_touches_the_box(store: &dyn Store) {
    write(
        store,
        Layer::Incidents,
        &[
            incident("in", 18.5, 4.5, json!({"time": "2024-01-01"})),
            incident("edge", 19.0, 5.0, json!({"time": "2024-01-01"})),
            incident("out", 20.0, 4.5, json!({"time": "2024-01-01"})),
            incident("east", 179.5, 0.0, json!({"time": "2024-01-01"})),
            incident("west", -179.5, 0.0, json!({"time": "2024-01-01"})),
        ],
    );
    let q = |b: [f64; 4]| Query {
        bbox: Some(b),
        ..Query::default()
    };
    let inc = Layer::Incidents;
    assert_eq!(ids(store, inc, &q([18.0, 4.0, 19.0, 5.0])), ["in", "edge"]);
    assert_eq!(
        ids(store, inc, &q([170.0, -1.0, -170.0, 1.0])),
        ["east", "west"]
    );
    assert!(ids(store, inc, &q([0.0, 0.0, 1.0, 1.0])).is_empty());
    // A track whose envelope touches the box is kept, one away from it is not.
    let track = |id: &str, y: f64| {
        let v = json!({"type": "Feature", "id": id,
            "geometry": {"type": "LineString", "coordinates": [[17.0, y], [18.0, y + 1.0]]},
            "properties": {"time_start": "2024-01-01T06:00:00Z", "time_end": "2024-01-01T12:00:00Z",
                "unit": "u1", "mode": "foot"}});
        Feature::from_geojson_str(Layer::Patrols, &v.to_string()).expect("valid patrol")
    };
    write(
        store,
        Layer::Patrols,
        &[track("near", 4.0), track("far", 8.0)],
    );
    assert_eq!(
        ids(store, Layer::Patrols, &q([17.9, 4.9, 18.5, 5.5])),
        ["near"]
    );
    let s = store.summary(Layer::Patrols).expect("summary");
    assert_eq!(s.bbox, Some([17.0, 4.0, 18.0, 9.0]));
}

fn time_queries_keep_overlapping_intervals(store: &dyn Store) {
    let span = |id: &str, from: &str, to: &str| {
        incident(id, 18.0, 5.0, json!({"time_start": from, "time_end": to}))
    };
    write(
        store,
        Layer::Incidents,
        &[
            span("jan", "2024-01-01T00:00:00Z", "2024-01-31T00:00:00Z"),
            at("feb", 18.0, "2024-02-10"),
            // Milliseconds are kept; finer is cut, as the GeoPackage stores it.
            incident(
                "ms",
                18.0,
                5.0,
                json!({"time": "2024-03-01T00:00:00.1239Z"}),
            ),
        ],
    );
    let t = |s: &str| crate::model::time::parse_time(s).expect("time");
    let q = |from: Option<&str>, to: Option<&str>| Query {
        from: from.map(t),
        to: to.map(t),
        ..Query::default()
    };
    let inc = Layer::Incidents;
    // An interval counts while it lasts; bounds are inclusive.
    assert_eq!(
        ids(
            store,
            inc,
            &q(Some("2024-01-15T00:00:00Z"), Some("2024-01-16T00:00:00Z"))
        ),
        ["jan"]
    );
    assert_eq!(
        ids(store, inc, &q(Some("2024-01-31T00:00:00Z"), None)),
        ["jan", "feb", "ms"]
    );
    assert_eq!(
        ids(store, inc, &q(None, Some("2024-01-01T00:00:00Z"))),
        ["jan"]
    );
    assert_eq!(
        ids(
            store,
            inc,
            &q(Some("2024-02-10T00:00:00Z"), Some("2024-02-10T00:00:00Z"))
        ),
        ["feb"]
    );
    assert!(ids(
        store,
        inc,
        &q(Some("2024-02-01T00:00:00Z"), Some("2024-02-09T23:59:59Z"))
    )
    .is_empty());
    assert_eq!(
        ids(store, inc, &q(Some("2024-03-01T00:00:00.123Z"), None)),
        ["ms"]
    );
    assert!(ids(store, inc, &q(Some("2024-03-01T00:00:00.124Z"), None)).is_empty());
    let ms = store.get(inc, "ms").expect("get").expect("ms");
    assert_eq!(ms.time.start, t("2024-03-01T00:00:00.123Z"));
    let s = store.summary(inc).expect("summary");
    assert_eq!(s.count, 3);
    assert_eq!(
        s.first,
        Some(crate::model::time::format_time(&t("2024-01-01T00:00:00Z")))
    );
    assert_eq!(
        s.last,
        Some(crate::model::time::format_time(&ms.time.start))
    );
    // A site without an end is still open: it overlaps every later window.
    let site = |id: &str, end: Option<&str>| {
        let mut p = json!({"name": id, "site_type": "village", "time_start": "2024-01-01"});
        if let Some(e) = end {
            p["time_end"] = json!(e);
        }
        let v = json!({"type": "Feature", "id": id,
            "geometry": {"type": "Point", "coordinates": [18.5, 4.4]}, "properties": p});
        Feature::from_geojson_str(Layer::Sites, &v.to_string()).expect("valid site")
    };
    write(
        store,
        Layer::Sites,
        &[site("open", None), site("closed", Some("2024-06-01"))],
    );
    assert_eq!(
        ids(store, Layer::Sites, &q(Some("2030-01-01T00:00:00Z"), None)),
        ["open"]
    );
}

fn get_finds_by_id_only_what_is_stored(store: &dyn Store) {
    let a = at("a/1 é", 18.0, "2024-01-01");
    write(
        store,
        Layer::Incidents,
        &[a.clone(), at("b", 18.0, "2024-01-01")],
    );
    assert_eq!(store.get(Layer::Incidents, "a/1 é").expect("get"), Some(a));
    for missing in ["a", "A/1 é", "", "b ", "' OR 1=1 --"] {
        assert!(
            store.get(Layer::Incidents, missing).expect("get").is_none(),
            "{missing}"
        );
    }
    let mut b = store.begin().expect("begin");
    b.delete(Layer::Incidents, &Selection::Ids(vec!["b".into()]))
        .expect("delete");
    b.commit().expect("commit");
    assert!(store.get(Layer::Incidents, "b").expect("get").is_none());
}

fn walks_page_by_keyset_in_id_order(store: &dyn Store) {
    // Ids stored out of order, some sharing prefixes; every other one in March.
    let mut rng = crate::rng::Rng::new(16);
    let mut features: Vec<Feature> = (0..60)
        .map(|i| {
            let id = format!("n{}", (i * 37) % 61);
            let month = if i % 2 == 0 { "03" } else { "04" };
            at(&id, 18.0 + rng.f64(), &format!("2024-{month}-01"))
        })
        .collect();
    features.push(at("n", 18.0, "2024-03-01"));
    write(store, Layer::Incidents, &features);
    let mut sorted: Vec<String> = features.iter().map(|f| f.id.clone()).collect();
    sorted.sort();
    let all = Query::default();
    let (asc, desc) = (Direction::Ascending, Direction::Descending);
    assert_eq!(walk(store, &all, Bound::Unbounded, asc, None), sorted);
    let mut rev = sorted.clone();
    rev.reverse();
    assert_eq!(walk(store, &all, Bound::Unbounded, desc, None), rev);
    // Pages of 7, each starting after the last id of the one before.
    let mut paged = Vec::new();
    let mut last: Option<String> = None;
    loop {
        let from = last.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
        let page = walk(store, &all, from, asc, Some(7));
        if page.is_empty() {
            break;
        }
        assert!(page.len() == 7 || paged.len() + page.len() == sorted.len());
        last = page.last().cloned();
        paged.extend(page);
    }
    assert_eq!(paged, sorted);
    // Bounds: included, excluded, an id that is not stored, either way.
    let k = sorted[10].as_str();
    assert_eq!(
        walk(store, &all, Bound::Included(k), asc, Some(2)),
        sorted[10..12]
    );
    assert_eq!(
        walk(store, &all, Bound::Excluded(k), asc, Some(2)),
        sorted[11..13]
    );
    assert_eq!(
        walk(store, &all, Bound::Excluded(k), desc, Some(2)),
        [sorted[9].clone(), sorted[8].clone()]
    );
    assert_eq!(
        walk(store, &all, Bound::Included("n10a"), asc, Some(1)),
        ["n11"]
    );
    assert!(walk(store, &all, Bound::Excluded("zzz"), asc, None).is_empty());
    assert_eq!(walk(store, &all, Bound::Included("zzz"), desc, None), rev);
    // Filters: the walk keeps what `query` keeps, in id order, across rounds.
    let march = Query {
        from: Some(crate::model::time::parse_time("2024-03-01").expect("time")),
        to: Some(crate::model::time::parse_time("2024-03-01").expect("time")),
        bbox: Some([18.0, 4.0, 18.6, 6.0]),
    };
    let mut want = ids(store, Layer::Incidents, &march);
    want.sort();
    assert!(!want.is_empty() && want.len() < 31, "{}", want.len());
    assert_eq!(walk(store, &march, Bound::Unbounded, asc, None), want);
    assert_eq!(
        walk(store, &march, Bound::Excluded(&want[0]), asc, Some(2)),
        want[1..3]
    );
}

fn deletes_and_quarantine_keep_storage_order(store: &dyn Store) {
    let feats: Vec<Feature> = ["a", "b", "c", "d"]
        .iter()
        .map(|id| at(id, 18.0, "2024-01-01"))
        .collect();
    write(store, Layer::Incidents, &feats);
    let inc = Layer::Incidents;
    let mut b = store.begin().expect("begin");
    let mut keys = Vec::new();
    b.inspect(inc, &mut |row| {
        keys.push((row.key, row.id));
        Ok(())
    })
    .expect("inspect");
    let key_b = keys.iter().find(|(_, id)| id == "b").expect("b").0;
    b.quarantine(inc, key_b, "test").expect("quarantine");
    assert!(b.quarantine(inc, key_b, "again").is_err());
    b.commit().expect("commit");
    assert_eq!(ids(store, inc, &Query::default()), ["a", "c", "d"]);
    // Deleted and stored again: last. Restored: back in its place.
    let mut b = store.begin().expect("begin");
    assert_eq!(
        b.delete(inc, &Selection::Ids(vec!["a".into(), "a".into()]))
            .expect("delete"),
        ["a"]
    );
    b.upsert(inc, &feats[0]).expect("upsert");
    assert_eq!(b.restore(inc, "b").expect("restore"), 1);
    assert_eq!(b.restore(inc, "b").expect("restore"), 0);
    b.commit().expect("commit");
    assert_eq!(ids(store, inc, &Query::default()), ["b", "c", "d", "a"]);
    // By source, and by time.
    let mut b = store.begin().expect("begin");
    b.set_source("other");
    b.upsert(inc, &at("e", 18.0, "2023-01-01")).expect("upsert");
    assert_eq!(
        b.sources(inc).expect("sources"),
        [
            (Some(LOCAL_AUTHOR.to_string()), 4),
            (Some("other".to_string()), 1)
        ]
    );
    assert_eq!(
        b.delete(inc, &Selection::Source("other".into()))
            .expect("delete"),
        ["e"]
    );
    let t = crate::model::time::parse_time("2024-01-01T00:00:00.0005Z").expect("time");
    assert!(b
        .delete(inc, &Selection::Before(t))
        .expect("delete")
        .is_empty());
    let t = crate::model::time::parse_time("2024-01-01T00:00:00.001Z").expect("time");
    assert_eq!(
        b.delete(inc, &Selection::Before(t)).expect("delete").len(),
        4
    );
    b.commit().expect("commit");
    assert_eq!(store.summary(inc).expect("summary").count, 0);
}

fn bad_queries_are_refused_everywhere(store: &dyn Store) {
    write(store, Layer::Incidents, &[at("a", 18.0, "2024-01-01")]);
    let t = |s: &str| crate::model::time::parse_time(s).ok();
    for q in [
        Query {
            bbox: Some([f64::NAN, 0.0, 1.0, 1.0]),
            ..Query::default()
        },
        Query {
            bbox: Some([0.0, 1.0, 1.0, 0.0]),
            ..Query::default()
        },
        Query {
            bbox: Some([0.0, 0.0, 181.0, 1.0]),
            ..Query::default()
        },
        Query {
            from: t("2024-02-01"),
            to: t("2024-01-01"),
            ..Query::default()
        },
    ] {
        let e = store
            .query(Layer::Incidents, &q, &mut |_| Ok(()))
            .expect_err("refused");
        assert!(e.is_bad_input(), "{e}");
        let e = store
            .walk(
                Layer::Incidents,
                &q,
                Bound::Unbounded,
                Direction::Ascending,
                &mut |_| Ok(ControlFlow::Continue(())),
            )
            .expect_err("refused");
        assert!(e.is_bad_input(), "{e}");
    }
}

/// The same data written to the GeoPackage and to `other` reads back
/// identically: every layer of a demo mission, through `query`, `get` and
/// `summary`.
fn reads_back_as_the_geopackage_does(other: &dyn Store) {
    let dir = tempfile::TempDir::new().expect("temp dir");
    let gpkg = GpkgStore::open(dir.path().join("d.gpkg")).expect("open");
    let scenario = crate::demo::Scenario::new(&crate::demo::DemoConfig {
        seed: 7,
        incidents: 400,
    });
    for layer in Layer::ALL {
        let features: Vec<Feature> = scenario
            .feature_texts(layer)
            .map(|t| Feature::from_geojson_str(layer, &t).expect("valid demo feature"))
            .collect();
        assert_eq!(
            write(&gpkg, layer, &features),
            write(other, layer, &features)
        );
        let read = |s: &dyn FeatureSource| {
            let mut out = Vec::new();
            s.query(layer, &Query::default(), &mut |f| {
                out.push(f);
                Ok(())
            })
            .expect("query");
            out
        };
        let (g, m) = (read(&gpkg), read(other));
        assert_eq!(g.len(), features.len());
        assert!(g == m, "{layer}: the backends differ");
        for f in g.iter().step_by(37) {
            assert_eq!(other.get(layer, &f.id).expect("get").as_ref(), Some(f));
        }
        assert_eq!(
            gpkg.summary(layer).expect("summary"),
            other.summary(layer).expect("summary")
        );
        // Written again unchanged: every feature counts as updated, nothing moves.
        let again = write(other, layer, &features);
        assert_eq!((again.inserted, again.updated), (0, features.len() as u64));
        assert!(read(other) == g, "{layer}: changed by an identical write");
    }
}

#[test]
fn the_memory_store_reads_back_as_the_geopackage_does() {
    reads_back_as_the_geopackage_does(&MemoryStore::new());
}

#[test]
#[cfg_attr(
    not(jointmap_test_pg),
    ignore = "needs JOINTMAP_TEST_PG, a PostgreSQL URL (tools/pg-test-cluster.sh start)"
)]
fn postgis_reads_back_as_the_geopackage_does() {
    reads_back_as_the_geopackage_does(&*crate::store::postgis::tests::TestDb::new());
}
