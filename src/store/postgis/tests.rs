//! Unit tests of the PostGIS backend. Those needing a server run when `JOINTMAP_TEST_PG`
//! names one (`tools/pg-test-cluster.sh start`), each in a fresh schema it drops at the end.

use super::*;
use crate::store::{FeatureSink, FeatureSource};
use std::sync::atomic::{AtomicU64, Ordering};

/// A store in a schema of its own on the test server, dropped with it.
pub(crate) struct TestDb {
    store: Option<PgStore>,
}

impl TestDb {
    /// A new store in a fresh schema on the server `JOINTMAP_TEST_PG` names.
    pub(crate) fn new() -> Self {
        TestDb {
            store: Some(open_fresh("").expect("open a fresh store")),
        }
    }
}

/// The URL of a fresh schema on the test server, with `extra` query parameters.
fn fresh_url(extra: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let url = std::env::var("JOINTMAP_TEST_PG")
        .expect("JOINTMAP_TEST_PG: a PostgreSQL URL (tools/pg-test-cluster.sh start)");
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let schema = format!(
        "jm_t_{}_{}_{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}schema={schema}{extra}")
}

fn open_fresh(extra: &str) -> Result<PgStore> {
    let url = fresh_url(extra);
    PgStore::open(&url, "test", IfMissing::Create)
}

impl std::ops::Deref for TestDb {
    type Target = PgStore;
    fn deref(&self) -> &PgStore {
        self.store.as_ref().expect("open until dropped")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(store) = self.store.take() {
            drop_schema(&store);
        }
    }
}

fn drop_schema(store: &PgStore) {
    if let Ok(mut conn) = store.pool.get() {
        let _ = conn.batch_execute(&format!(
            "DROP SCHEMA IF EXISTS \"{}\" CASCADE",
            store.pool.schema()
        ));
    }
}

#[test]
fn geometries_go_in_as_ewkb_and_come_back_the_same() {
    use geo_types::{line_string, point, polygon, Geometry, MultiLineString};
    let mut blob = Vec::new();
    let shapes: Vec<Geometry<f64>> = vec![
        point!(x: 18.25, y: 4.5).into(),
        line_string![(x: 17.0, y: 4.0), (x: 18.0, y: 5.0)].into(),
        MultiLineString::new(vec![line_string![(x: 1.0, y: 2.0), (x: 3.0, y: 4.0)]]).into(),
        polygon![(x: 0.0, y: 0.0), (x: 1.0, y: 0.0), (x: 1.0, y: 1.0), (x: 0.0, y: 0.0)].into(),
    ];
    for g in shapes {
        let e = Ewkb::new(&g, &mut blob).expect("encodes");
        // Little-endian, the SRID flag on the type, SRID 4326 after it.
        assert_eq!(e.0[0], 1);
        let ty = u32::from_le_bytes([e.0[1], e.0[2], e.0[3], e.0[4]]);
        assert_eq!(ty & 0x2000_0000, 0x2000_0000);
        assert_eq!(u32::from_le_bytes([e.0[5], e.0[6], e.0[7], e.0[8]]), 4326);
        // Without the SRID it is the WKB of the GeoPackage blob, which decodes to `g`.
        let mut wkb = vec![1];
        wkb.extend_from_slice(&(ty & !0x2000_0000).to_le_bytes());
        wkb.extend_from_slice(&e.0[9..]);
        assert_eq!(&wkb[..], &blob[gpkg_header_len(&blob)..]);
        assert_eq!(decode_wkb(&wkb).expect("decodes"), g);
    }
    assert!(decode_wkb(&[1, 2]).is_err());
}

#[test]
#[cfg_attr(
    not(jointmap_test_pg),
    ignore = "needs JOINTMAP_TEST_PG, a PostgreSQL URL (tools/pg-test-cluster.sh start)"
)]
fn a_newer_schema_and_a_missing_store_are_refused_by_name() {
    let db = TestDb::new();
    assert_eq!(db.schema_version().expect("version"), schema::latest());
    // A second process opens the same schema: nothing to migrate.
    let url = fresh_url("");
    let (base, _) = url.rsplit_once("schema=").expect("schema");
    let same = format!("{base}schema={}", db.pool.schema());
    PgStore::open(&same, "same", IfMissing::Refuse).expect("opens as it is");
    // A schema without a store is not created when refused.
    let e = PgStore::open(&url, "absent", IfMissing::Refuse)
        .err()
        .expect("refused");
    assert!(e.is_bad_input(), "{e}");
    assert!(e.to_string().contains("no jointmap store"), "{e}");
    // A version from the future.
    let mut conn = db.pool.get().expect("conn");
    conn.execute(
        "UPDATE jointmap_meta SET value = value + 1 WHERE key = 'schema_version'",
        &[],
    )
    .expect("bump");
    drop(conn);
    let e = PgStore::open(&same, "newer", IfMissing::Create)
        .err()
        .expect("refused");
    assert!(e.to_string().contains("newer than this jointmap"), "{e}");
}

