//! The audit log in the database (`[audit_database]`): two servers on one
//! PostGIS store write their records, through a role that may only insert,
//! to the store's append-only `jointmap_audit` table; each server's records
//! are there, in the order it answered, before its answer leaves; no role can
//! change or delete them; and a record that cannot be written is an error in
//! the server's log, as for a file.
//!
//! Runs when `JOINTMAP_TEST_PG` names a PostgreSQL server
//! (`tools/pg-test-cluster.sh start`).

mod common;
mod server_common;

use server_common::*;
use std::path::{Path, PathBuf};

fn db() -> postgres::Client {
    postgres::Client::connect(&std::env::var("JOINTMAP_TEST_PG").unwrap(), postgres::NoTls).unwrap()
}

/// The test server's URL with another user, in `schema`.
fn url_as(user: &str, schema: &str) -> String {
    let url = std::env::var("JOINTMAP_TEST_PG").unwrap();
    let (scheme, rest) = url.split_once("://").unwrap();
    let host = rest.split_once('@').map_or(rest, |(_, h)| h);
    let sep = if host.contains('?') { '&' } else { '?' };
    format!("{scheme}://{user}@{host}{sep}schema={schema}")
}

/// A configuration writing the audit to the database as `server`, through `url`.
fn config_db(dir: &Path, store: &Path, server: &str, url: &str) -> PathBuf {
    let cfg = config(
        dir,
        store,
        &format!("[audit_database]\nurl = {url:?}\nserver = {server:?}\n"),
    );
    // Without the file config() names.
    let text: String = std::fs::read_to_string(&cfg)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("audit_log ="))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&cfg, text).unwrap();
    cfg
}

/// The SQLSTATE of a statement run as `client`, or `None` when it succeeded.
fn refused(client: &mut postgres::Client, sql: &str) -> Option<String> {
    client
        .batch_execute(sql)
        .err()
        .map(|e| e.code().map_or(e.to_string(), |c| c.code().to_string()))
}

