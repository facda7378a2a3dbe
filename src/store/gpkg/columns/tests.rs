use super::*;
use crate::model::Feature;
use crate::store::columns::random;
use crate::store::{FeatureSink, FeatureSource, Selection, Store};
use serde_json::Value;
use std::sync::Arc;

/// Every value of every row, names decoded, floats by their bits: columns
/// coded against different name tables compare equal when their rows are.
fn rows(c: &EventColumns) -> Vec<String> {
    let n = c.names();
    (0..c.len())
        .map(|i| {
            format!(
                "{:?}",
                (
                    c.id(i),
                    (c.lon[i].to_bits(), c.lat[i].to_bits(), c.point[i]),
                    (c.start[i], c.last[i]),
                    (
                        &n[c.category[i] as usize],
                        &n[c.actor[i] as usize],
                        &n[c.actor_category[i] as usize]
                    ),
                    (c.verification[i], c.precision[i], c.sensitive[i]),
                    (
                        c.fatalities[i].to_bits(),
                        c.casualties[i].to_bits(),
                        c.people_affected[i].to_bits()
                    ),
                    (c.owner[i], c.level[i], c.consent[i]),
                )
            )
        })
        .collect()
}

fn ingest(store: &dyn Store, layer: Layer, features: Vec<Value>) {
    let input = crate::ingest::Input::Features {
        name: "test".into(),
        features: Box::new(features.into_iter().map(|v| v.to_string())),
    };
    let dir = tempfile::TempDir::new().expect("temp dir");
    let mut opts = crate::ingest::IngestOptions::new(layer);
    opts.rejects = dir.path().join("rejects.ndjson");
    crate::ingest::ingest(store, &opts, vec![input], &|_, _| {}).expect("ingest");
}

/// The columns a store answers equal those built from its features.
fn check(store: &GpkgStore, layer: Layer, queries: &[Query]) {
    for q in queries {
        let fast = store.columns(layer, q).expect("columns");
        let slow = columns_by_query(store, layer, q).expect("by query");
        assert_eq!(rows(&fast), rows(&slow), "{layer} {q:?}");
    }
}

fn stored_chunks(path: &std::path::Path, layer: Layer) -> Option<i64> {
    let conn = Connection::open(path).expect("open");
    stored_state(&conn, layer).expect("state").map(|s| s.1)
}

/// Columnar reads equal full-feature reads on random data and random
/// queries: from a full read, from memory, and cold from the side table in
/// another handle (several chunks, decoded in parallel).
#[test]
fn columns_equal_features_on_random_data() {
    let dir = tempfile::TempDir::new().expect("temp dir");
    let path = dir.path().join("s.gpkg");
    let store = GpkgStore::open(&path).expect("open");
    ingest(
        &store,
        Layer::Incidents,
        random::features(7, Layer::Incidents, 3500),
    );
    ingest(
        &store,
        Layer::Sightings,
        random::features(8, Layer::Sightings, 1200),
    );
    let queries = random::queries(9, 60);
    let some = queries.iter().filter(|q| {
        let c = columns_by_query(&store, Layer::Incidents, q).expect("by query");
        !c.is_empty() && c.len() < 3500
    });
    assert!(some.count() > 20, "the queries select something");
    for layer in [Layer::Incidents, Layer::Sightings] {
        check(&store, layer, &queries);
        check(&store, layer, &queries[..5]);
    }
    assert_eq!(
        stored_chunks(&path, Layer::Incidents),
        Some(4),
        "3,500 rows in chunks of {CHUNK_ROWS}"
    );
    let cold = GpkgStore::open(&path).expect("open again");
    for layer in [Layer::Incidents, Layer::Sightings] {
        check(&cold, layer, &queries);
    }
    // Summaries from columns: as made from the features.
    for layer in [Layer::Incidents, Layer::Sightings] {
        let mut fs = Vec::new();
        store
            .query(layer, &Query::default(), &mut |f| {
                fs.push(f);
                Ok(())
            })
            .unwrap();
        let point = |f: &Feature| match f.geometry {
            geo_types::Geometry::Point(p) => (p.x(), p.y()),
            _ => unreachable!("points only"),
        };
        let xs = fs.iter().map(|f| point(f).0);
        let ys = fs.iter().map(|f| point(f).1);
        let fmt = |t: Option<DateTime<Utc>>| t.map(|t| crate::model::time::format_time(&t));
        let want = LayerSummary {
            layer: layer.name().into(),
            count: fs.len() as u64,
            bbox: Some([
                xs.clone().fold(f64::INFINITY, f64::min),
                ys.clone().fold(f64::INFINITY, f64::min),
                xs.fold(f64::NEG_INFINITY, f64::max),
                ys.fold(f64::NEG_INFINITY, f64::max),
            ]),
            first: fmt(fs.iter().map(|f| f.time.start).min()),
            last: fmt(fs.iter().map(|f| f.time.last()).max()),
        };
        assert_eq!(store.summary(layer).unwrap(), want);
        assert_eq!(cold.summary(layer).unwrap(), want);
    }
    // Other layers are read through `query`.
    let patrols = store
        .columns(Layer::Patrols, &Query::default())
        .expect("patrols");
    assert!(patrols.is_empty());
}