#[test]
#[cfg_attr(
    not(jointmap_test_pg),
    ignore = "needs JOINTMAP_TEST_PG, a PostgreSQL URL (tools/pg-test-cluster.sh start)"
)]
fn a_batch_is_one_transaction_and_history_keeps_what_it_replaced() {
    use crate::model::Feature;
    let db = TestDb::new();
    let f = |id: &str, n: i64| {
        let v = serde_json::json!({"type": "Feature", "id": id,
            "geometry": {"type": "Point", "coordinates": [18.0, 4.0]},
            "properties": {"category": "killing", "killed_men": n, "time": "2024-01-01",
                "note": {"nested": [1, 2]}}});
        Feature::from_geojson_str(Layer::Incidents, &v.to_string()).expect("valid")
    };
    let write = |fs: &[Feature]| {
        let mut b = db.begin().expect("begin");
        for x in fs {
            b.upsert(Layer::Incidents, x).expect("upsert");
        }
        b.commit().expect("commit")
    };
    write(&[f("a", 1), f("b", 1)]);
    // Identical again: nothing replaced. Changed: the old version kept.
    write(&[f("a", 1), f("b", 2)]);
    let mut conn = db.pool.get().expect("conn");
    let rows = conn
        .query(
            "SELECT id, killed_men, change FROM jointmap_history_incidents ORDER BY seq",
            &[],
        )
        .expect("history");
    let got: Vec<(String, i64, String)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(got, [("b".to_string(), 1, "replaced".to_string())]);
    // Extras survive as JSON, in their order.
    let b = db.get(Layer::Incidents, "b").expect("get").expect("b");
    assert_eq!(b, f("b", 2));
    // Another connection does not see an open batch, and waits to write.
    let mut open = db.begin().expect("begin");
    open.upsert(Layer::Incidents, &f("c", 1)).expect("upsert");
    assert!(open.get(Layer::Incidents, "c").expect("get").is_some());
    let n: i64 = conn
        .query_one("SELECT count(*) FROM incidents", &[])
        .expect("count")
        .get(0);
    assert_eq!(n, 2);
    conn.batch_execute("SET lock_timeout = '200ms'")
        .expect("set");
    let e = conn
        .query_one(
            "SELECT value FROM jointmap_meta WHERE key = 'data_version' FOR UPDATE",
            &[],
        )
        .expect_err("the batch holds the write lock");
    assert_eq!(PgError::from(e).kind(), ErrorKind::Busy);
    drop(open);
    assert!(db.get(Layer::Incidents, "c").expect("get").is_none());
}