#[test]
#[cfg_attr(
    not(jointmap_test_pg),
    ignore = "needs JOINTMAP_TEST_PG, a PostgreSQL URL (tools/pg-test-cluster.sh start)"
)]
fn two_servers_audit_into_the_append_only_table_in_order() {
    let store = common::postgis_store("auditdb");
    let schema = store.rsplit_once("schema=").unwrap().1.to_string();
    let store = Path::new(&store);
    cli(store, &["migrate"]);

    // The insert-only role of docs/deploy.md.
    let role = schema.replacen("jm_", "jm_audit_", 1);
    let mut admin = db();
    admin
        .batch_execute(&format!(
            "CREATE ROLE {role} LOGIN;
             GRANT USAGE ON SCHEMA \"{schema}\" TO {role};
             GRANT INSERT ON \"{schema}\".jointmap_audit TO {role};
             GRANT USAGE ON SEQUENCE \"{schema}\".jointmap_audit_id_seq TO {role};"
        ))
        .unwrap();
    let audit_url = url_as(&role, &schema);

    let dir = tempfile::TempDir::new().unwrap();
    let (da, dbb) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir_all(&da).unwrap();
    std::fs::create_dir_all(&dbb).unwrap();
    let a = Server::start(&config_db(&da, store, "server-a", &audit_url));
    let b = Server::start(&config_db(&dbb, store, "server-b", &audit_url));

    // Both at once, each in its own order; every fifth request without a token.
    const N: usize = 60;
    let expected = |name: &str| -> Vec<(String, u16)> {
        (0..N)
            .map(|i| {
                let status = if i % 5 == 4 { 401 } else { 200 };
                (format!("limit=1&perpetrator={name}{i}"), status)
            })
            .collect()
    };
    std::thread::scope(|s| {
        for (server, name) in [(&a, "a"), (&b, "b")] {
            s.spawn(move || {
                for (i, (params, status)) in expected(name).into_iter().enumerate() {
                    let token = (i % 5 != 4).then_some(HR);
                    let r = server.get(&format!("/collections/incidents/items?{params}"), token);
                    assert_eq!(r.status, status, "{}", r.text());
                }
            });
        }
    });

    // Each answer left after its record was written: all are there now.
    let rows = admin
        .query(
            &format!(
                "SELECT server, seq, params, status, token, role, reason, endpoint \
                 FROM \"{schema}\".jointmap_audit ORDER BY id"
            ),
            &[],
        )
        .unwrap();
    for (server, name) in [("server-a", "a"), ("server-b", "b")] {
        let mine: Vec<_> = rows
            .iter()
            .filter(|r| r.get::<_, String>(0) == server)
            .collect();
        let got: Vec<(String, u16)> = mine
            .iter()
            .map(|r| (r.get(2), r.get::<_, i32>(3) as u16))
            .collect();
        assert_eq!(got, expected(name), "{server}'s records, in id order");
        let seqs: Vec<i64> = mine.iter().map(|r| r.get(1)).collect();
        assert_eq!(seqs, (0..N as i64).collect::<Vec<_>>(), "{server}");
        for r in &mine {
            let endpoint: String = r.get(7);
            assert_eq!(endpoint, "GET /collections/incidents/items");
            match r.get::<_, i32>(3) {
                200 => {
                    assert_eq!(r.get::<_, Option<String>>(4).as_deref(), Some("hr-desk"));
                    assert_eq!(r.get::<_, Option<String>>(5).as_deref(), Some("hr"));
                }
                _ => {
                    assert_eq!(r.get::<_, Option<String>>(4), None);
                    assert_eq!(
                        r.get::<_, Option<String>>(6).as_deref(),
                        Some("missing token")
                    );
                }
            }
        }
    }
    assert_eq!(rows.len(), 2 * N, "nothing else in the table");
    // No audit file beside either server.
    for d in [&da, &dbb] {
        for f in std::fs::read_dir(d).unwrap() {
            let name = f.unwrap().file_name();
            assert!(!name.to_string_lossy().contains("audit"), "{name:?}");
        }
    }

    // The insert-only role may not change, delete or even read a record.
    let plain = audit_url.rsplit_once(['?', '&']).unwrap().0;
    let mut writer = postgres::Client::connect(plain, postgres::NoTls).unwrap();
    let t = format!("\"{schema}\".jointmap_audit");
    for sql in [
        format!("UPDATE {t} SET status = 200 WHERE status = 401"),
        format!("DELETE FROM {t}"),
        format!("TRUNCATE {t}"),
        format!("SELECT count(*) FROM {t}"),
    ] {
        assert_eq!(
            refused(&mut writer, &sql).as_deref(),
            Some("42501"),
            "{sql} as the insert-only role"
        );
    }
    // Nor may the table's owner (a superuser here): the trigger refuses it.
    for sql in [
        format!("UPDATE {t} SET status = 200 WHERE status = 401"),
        format!("DELETE FROM {t}"),
        format!("TRUNCATE {t}"),
    ] {
        assert_eq!(
            refused(&mut admin, &sql).as_deref(),
            Some("42501"),
            "{sql} as the owner"
        );
    }
    let count: i64 = admin
        .query_one(&format!("SELECT count(*) FROM {t}"), &[])
        .unwrap()
        .get(0);
    assert_eq!(count as usize, 2 * N);

    // A record that cannot be written is an error in the server's log.
    admin
        .batch_execute(&format!("REVOKE INSERT ON {t} FROM {role}"))
        .unwrap();
    let r = a.get(
        "/collections/incidents/items?limit=1&perpetrator=unwritten",
        Some(HR),
    );
    assert_eq!(r.status, 200);
    // The log is read from the server's stderr by a thread: give it a moment.
    let t = std::time::Instant::now();
    let mut log = String::new();
    while t.elapsed() < std::time::Duration::from_secs(5) {
        log = a.log.lock().unwrap().join("\n");
        if log.contains("audit log write failed") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(
        log.contains("audit log write failed") && log.contains("permission denied"),
        "{log}"
    );
}

#[test]
fn an_audit_database_needs_a_postgis_store() {
    let dir = tempfile::TempDir::new().unwrap();
    let store = dir.path().join("s.gpkg");
    cli(&store, &["migrate"]);
    let cfg = config(dir.path(), &store, "[audit_database]\n");
    let text: String = std::fs::read_to_string(&cfg)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("audit_log ="))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&cfg, &text).unwrap();
    let o = bin()
        .args(["serve", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(
        err.contains("audit_database") && err.contains("PostgreSQL"),
        "{err}"
    );

    // And not beside a file: the records go to one place.
    std::fs::write(&cfg, format!("audit_log = \"x.jsonl\"\n{text}")).unwrap();
    let o = bin()
        .args(["serve", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(err.contains("both given"), "{err}");
}