/// Chunks survive encoding exactly, whatever the values: fractions,
/// negative zero, times before 1970 with nanoseconds, every marking.
#[test]
fn chunks_round_trip_every_value() {
    let mut c = EventColumns::new(Layer::Incidents);
    for v in random::features(3, Layer::Incidents, 300) {
        let f = Feature::from_geojson(Layer::Incidents, v, "").expect("valid");
        c.push(Layer::Incidents, &f);
    }
    c.fatalities[3] = 0.25;
    c.casualties[5] = -0.0;
    c.people_affected[7] = 1e300;
    c.start[2] = DateTime::from_timestamp(-86_400 * 400, 123_456_789).expect("time");
    c.last[2] = DateTime::from_timestamp(i64::from(i32::MAX) * 4, 999_999_999).expect("time");
    let back = decode(Layer::Incidents, &encode(&c, 0, c.len())).expect("decodes");
    assert_eq!(rows(&back), rows(&c));
    assert_eq!(back, c);
    let part = decode(Layer::Incidents, &encode(&c, 100, 250)).expect("decodes");
    assert_eq!(rows(&part), rows(&c.take(&(100..250).collect::<Vec<_>>())));
    // Damage is detected, never decoded into other values.
    let bytes = encode(&c, 0, 50);
    for cut in [0, 7, 8, 100, bytes.len() - 1] {
        assert!(decode(Layer::Incidents, &bytes[..cut]).is_none(), "{cut}");
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(decode(Layer::Incidents, &longer).is_none());
}

/// A plain SQLite connection as another tool has it (GDAL, QGIS, the shell):
/// the GeoPackage functions the R-tree triggers call, nothing of jointmap's.
fn other_tool(path: &std::path::Path) -> Connection {
    let conn = Connection::open(path).expect("open");
    super::super::functions::register(&conn).expect("functions");
    conn
}

/// Whatever changes the layer, and however, the next read sees it: another
/// store handle (a CLI ingest while the server runs) adding, replacing and
/// deleting; another tool editing, deleting and inserting rows by SQL
/// (also below the largest fid); triggers dropped; a damaged chunk.
#[test]
fn never_stale_after_writes_elsewhere() {
    let dir = tempfile::TempDir::new().expect("temp dir");
    let path = dir.path().join("s.gpkg");
    let server = GpkgStore::open(&path).expect("open");
    let cli = GpkgStore::open(&path).expect("open again");
    let features = random::features(11, Layer::Incidents, 2600);
    ingest(&cli, Layer::Incidents, features[..2000].to_vec());
    let all = [Query::default()];
    check(&server, Layer::Incidents, &all);
    // Nothing committed since: the same columns, without a look at the layer.
    let (a, b) = (
        server.columns(Layer::Incidents, &all[0]).unwrap(),
        server.columns(Layer::Incidents, &all[0]).unwrap(),
    );
    assert!(Arc::ptr_eq(&a, &b));
    // New rows only: appended, the stored chunks kept but the last.
    ingest(&cli, Layer::Incidents, features[2000..].to_vec());
    check(&server, Layer::Incidents, &all);
    assert_eq!(
        server.columns(Layer::Incidents, &all[0]).unwrap().len(),
        2600
    );
    assert_eq!(stored_chunks(&path, Layer::Incidents), Some(3));
    // A replacement through jointmap.
    let mut replaced = features[10].clone();
    replaced["properties"]["category"] = "looting-burning".into();
    replaced["properties"]["consent"] = "none".into();
    ingest(&cli, Layer::Incidents, vec![replaced]);
    check(&server, Layer::Incidents, &all);
    let c = server.columns(Layer::Incidents, &all[0]).unwrap();
    assert_eq!(c.names()[c.category[10] as usize], "looting-burning");
    assert_eq!(c.consent[10], Consent::Unknown);
    // A delete through jointmap.
    let mut b = cli.begin().expect("begin");
    let id = features[20]["id"].as_str().unwrap().to_string();
    b.delete(Layer::Incidents, &Selection::Ids(vec![id.clone()]))
        .expect("delete");
    b.commit().expect("commit");
    check(&server, Layer::Incidents, &all);
    let c = server.columns(Layer::Incidents, &all[0]).unwrap();
    assert!((0..c.len()).all(|i| c.id(i) != id));
    // Another tool: an attribute edit, a delete, an insert into the gap
    // below the largest fid (count and largest fid alone would miss it
    // after the delete was seen).
    let sql = other_tool(&path);
    sql.execute(
        "UPDATE incidents SET classification = 'public', killed_men = 7 WHERE fid = 3",
        [],
    )
    .unwrap();
    check(&server, Layer::Incidents, &all);
    sql.execute("DELETE FROM incidents WHERE fid = 5", [])
        .unwrap();
    check(&server, Layer::Incidents, &all);
    let cols: Vec<String> = sql
        .prepare("SELECT name FROM pragma_table_info('incidents') WHERE name NOT IN ('fid', 'id')")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    let cols = cols
        .iter()
        .map(|c| format!("\"{c}\""))
        .collect::<Vec<_>>()
        .join(", ");
    sql.execute(
        &format!(
            "INSERT INTO incidents (fid, id, {cols}) SELECT 5, 'gap', {cols} FROM incidents WHERE fid = 6"
        ),
        [],
    )
    .unwrap();
    check(&server, Layer::Incidents, &all);
    let c = server.columns(Layer::Incidents, &all[0]).unwrap();
    assert_eq!(c.id(4), "gap");
    // Triggers dropped (a table created again by another tool loses them):
    // an edit they did not count is still seen.
    sql.execute_batch(
        "DROP TRIGGER jointmap_incidents_edit_update; DROP TRIGGER jointmap_incidents_edit_delete;
         UPDATE incidents SET category = 'abduction' WHERE fid = 8;",
    )
    .unwrap();
    check(&server, Layer::Incidents, &all);
    let c = server.columns(Layer::Incidents, &all[0]).unwrap();
    assert_eq!(c.names()[c.category[7] as usize], "abduction");
    // A damaged chunk is read again from the layer.
    sql.execute(
        "UPDATE jointmap_columns SET data = x'00' WHERE layer = 'incidents' AND seq = 1",
        [],
    )
    .unwrap();
    let cold = GpkgStore::open(&path).expect("open again");
    check(&cold, Layer::Incidents, &all);
    check(&cold, Layer::Incidents, &random::queries(12, 20));
}

/// GDAL itself edits the layer (no jointmap code involved): the next read
/// sees it; and with the side tables in the file, `ogrinfo` lists exactly
/// the five layers, without a warning. Skipped without GDAL's `ogrinfo`.
#[test]
fn gdal_edits_are_seen_and_side_tables_are_no_layers() {
    let dir = tempfile::TempDir::new().expect("temp dir");
    let path = dir.path().join("s.gpkg");
    let store = GpkgStore::open(&path).expect("open");
    ingest(
        &store,
        Layer::Incidents,
        random::features(41, Layer::Incidents, 300),
    );
    let all = [Query::default()];
    check(&store, Layer::Incidents, &all);
    let registered: i64 = Connection::open(&path)
        .unwrap()
        .query_row(
            "SELECT count(*) FROM gpkg_contents WHERE data_type = 'jointmap' AND table_name IN
             ('jointmap_layer_edits', 'jointmap_columns', 'jointmap_columns_state')",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(registered, 3);
    let ogrinfo = |args: &[&str]| {
        std::process::Command::new("ogrinfo")
            .args(args)
            .arg(&path)
            .output()
    };
    let Ok(o) = ogrinfo(&["-ro"]) else {
        eprintln!("ogrinfo is not installed: skipped");
        return;
    };
    let out = String::from_utf8_lossy(&o.stdout);
    let layers = out
        .lines()
        .filter(|l| {
            l.split_once(": ")
                .is_some_and(|(n, _)| n.parse::<u32>().is_ok())
        })
        .count();
    assert_eq!(layers, 5, "{out}");
    assert!(
        !String::from_utf8_lossy(&o.stderr).contains("Warning"),
        "{o:?}"
    );
    let o = ogrinfo(&[
        "-sql",
        "UPDATE incidents SET category = 'abduction', classification = 'public' WHERE fid <= 40",
    ])
    .unwrap();
    assert!(o.status.success(), "{o:?}");
    check(&store, Layer::Incidents, &all);
    let c = store.columns(Layer::Incidents, &all[0]).unwrap();
    assert!((0..40).all(|i| c.names()[c.category[i] as usize] == "abduction"));
    assert!((0..40).all(|i| c.level[i] == Level::Public));
}