#[test]
#[cfg_attr(
    not(jointmap_test_pg),
    ignore = "needs JOINTMAP_TEST_PG, a PostgreSQL URL (tools/pg-test-cluster.sh start)"
)]
fn a_bulk_load_into_an_empty_layer_upserts_as_any_batch_and_keeps_its_indexes() {
    use crate::model::Feature;
    let f = |id: &str, n: i64| {
        let v = serde_json::json!({"type": "Feature", "id": id,
            "geometry": {"type": "Point", "coordinates": [18.0, 4.0]},
            "properties": {"category": "killing", "killed_men": n, "time": "2024-01-01"}});
        Feature::from_geojson_str(Layer::Incidents, &v.to_string()).expect("valid")
    };
    // A few rows copied straight into the layer; more than a COPY's worth, through a fresh
    // table (its rows moved into the layer when the batch reads one of them back).
    for more in [0, write::STAGE_ROWS] {
        let db = TestDb::new();
        let indexes = || -> Vec<String> {
            let mut conn = db.pool.get().expect("conn");
            conn.query(
                "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() \
                 AND tablename = 'incidents' ORDER BY 1",
                &[],
            )
            .expect("indexes")
            .iter()
            .map(|r| r.get(0))
            .collect()
        };
        let before = indexes();
        assert_eq!(before.len(), 5, "{before:?}");
        let mut ids: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        ids.extend((0..more).map(|i| format!("x{i:05}")));
        let ready = || -> Vec<_> {
            ids.iter()
                .map(|id| db.prepare(Layer::Incidents, f(id, 1)))
                .collect()
        };
        // Dropped uncommitted: nothing stored, every index back.
        {
            let mut b = db.begin().expect("begin");
            b.upsert_prepared(Layer::Incidents, &ready())
                .expect("upsert");
        }
        assert_eq!(indexes(), before, "{more}");
        // New ids copied in, then one of them again: upserted over, the first kept in history.
        let mut b = db.begin().expect("begin");
        b.upsert_prepared(Layer::Incidents, &ready())
            .expect("upsert");
        assert_eq!(b.get(Layer::Incidents, "b").expect("get"), Some(f("b", 1)));
        b.upsert(Layer::Incidents, &f("b", 2)).expect("upsert");
        b.upsert(Layer::Incidents, &f("d", 1)).expect("upsert");
        let stats = b.commit().expect("commit");
        assert_eq!(
            (stats.inserted, stats.updated),
            (4 + more as u64, 1),
            "{more}"
        );
        assert_eq!(indexes(), before, "{more}");
        assert_eq!(db.get(Layer::Incidents, "b").expect("get"), Some(f("b", 2)));
        let mut conn = db.pool.get().expect("conn");
        let got: Vec<String> = conn
            .query("SELECT id FROM incidents ORDER BY fid", &[])
            .expect("rows")
            .iter()
            .map(|r| r.get(0))
            .collect();
        ids.push("d".into());
        assert_eq!(got, ids, "{more}");
        let history: i64 = conn
            .query_one("SELECT count(*) FROM jointmap_history_incidents", &[])
            .expect("history")
            .get(0);
        assert_eq!(history, 1, "{more}");
    }
}

