use super::*;
use geo::CoordsIter;
use serde_json::json;

fn site(id: &str, props: Value) -> Feature {
    let v = json!({"type": "Feature", "id": id,
        "geometry": {"type": "Point", "coordinates": [18.5, 4.4]}, "properties": props});
    Feature::from_geojson_str(Layer::Sites, &v.to_string()).expect("valid site")
}

fn all(store: &GpkgStore, layer: Layer, q: &Query) -> Vec<Feature> {
    let mut out = Vec::new();
    store
        .query(layer, q, &mut |f| {
            out.push(f);
            Ok(())
        })
        .expect("query");
    out
}

/// A server's store handle sees, in bbox queries, what another handle
/// (a CLI ingest in another process) committed after its index was built.
#[test]
fn an_index_is_rebuilt_after_another_handle_commits() {
    let dir = tempfile::TempDir::new().expect("temp dir");
    let path = dir.path().join("s.gpkg");
    let server = GpkgStore::open(&path).expect("open");
    let cli = GpkgStore::open(&path).expect("open again");
    let bbox = Query {
        bbox: Some([18.0, 4.0, 19.0, 5.0]),
        ..Default::default()
    };
    let mut b = cli.begin().expect("begin");
    b.upsert(
        Layer::Sites,
        &site(
            "a",
            json!({"name": "A", "site_type": "village", "time_start": "2024-01-01"}),
        ),
    )
    .expect("upsert");
    b.commit().expect("commit");
    assert_eq!(all(&server, Layer::Sites, &bbox).len(), 1);
    let mut b = cli.begin().expect("begin");
    b.upsert(
        Layer::Sites,
        &site(
            "b",
            json!({"name": "B", "site_type": "market", "time_start": "2024-01-01"}),
        ),
    )
    .expect("upsert");
    b.commit().expect("commit");
    let ids: Vec<String> = all(&server, Layer::Sites, &bbox)
        .into_iter()
        .map(|f| f.id)
        .collect();
    assert_eq!(ids, ["a", "b"]);
    assert_eq!(server.summary(Layer::Sites).expect("summary").count, 2);
}

#[test]
fn sites_round_trip_with_derived_defaults_and_open_end() {
    let dir = tempfile::TempDir::new().expect("temp dir");
    let store = GpkgStore::open(dir.path().join("s.gpkg")).expect("open");
    let camp = site(
        "site-1",
        json!({"time_start": "2024-02-01", "name": "Camp A", "site_type": "idp-site",
               "population": 4200, "camp_code": "A1"}),
    );
    let market = site(
        "site-2",
        json!({"time_start": "2024-01-01", "time_end": "2024-03-01", "name": "Market B",
               "site_type": "market", "exposure": 1, "vulnerability": 4,
               "classification": "public"}),
    );
    let polygon = Feature::from_geojson_str(
        Layer::Sites,
        r#"{"type":"Feature","id":"site-3","geometry":{"type":"Polygon","coordinates":[[[18.0,4.0],[18.01,4.0],[18.01,4.01],[18.0,4.0]]]},
            "properties":{"time_start":"2024-01-01","name":"Town C","site_type":"town"}}"#,
    )
    .expect("valid polygon site");
    let mut batch = store.begin().expect("begin");
    for f in [&camp, &market, &polygon] {
        batch.upsert(Layer::Sites, f).expect("upsert");
    }
    let stats = batch.commit().expect("commit");
    assert_eq!(stats.inserted, 3);

    let got = all(&store, Layer::Sites, &Query::default());
    assert_eq!(got.len(), 3);
    assert_eq!(got[0], camp);
    assert_eq!(got[0].int("vulnerability"), Some(5));
    assert_eq!(got[0].properties.get("exposure"), Some(&json!(1.0)));
    assert_eq!(got[0].str("camp_code"), Some("A1"));
    assert_eq!(
        (got[0].owner, got[0].level),
        (Owner::Mission, Level::Mission)
    );
    // An exposure given as an integer is stored as a real.
    assert_eq!(got[1].properties.get("exposure"), Some(&json!(1.0)));
    assert_eq!(got[1].int("vulnerability"), Some(4));
    assert_eq!(got[1].level, Level::Public);
    assert_eq!(got[2].geometry, polygon.geometry);
    assert_eq!(got[2].int("vulnerability"), Some(2));
    assert!(got[2].properties.get("population").is_none());

    // Without time_end a site is still there: a window long after its
    // start still finds it, while the closed market drops out.
    let late = Query {
        from: Some(parse_time("2025-06-01").expect("time")),
        to: Some(parse_time("2025-06-30").expect("time")),
        ..Query::default()
    };
    let ids: Vec<String> = all(&store, Layer::Sites, &late)
        .into_iter()
        .map(|f| f.id)
        .collect();
    assert_eq!(ids, ["site-1", "site-3"]);
    let bbox = Query {
        bbox: Some([18.4, 4.3, 18.6, 4.5]),
        ..Query::default()
    };
    assert_eq!(all(&store, Layer::Sites, &bbox).len(), 2);
    assert_eq!(store.summary(Layer::Sites).expect("summary").count, 3);
}

#[test]
fn a_store_without_the_sites_table_gets_it_on_open() {
    let dir = tempfile::TempDir::new().expect("temp dir");
    let path = dir.path().join("old.gpkg");
    drop(GpkgStore::open(&path).expect("open"));
    {
        // What a store written before the sites layer looks like.
        let conn = Connection::open(&path).expect("sqlite");
        conn.execute_batch(
            "DROP TABLE sites;
             DELETE FROM gpkg_geometry_columns WHERE table_name = 'sites';
             DELETE FROM gpkg_contents WHERE table_name = 'sites';",
        )
        .expect("drop");
    }
    let store = GpkgStore::open(&path).expect("reopen");
    assert_eq!(store.summary(Layer::Sites).expect("summary").count, 0);
    let mut batch = store.begin().expect("begin");
    batch
        .upsert(
            Layer::Sites,
            &site(
                "s",
                json!({"time": "2024-01-01", "name": "V", "site_type": "village"}),
            ),
        )
        .expect("upsert");
    batch.commit().expect("commit");
    assert_eq!(store.summary(Layer::Sites).expect("summary").count, 1);
}

/// A file jointmap creates gets 16 KiB pages; a file made with another page
/// size (SQLite's default, as GDAL and older jointmap builds wrote) keeps it
/// and takes batches as before.
#[test]
fn new_files_get_large_pages_and_old_files_keep_theirs() {
    let dir = tempfile::TempDir::new().expect("temp dir");
    let page_size = |path: &std::path::Path| -> i64 {
        Connection::open(path)
            .expect("sqlite")
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .expect("page size")
    };
    let new = dir.path().join("new.gpkg");
    drop(GpkgStore::open(&new).expect("open"));
    assert_eq!(page_size(&new), super::schema::NEW_PAGE_SIZE);
    let old = dir.path().join("old.gpkg");
    Connection::open(&old)
        .expect("sqlite")
        .execute_batch("PRAGMA page_size = 4096; CREATE TABLE t (a); DROP TABLE t;")
        .expect("a 4 KiB file");
    let store = GpkgStore::open(&old).expect("open");
    let mut batch = store.begin().expect("begin");
    for i in 0..500 {
        batch
            .upsert(
                Layer::Sites,
                &site(
                    &format!("s{i}"),
                    json!({"time": "2024-01-01", "name": "V", "site_type": "village"}),
                ),
            )
            .expect("upsert");
    }
    batch.commit().expect("commit");
    drop(store);
    assert_eq!(page_size(&old), 4096);
    let store = GpkgStore::open(&old).expect("reopen");
    assert_eq!(store.summary(Layer::Sites).expect("summary").count, 500);
}