#[test]
#[cfg_attr(
    not(jointmap_test_pg),
    ignore = "needs JOINTMAP_TEST_PG, a PostgreSQL URL (tools/pg-test-cluster.sh start)"
)]
fn a_large_load_into_an_empty_layer_takes_its_place_at_the_commit_and_readers_do_not_wait() {
    let f = killing;
    let db = TestDb::new();
    // What the table is besides its rows: columns, defaults, indexes, constraints, grants.
    let shape = || -> Vec<String> {
        let mut conn = db.pool.get().expect("conn");
        conn.query(
            "SELECT a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || ' '
                    || a.attnotnull || ' ' || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
             FROM pg_attribute a LEFT JOIN pg_attrdef d
               ON d.adrelid = a.attrelid AND d.adnum = a.attnum
             WHERE a.attrelid = 'incidents'::regclass AND a.attnum > 0
             UNION ALL SELECT indexdef FROM pg_indexes
               WHERE schemaname = current_schema() AND tablename = 'incidents'
             UNION ALL SELECT conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
               WHERE conrelid = 'incidents'::regclass
             UNION ALL SELECT coalesce(relacl::text, '') FROM pg_class
               WHERE oid = 'incidents'::regclass
             UNION ALL SELECT coalesce(pg_get_serial_sequence('incidents', 'fid'), '')
             UNION ALL SELECT count(*)::text FROM pg_class
               WHERE relname LIKE 'jm_load_%' AND relnamespace = current_schema()::regnamespace
             ORDER BY 1",
            &[],
        )
        .expect("shape")
        .iter()
        .map(|r| r.get(0))
        .collect()
    };
    db.pool
        .get()
        .expect("conn")
        .batch_execute("GRANT SELECT ON incidents TO PUBLIC")
        .expect("grant");
    let before = shape();
    let n = write::STAGE_ROWS + 10;
    let ready: Vec<_> = (0..n)
        .map(|i| db.prepare(Layer::Incidents, f(&format!("x{i:05}"))))
        .collect();
    {
        let mut b = db.begin().expect("begin");
        b.upsert_prepared(Layer::Incidents, &ready).expect("upsert");
    }
    assert_eq!(shape(), before, "rolled back");
    let mut b = db.begin().expect("begin");
    b.upsert_prepared(Layer::Incidents, &ready).expect("upsert");
    // Readers meanwhile see the layer as it was, without waiting for the batch.
    {
        let mut reader = db.pool.get().expect("conn");
        reader
            .batch_execute("SET lock_timeout = '2s'")
            .expect("timeout");
        let rows: i64 = reader
            .query_one("SELECT count(*) FROM incidents", &[])
            .expect("read during the load")
            .get(0);
        assert_eq!(rows, 0);
        reader.batch_execute("RESET lock_timeout").expect("reset");
    }
    assert_eq!(db.get(Layer::Incidents, "x00001").expect("get"), None);
    let stats = b.commit().expect("commit");
    assert_eq!(stats.inserted, n as u64);
    assert_eq!(shape(), before, "committed");
    assert_eq!(
        db.get(Layer::Incidents, "x00001").expect("get"),
        Some(f("x00001"))
    );
    // The sequence goes on after the loaded rows.
    let mut b = db.begin().expect("begin");
    b.upsert(Layer::Incidents, &f("y")).expect("upsert");
    b.commit().expect("commit");
    let mut conn = db.pool.get().expect("conn");
    let last: String = conn
        .query_one("SELECT id FROM incidents ORDER BY fid DESC LIMIT 1", &[])
        .expect("last")
        .get(0);
    assert_eq!(last, "y");
    // A batch that fails after its rows were committed apart (here: a row written to the
    // layer from outside jointmap meanwhile) leaves no fresh table behind.
    conn.batch_execute(
        "CREATE TABLE jm_test_keep AS SELECT * FROM incidents WHERE id = 'y'; TRUNCATE incidents",
    )
    .expect("empty the layer");
    drop(conn);
    let mut b = db.begin().expect("begin");
    b.upsert_prepared(Layer::Incidents, &ready).expect("upsert");
    db.pool
        .get()
        .expect("conn")
        .batch_execute("INSERT INTO incidents SELECT * FROM jm_test_keep")
        .expect("a row from outside");
    let e = b.commit().expect_err("refused");
    assert!(e.to_string().contains("outside jointmap"), "{e}");
    let mut conn = db.pool.get().expect("conn");
    let left: i64 = conn
        .query_one(
            "SELECT count(*) FROM pg_class WHERE relname LIKE 'jm_load_%'
               AND relnamespace = current_schema()::regnamespace",
            &[],
        )
        .expect("fresh tables")
        .get(0);
    assert_eq!(left, 0, "no orphan after a failed batch");
    let ids: Vec<String> = conn
        .query("SELECT id FROM incidents", &[])
        .expect("rows")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(ids, ["y"]);
}

/// A killing at one place and day, with id `id`.
fn killing(id: &str) -> crate::model::Feature {
    let v = serde_json::json!({"type": "Feature", "id": id,
        "geometry": {"type": "Point", "coordinates": [18.0, 4.0]},
        "properties": {"category": "killing", "time": "2024-01-01"}});
    crate::model::Feature::from_geojson_str(Layer::Incidents, &v.to_string()).expect("valid")
}

/// Whether two connections can be taken from `db`'s pool at once (none was lost).
fn two_connections(db: &TestDb) -> bool {
    let a = db.pool.get();
    let b = db.pool.get();
    a.is_ok() && b.is_ok()
}

#[test]
#[cfg_attr(
    not(jointmap_test_pg),
    ignore = "needs JOINTMAP_TEST_PG, a PostgreSQL URL (tools/pg-test-cluster.sh start)"
)]
fn a_large_load_whose_copy_connection_dies_stores_nothing_and_loses_no_connection() {
    let f = killing;
    // Two connections: the batch's and the load's.
    let db = TestDb {
        store: Some(open_fresh("&pool=2&pool_timeout=2").expect("open")),
    };
    let n = 3 * write::STAGE_ROWS;
    let ready: Vec<_> = (0..n)
        .map(|i| db.prepare(Layer::Incidents, f(&format!("x{i:05}"))))
        .collect();
    let mut b = db.begin().expect("begin");
    // A COPY's worth and one: the load streams on its own connection from here.
    let first = write::STAGE_ROWS + 1;
    b.upsert_prepared(Layer::Incidents, &ready[..first])
        .expect("upsert");
    let mut admin = db.pool.connect().expect("a connection outside the pool");
    let killed = admin
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
             WHERE query LIKE 'COPY jm_load_incidents%' AND pid <> pg_backend_pid()",
            &[],
        )
        .expect("terminate")
        .len();
    assert_eq!(killed, 1, "the load's COPY runs on a connection of its own");
    let e = b
        .upsert_prepared(Layer::Incidents, &ready[first..])
        .and_then(|()| b.commit().map(|_| ()))
        .expect_err("the COPY's connection died");
    // The server's FATAL message, or the closed socket when that message was not read first.
    let said = e.to_string();
    assert!(
        [
            "terminat",
            "error communicating with the server",
            "connection closed"
        ]
        .iter()
        .any(|cause| said.contains(cause)),
        "{said}"
    );
    let rows: i64 = admin
        .query_one(
            &format!("SELECT count(*) FROM \"{}\".incidents", db.pool.schema()),
            &[],
        )
        .expect("count")
        .get(0);
    assert_eq!(rows, 0, "nothing stored");
    assert!(two_connections(&db), "no connection lost");
    // The next load goes through.
    let mut b = db.begin().expect("begin");
    b.upsert_prepared(Layer::Incidents, &ready).expect("upsert");
    assert_eq!(b.commit().expect("commit").inserted, n as u64);
    assert!(two_connections(&db), "no connection lost");
}

#[test]
#[cfg_attr(
    not(jointmap_test_pg),
    ignore = "needs JOINTMAP_TEST_PG, a PostgreSQL URL (tools/pg-test-cluster.sh start)"
)]
fn a_stream_copies_every_buffer_across_its_statements_and_an_abandoned_one_nothing() {
    let db = TestDb::new();
    let mut conn = db.pool.get().expect("conn");
    conn.batch_execute("CREATE TABLE jm_test_stream (n bigint, t text)")
        .expect("table");
    // Buffers of whole tuples: 3000 rows each, past the (test) rotation size every time.
    let buffer = |from: i64| {
        let mut out = Vec::new();
        for n in from..from + 3000 {
            out.extend_from_slice(&2i16.to_be_bytes());
            out.extend_from_slice(&8i32.to_be_bytes());
            out.extend_from_slice(&n.to_be_bytes());
            let t = format!("row {n} {}", "x".repeat(20));
            out.extend_from_slice(&(t.len() as i32).to_be_bytes());
            out.extend_from_slice(t.as_bytes());
        }
        assert!(out.len() > 64 << 10);
        out
    };
    let client = conn.lend().expect("client");
    let mut stream = copy::Stream::start(client, "jm_test_stream", "n, t").expect("start");
    for i in 0..5 {
        let spare = stream.send(buffer(i * 3000)).expect("send");
        assert!(spare.is_empty());
    }
    let (client, result) = stream.finish();
    result.expect("copied");
    conn.put_back(client.expect("the client back"));
    let (count, sum): (i64, i64) = {
        let r = conn
            .query_one("SELECT count(*), sum(n)::bigint FROM jm_test_stream", &[])
            .expect("count");
        (r.get(0), r.get(1))
    };
    assert_eq!((count, sum), (15000, (0..15000).sum::<i64>()));
    // Abandoned inside a transaction: aborted, the connection closed, nothing stored.
    conn.batch_execute("BEGIN").expect("begin");
    let client = conn.lend().expect("client");
    let mut stream = copy::Stream::start(client, "jm_test_stream", "n, t").expect("start");
    stream.send(buffer(0)).expect("send");
    drop(stream);
    drop(conn);
    let mut conn = db.pool.get().expect("conn");
    let count: i64 = conn
        .query_one("SELECT count(*) FROM jm_test_stream", &[])
        .expect("count")
        .get(0);
    assert_eq!(count, 15000);
    drop(conn);
    assert!(two_connections(&db), "no connection lost");
}

#[test]
fn cells_go_only_into_their_own_column_type() {
    let mut out = BytesMut::new();
    assert!(Cell::Int(3).to_sql(&Type::INT8, &mut out).is_ok());
    assert!(Cell::Null.to_sql(&Type::TEXT, &mut out).is_ok());
    for (cell, ty) in [
        (Cell::Int(3), Type::TEXT),
        (Cell::Text("3".into()), Type::INT8),
        (Cell::Real(0.5), Type::INT8),
        (Cell::Int(1), Type::FLOAT8),
    ] {
        assert!(cell.to_sql(&ty, &mut out).is_err(), "{cell:?} into {ty}");
    }
}