/// `query` as it was before chunked reading: one statement per row id for
/// a bbox, one row at a time otherwise.
fn reference_query(
    store: &GpkgStore,
    layer: Layer,
    q: &Query,
    visit: &mut dyn FnMut(Feature) -> Result<()>,
) -> Result<u64> {
    q.validate()?;
    let mut params = Vec::new();
    let time = GpkgStore::time_clause(layer, q, &mut params);
    let mut n = 0u64;
    let conn = store.conn();
    if let Some(b) = q.bbox {
        drop(conn);
        let fids = store.index(layer)?.intersecting(b);
        let conn = store.conn();
        let mut stmt = conn
            .prepare(&format!(
                "{} WHERE fid = ?{time}",
                GpkgStore::select_sql(layer)
            ))
            .map_err(|e| store.err(e))?;
        for fid in fids {
            let mut p = vec![Sql::Integer(fid)];
            p.extend(params.iter().cloned());
            let mut rows = stmt.query(params_from_iter(p)).map_err(|e| store.err(e))?;
            if let Some(row) = rows.next().map_err(|e| store.err(e))? {
                let f = store.row_to_feature(layer, row)?;
                if intersects(&f.geometry, b) {
                    visit(f)?;
                    n += 1;
                }
            }
        }
    } else {
        let mut stmt = conn
            .prepare(&format!(
                "{} WHERE 1{time} ORDER BY fid",
                GpkgStore::select_sql(layer)
            ))
            .map_err(|e| store.err(e))?;
        let mut rows = stmt
            .query(params_from_iter(params))
            .map_err(|e| store.err(e))?;
        while let Some(row) = rows.next().map_err(|e| store.err(e))? {
            visit(store.row_to_feature(layer, row)?)?;
            n += 1;
        }
    }
    Ok(n)
}

/// Everything `query` and the reference give: features, then the error.
fn both(store: &GpkgStore, layer: Layer, q: &Query) -> [(Vec<Feature>, String); 2] {
    type Visit<'a> = dyn FnMut(Feature) -> Result<()> + 'a;
    let run = |f: &dyn Fn(&mut Visit<'_>) -> Result<u64>| {
        let mut out = Vec::new();
        let r = f(&mut |x| {
            out.push(x);
            Ok(())
        });
        let end = match r {
            Ok(n) => {
                assert_eq!(n as usize, out.len());
                "ok".to_string()
            }
            Err(e) => format!("{e:?}"),
        };
        (out, end)
    };
    [
        run(&|v| store.query(layer, q, v)),
        run(&|v| reference_query(store, layer, q, v)),
    ]
}

/// A store with `n` demo incidents, some with extra properties, and the
/// first 300 demo patrols (line strings); returns the features as ingested.
fn demo_store(dir: &std::path::Path, n: usize) -> (GpkgStore, Vec<Feature>, Vec<Feature>) {
    let scenario = crate::demo::Scenario::new(&crate::demo::DemoConfig {
        incidents: n,
        ..Default::default()
    });
    let incidents: Vec<Feature> = scenario
        .incidents()
        .enumerate()
        .map(|(i, mut v)| {
            if i % 7 == 3 {
                v["properties"]["local_ref"] = json!(format!("ref-{i}"));
                v["properties"]["tags"] = json!({"n": i, "odd": i % 2 == 1});
            }
            Feature::from_geojson_str(Layer::Incidents, &v.to_string()).expect("demo incident")
        })
        .collect();
    let patrols: Vec<Feature> = scenario
        .patrols()
        .into_iter()
        .take(300)
        .map(|v| Feature::from_geojson_str(Layer::Patrols, &v.to_string()).expect("demo patrol"))
        .collect();
    let store = GpkgStore::open(dir.join("demo.gpkg")).expect("open");
    let mut batch = store.begin().expect("begin");
    for f in &incidents {
        batch.upsert(Layer::Incidents, f).expect("upsert");
    }
    for f in &patrols {
        batch.upsert(Layer::Patrols, f).expect("upsert");
    }
    batch.commit().expect("commit");
    (store, incidents, patrols)
}

#[test]
fn chunked_query_gives_the_features_of_a_row_by_row_read() {
    let dir = tempfile::TempDir::new().expect("temp dir");
    // More rows than the growing chunks before the largest, and then some.
    let (store, incidents, patrols) = demo_store(dir.path(), 12_345);
    let [got, want] = both(&store, Layer::Incidents, &Query::default());
    assert_eq!(got.1, "ok");
    assert!(
        got.0 == incidents,
        "full scan differs from the features ingested"
    );
    assert!(got == want);
    let [got, want] = both(&store, Layer::Patrols, &Query::default());
    assert!(got.0 == patrols && got == want);

    let b = store
        .index(Layer::Incidents)
        .expect("index")
        .bbox()
        .expect("extent");
    let (mx, my) = ((b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0);
    let t = |s| Some(parse_time(s).expect("time"));
    let queries = [
        // Most of the layer, a corner of it, nothing, with and without time.
        Query {
            bbox: Some([b[0], b[1], b[2] - 0.01, b[3]]),
            ..Query::default()
        },
        Query {
            bbox: Some([b[0], b[1], mx, my]),
            ..Query::default()
        },
        Query {
            bbox: Some([mx, my, b[2], b[3]]),
            from: t("2024-06-01"),
            to: t("2025-03-01"),
        },
        Query {
            bbox: Some([mx, my, mx + 1e-9, my + 1e-9]),
            ..Query::default()
        },
        Query {
            from: t("2024-06-01"),
            ..Query::default()
        },
        Query {
            to: t("2024-09-15T12:00:00Z"),
            ..Query::default()
        },
    ];
    for q in &queries {
        for layer in [Layer::Incidents, Layer::Patrols] {
            let [got, want] = both(&store, layer, q);
            assert_eq!(got.1, "ok");
            assert_eq!(got.0.len(), want.0.len(), "{layer} {q:?}");
            assert!(got == want, "{layer} {q:?}");
        }
    }
    // The bbox path really reads more than one chunk.
    let [got, _] = both(&store, Layer::Incidents, &queries[0]);
    assert!(got.0.len() > 9000, "{}", got.0.len());
    let in_box: Vec<&Feature> = incidents
        .iter()
        .filter(|f| intersects(&f.geometry, queries[1].bbox.expect("bbox")))
        .collect();
    let [got, _] = both(&store, Layer::Incidents, &queries[1]);
    assert!(got.0.iter().eq(in_box.iter().copied()));
}

#[test]
fn an_error_from_visit_mid_chunk_stops_the_query() {
    let dir = tempfile::TempDir::new().expect("temp dir");
    let (store, incidents, _) = demo_store(dir.path(), 9_000);
    let b = store
        .index(Layer::Incidents)
        .expect("index")
        .bbox()
        .expect("extent");
    let bbox = Query {
        bbox: Some(b),
        ..Query::default()
    };
    // 5000 falls inside the fourth chunk (256 + 512 + 1024 + 2048 rows before it).
    for stop in [0, 1, 300, 5000] {
        for q in [&Query::default(), &bbox] {
            let mut seen = Vec::new();
            let r = store.query(Layer::Incidents, q, &mut |f| {
                if seen.len() == stop {
                    return Err(StoreError::Aborted(format!("stop at {}", f.id)));
                }
                seen.push(f.id);
                Ok(())
            });
            match r {
                Err(StoreError::Aborted(m)) => {
                    assert_eq!(m, format!("stop at {}", incidents[stop].id))
                }
                other => panic!("{other:?}"),
            }
            assert_eq!(seen.len(), stop);
            assert!(seen.iter().eq(incidents[..stop].iter().map(|f| &f.id)));
        }
    }
}

#[test]
fn a_bad_row_mid_chunk_gives_the_same_error_after_the_rows_before_it() {
    let dir = tempfile::TempDir::new().expect("temp dir");
    let (store, incidents, patrols) = demo_store(dir.path(), 6_000);
    // What to write into one row, and what the query then says ("": no
    // error, the row reads back as the reference reads it).
    let damage = [
        (Layer::Incidents, "owner = 'nobody'", "bad owner"),
        (
            Layer::Incidents,
            "classification = 'x'",
            "bad classification",
        ),
        (
            Layer::Incidents,
            "time_start = 'yesterday'",
            "cannot parse time",
        ),
        (
            Layer::Incidents,
            "time_end = '2024-02-30T00:00:00.000Z'",
            "cannot parse time",
        ),
        (
            Layer::Incidents,
            "time_start = 'x', time_end = 7",
            "Invalid column type Integer at index: 4, name: time_end",
        ),
        (
            Layer::Incidents,
            "geom = x'0102'",
            "not a GeoPackage geometry blob",
        ),
        (
            Layer::Incidents,
            "extra = '[1]'",
            "extra is not a JSON object",
        ),
        (
            Layer::Incidents,
            "extra = '{'",
            "extra is not a JSON object",
        ),
        (
            Layer::Incidents,
            "extra = x'7b7d'",
            "Invalid column type Blob at index: 33, name: extra",
        ),
        (
            Layer::Incidents,
            "injured_men = x'00'",
            "injured_men: unexpected blob",
        ),
        (
            Layer::Incidents,
            "category = x'00', owner = 'x'",
            "bad owner",
        ),
        (
            Layer::Incidents,
            "time_start = 20240101",
            "Invalid column type Integer at index: 3, name: time_start",
        ),
        (
            Layer::Incidents,
            "geom = 'text'",
            "Invalid column type Text at index: 1, name: geom",
        ),
        (
            Layer::Incidents,
            "id = x'01', geom = 'text'",
            "Invalid column type Blob at index: 2, name: id",
        ),
        (
            Layer::Incidents,
            "time_end = 1.5",
            "Invalid column type Real at index: 4, name: time_end",
        ),
        (
            Layer::Incidents,
            "owner = CAST(x'ff00' AS TEXT)",
            "at index 5",
        ),
        (
            Layer::Incidents,
            "time_start = CAST(x'ff00' AS TEXT)",
            "at index 3",
        ),
        (
            Layer::Incidents,
            "narrative = CAST(x'ff00' AS TEXT)",
            "at index 32",
        ),
        (Layer::Patrols, "vertex_times = '[x'", "vertex_times: "),
        // Readable after all, through the slow paths.
        (
            Layer::Incidents,
            "time_start = '2024-03-05T14:30:00+01:00'",
            "",
        ),
        (
            Layer::Incidents,
            "time_end = '2025-12-31T23:59:60.500Z'",
            "",
        ),
        (
            Layer::Incidents,
            "geom = (SELECT geom FROM patrols WHERE fid = 7)",
            "",
        ),
        (Layer::Incidents, "killed_men = 1.5, narrative = 3", ""),
        (
            Layer::Incidents,
            "extra = '{\"killed_men\": \"x\", \"a\": 1}'",
            "",
        ),
    ];
    let mut removed = [0usize; 2];
    for (i, (layer, set, says)) in damage.iter().enumerate() {
        let (slot, features) = match layer {
            Layer::Incidents => (0, &incidents),
            _ => (1, &patrols),
        };
        // Mid-way through a chunk of incidents (past the threshold for a
        // helper thread); a patrol among the first rows.
        let bad = if slot == 0 { 4321 + i } else { 150 };
        let p = features[bad - 1]
            .geometry
            .coords_iter()
            .next()
            .expect("a vertex");
        store
            .conn()
            .execute(
                &format!("UPDATE {layer} SET {set} WHERE fid = ?1"),
                [bad as i64],
            )
            .expect("damage");
        let b = store.index(*layer).expect("index").bbox().expect("extent");
        let queries = [
            Query::default(),
            Query {
                bbox: Some(b),
                ..Query::default()
            },
            // Few rows, read without a helper thread.
            Query {
                bbox: Some([p.x - 0.01, p.y - 0.01, p.x + 0.01, p.y + 0.01]),
                ..Query::default()
            },
        ];
        for q in &queries {
            let [got, want] = both(&store, *layer, q);
            assert!(got == want, "{set}: {} / {}", got.1, want.1);
            if says.is_empty() {
                assert_eq!(got.1, "ok", "{set}");
                continue;
            }
            assert!(got.1.contains(says), "{set}: {}", got.1);
            if got.1.starts_with("Corrupt") {
                let named = format!("layer: {layer:?}, id: {:?}", features[bad - 1].id);
                assert!(got.1.contains(&named), "{}", got.1);
            }
            if q.bbox.is_none() {
                // Every row before the bad one (but those removed), nothing after.
                assert_eq!(got.0.len(), bad - 1 - removed[slot], "{set}");
            }
        }
        store
            .conn()
            .execute(&format!("DELETE FROM {layer} WHERE fid = ?1"), [bad as i64])
            .expect("remove the bad row");
        removed[slot] += 1;
    }
    // With the bad rows gone the layers read to the end again.
    for (layer, n) in [
        (Layer::Incidents, incidents.len() - removed[0]),
        (Layer::Patrols, 299),
    ] {
        let [got, want] = both(&store, layer, &Query::default());
        assert_eq!(got.1, "ok");
        assert_eq!(got.0.len(), n);
        assert!(got == want);
    }
}

#[test]
fn stored_times_parse_as_parse_time_does() {
    let mut cases: Vec<String> = [
        "2024-02-30T00:00:00.000Z",
        "2024-12-31T23:59:60.500Z",
        "2023-02-29T12:00:00.000Z",
        "2024-02-29T12:00:00.000Z",
        "2024-01-01T24:00:00.000Z",
        "2024-01-01T23:60:00.000Z",
        "0000-01-01T00:00:00.000Z",
        "9999-12-31T23:59:59.999Z",
        "2024-01-01T00:00:00.000+",
        "2024-0a-01T00:00:00.000Z",
        "+024-01-01T00:00:00.000Z",
        "2024-01-01 00:00:00.000Z",
        "2024-01-01T00:00:00,000Z",
        "2024-01-01T00:00:00.000z",
        "2024-01-01T00:00:00Z",
        "2024-01-01",
        "",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut t = parse_time("1970-01-01T00:00:00Z").expect("time");
    for i in 0..20_000i64 {
        cases.push(fmt_time(&t));
        t += chrono::Duration::milliseconds(i * 7_919_773 + 13);
    }
    for s in &cases {
        assert_eq!(read::stored_time(s), parse_time(s), "{s:?}");
    }
}

#[test]
fn stored_time_format() {
    for s in [
        "2024-03-05T14:30:00Z",
        "1991-08-08T00:00:00.250Z",
        "2025-12-31T23:59:59.999Z",
    ] {
        let t = parse_time(s).unwrap();
        assert_eq!(fmt_time(&t), t.format(TIME_FORMAT).to_string());
    }
}

/// The stored `CREATE INDEX` texts of a layer's secondary indexes.
fn index_sql(store: &GpkgStore, layer: Layer) -> Vec<String> {
    let conn = store.conn();
    let mut stmt = conn
        .prepare(
            "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ?1
             AND sql IS NOT NULL ORDER BY name",
        )
        .expect("prepare");
    let rows = stmt
        .query_map([layer.name()], |r| r.get::<_, String>(0))
        .expect("query");
    rows.collect::<rusqlite::Result<_>>().expect("rows")
}

/// A batch into an empty layer builds the time index once, at the end: the
/// index is the same afterwards, reads inside the batch see it whole, a
/// rolled-back batch leaves it in place, and time queries answer the same.
#[test]
fn a_batch_into_an_empty_layer_builds_its_time_index_in_bulk() {
    let dir = tempfile::TempDir::new().expect("temp dir");
    let store = GpkgStore::open(dir.path().join("s.gpkg")).expect("open");
    let before = index_sql(&store, Layer::Sites);
    assert!(
        before.iter().any(|s| s.contains("sites_time")),
        "{before:?}"
    );
    let day = |i: usize| format!("2024-{:02}-{:02}", 1 + i % 12, 1 + (i * 7) % 28);

    // Rolled back: the index is there, as it was.
    let mut b = store.begin().expect("begin");
    b.upsert(
        Layer::Sites,
        &site(
            "x",
            json!({"name": "X", "site_type": "village", "time_start": day(0)}),
        ),
    )
    .expect("upsert");
    drop(b);
    assert_eq!(index_sql(&store, Layer::Sites), before);

    let mut b = store.begin().expect("begin");
    for i in 0..50 {
        b.upsert(
            Layer::Sites,
            &site(
                &format!("s{i:02}"),
                json!({"name": "S", "site_type": "village", "time_start": day(i)}),
            ),
        )
        .expect("upsert");
    }
    // A read inside the batch settles the deferred index first.
    assert!(b.get(Layer::Sites, "s07").expect("get").is_some());
    b.upsert(
        Layer::Sites,
        &site(
            "s50",
            json!({"name": "S", "site_type": "market", "time_start": day(50)}),
        ),
    )
    .expect("upsert");
    b.commit().expect("commit");
    assert_eq!(index_sql(&store, Layer::Sites), before);
    let conn = store.conn();
    let plan: String = conn
        .query_row(
            "EXPLAIN QUERY PLAN SELECT fid FROM sites WHERE time_start >= '2024-03-01'",
            [],
            |r| r.get(3),
        )
        .expect("plan");
    assert!(plan.contains("sites_time"), "{plan}");
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity");
    assert_eq!(integrity, "ok");
    drop(conn);
    let q = Query {
        from: Some(parse_time("2024-03-01").expect("time")),
        to: Some(parse_time("2024-03-31").expect("time")),
        ..Default::default()
    };
    let got = all(&store, Layer::Sites, &q).len();
    // Sites have no end: every site begun by the window's end overlaps it.
    let want = (0..51).filter(|i| day(*i).as_str() <= "2024-03-31").count();
    assert_eq!(got, want);
}

/// A read connection given back inside a transaction (a read that
/// panicked) is rolled back before its next use, so it never answers from
/// an old snapshot.
#[test]
fn a_reader_left_in_a_transaction_is_rolled_back_before_reuse() {
    let dir = tempfile::TempDir::new().expect("temp dir");
    let store = GpkgStore::open(dir.path().join("s.gpkg")).expect("open");
    {
        let r = store.columns_reader().expect("reader");
        r.execute_batch("BEGIN; SELECT count(*) FROM sites;")
            .expect("begin");
        assert!(!r.is_autocommit());
    }
    let r = store.columns_reader().expect("reader again");
    assert!(r.is_autocommit(), "rolled back before reuse");
}

/// The version read at once (a server's every request) moves with every commit, by this
/// handle's writer or another handle's (a CLI ingest in another process), and never
/// answers from a stale stamp.
#[test]
fn the_version_read_at_once_follows_every_commit() {
    let dir = tempfile::TempDir::new().expect("temp dir");
    let path = dir.path().join("s.gpkg");
    let server = GpkgStore::open(&path).expect("open");
    let cli = GpkgStore::open(&path).expect("open again");
    let v0 = server.data_version().expect("version");
    assert_eq!(server.data_version_now().expect("open").expect("read"), v0);
    let write = |store: &GpkgStore, id: &str| {
        let mut b = store.begin().expect("begin");
        b.upsert(
            Layer::Sites,
            &site(
                id,
                json!({"name": id, "site_type": "village", "time_start": "2024-01-01"}),
            ),
        )
        .expect("upsert");
        b.commit().expect("commit");
    };
    let mut last = v0;
    for (i, writer) in [&cli, &server, &cli, &cli, &server].into_iter().enumerate() {
        write(writer, &format!("s{i}"));
        let now = server.data_version_now().expect("open").expect("read");
        assert!(now > last, "commit {i}: {now} after {last}");
        assert_eq!(now, cli.data_version().expect("version"), "commit {i}");
        // Asked again without a commit: the same, from the stamp.
        assert_eq!(server.data_version_now().expect("open").expect("read"), now);
        last = now;
    }
}