#[test]
#[cfg_attr(
    not(jointmap_test_pg),
    ignore = "needs JOINTMAP_TEST_PG, a PostgreSQL URL (tools/pg-test-cluster.sh start)"
)]
fn a_full_pool_waits_then_fails_as_busy() {
    let store = open_fresh("&pool=1&pool_timeout=1").expect("open");
    let held = store.pool.get().expect("the one connection");
    let e = store.data_version().expect_err("no connection free");
    assert_eq!(e.kind(), ErrorKind::Busy, "{e}");
    drop(held);
    store.data_version().expect("free again");
    drop_schema(&store);
}

#[test]
#[cfg_attr(
    not(jointmap_test_pg),
    ignore = "needs JOINTMAP_TEST_PG, a PostgreSQL URL (tools/pg-test-cluster.sh start)"
)]
fn a_commit_by_another_store_is_heard_at_once_and_other_schemas_are_not() {
    use std::time::{Duration, Instant};
    let db = TestDb::new();
    let other = TestDb::new();
    let url = fresh_url("");
    let (base, _) = url.rsplit_once("schema=").expect("schema");
    // A second process on the same schema (its own pool and listener).
    let writer = PgStore::open(
        &format!("{base}schema={}", db.pool.schema()),
        "writer",
        IfMissing::Refuse,
    )
    .expect("opens");
    let v0 = db.data_version().expect("version");
    // Nothing changes: the wait lasts its timeout, listening all along.
    let t = Instant::now();
    let w = db
        .wait_for_change(v0, Duration::from_millis(300))
        .expect("waits");
    assert_eq!((w.version, w.pushed), (v0, true));
    assert!(t.elapsed() >= Duration::from_millis(300));
    std::thread::scope(|s| {
        let waiting = s.spawn(|| {
            let t = Instant::now();
            let w = db
                .wait_for_change(v0, Duration::from_secs(20))
                .expect("waits");
            (w, t.elapsed())
        });
        std::thread::sleep(Duration::from_millis(300));
        // A commit in another schema of the database wakes nobody up for good.
        other.begin().expect("begin").commit().expect("commit");
        std::thread::sleep(Duration::from_millis(300));
        let t = Instant::now();
        writer.begin().expect("begin").commit().expect("commit");
        let (w, waited) = waiting.join().expect("joins");
        assert_eq!((w.version, w.pushed), (v0 + 1, true));
        // Heard within a second of the commit (not at the 20 s timeout).
        assert!(waited < Duration::from_secs(5) && t.elapsed() < Duration::from_secs(1));
    });
    // A version that moved before the wait began is answered at once.
    let t = Instant::now();
    let w = db
        .wait_for_change(v0, Duration::from_secs(20))
        .expect("waits");
    assert_eq!(w.version, v0 + 1);
    assert!(t.elapsed() < Duration::from_secs(1));
    drop(writer);
}

#[test]
#[cfg_attr(
    not(jointmap_test_pg),
    ignore = "needs JOINTMAP_TEST_PG, a PostgreSQL URL (tools/pg-test-cluster.sh start)"
)]
fn a_statement_past_its_timeout_is_cancelled_as_busy() {
    let db = TestDb {
        store: Some(open_fresh("&statement_timeout=1").expect("opens")),
    };
    let mut conn = db.pool.get().expect("conn");
    let e = conn
        .batch_execute("SELECT pg_sleep(3)")
        .map_err(|e| PgError::from(e).into_store("test"))
        .expect_err("cancelled");
    drop(conn);
    assert_eq!(e.kind(), ErrorKind::Busy, "{e}");
    assert!(e.to_string().contains("statement timeout"), "{e}");
    // Within the limit, as before.
    assert!(db.data_version().is_ok());
}

#[test]
fn an_unreachable_database_is_named_with_its_cause() {
    // Nothing listens on port 1; the password never shows.
    let e = PgStore::open(
        "postgresql://u:secret@127.0.0.1:1/db?connect_timeout=2",
        "postgresql://u:***@127.0.0.1:1/db",
        IfMissing::Create,
    )
    .err()
    .expect("refused");
    let text = e.to_string();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{text}");
    assert!(text.contains("cannot connect"), "{text}");
    assert!(text.to_lowercase().contains("refused"), "{text}");
    assert!(!text.contains("secret"), "{text}");
}
