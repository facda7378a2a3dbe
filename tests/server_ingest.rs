//! Record ownership over HTTP, tested as an adversary would try it: tokens
//! with ingest rights on a layer try to overwrite records they do not own or
//! cannot see, and to learn from the reply whether an id is in use.

mod common;
mod server_common;

use jointmap::model::Layer;
use jointmap::store::GpkgStore;
use rusqlite::types::Value as Sql;
use serde_json::{json, Value};
use server_common::*;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

/// A military token that may ingest incidents.
const MIL_INC: &str = "military-incidents-secret-0001";
/// A JMAC token that may ingest incidents.
const JMAC_INC: &str = "jmac-incidents-secret-0001";
/// A partner token that may ingest incidents (it still writes nothing).
const PARTNER_INC: &str = "partner-incidents-secret-0001";

/// The hr-owned, strictly-confidential incident the adversaries go after.
const SECRET_ID: &str = "hr-secret-1";

fn incident(id: &str, owner: &str, level: &str, consent: &str) -> Value {
    let mut f = common::incident(7);
    f["id"] = json!(id);
    f["properties"]["owner"] = json!(owner);
    f["properties"]["classification"] = json!(level);
    f["properties"]["consent"] = json!(consent);
    f
}

struct Setup {
    _dir: TempDir,
    server: Server,
    store: PathBuf,
}

fn setup() -> Setup {
    let dir = TempDir::new().unwrap();
    let store = dir.path().join("s.gpkg");
    let mut secret = incident(SECRET_ID, "hr", "strictly-confidential", "hr-only");
    secret["properties"]["narrative"] = json!("Witness W saw the attack from the school.");
    let fc = common::write_fc(dir.path(), "secret.geojson", &[secret]);
    cli(&store, &["ingest", "incidents", fc.to_str().unwrap()]);
    let extra = [
        token_toml("force-incidents", "military", MIL_INC, &["incidents"]),
        token_toml("jmac-incidents", "jmac", JMAC_INC, &["incidents"]),
        token_toml("ocha-incidents", "partner", PARTNER_INC, &["incidents"]),
    ]
    .concat();
    let cfg = config(dir.path(), &store, &extra);
    let server = Server::start(&cfg);
    Setup {
        _dir: dir,
        server,
        store,
    }
}

fn post(s: &Server, token: &str, body: &Value) -> Resp {
    s.post(
        "/collections/incidents/items",
        Some(token),
        "application/geo+json",
        &serde_json::to_vec(body).unwrap(),
    )
}

/// The stored row of `id`, every column, as SQLite holds it.
fn row(store: &Path, id: &str) -> Option<Vec<Sql>> {
    let conn = rusqlite::Connection::open(store).unwrap();
    let mut stmt = conn
        .prepare("SELECT * FROM incidents WHERE id = ?1")
        .unwrap();
    let n = stmt.column_count();
    let mut rows = stmt.query([id]).unwrap();
    let r = rows.next().unwrap()?;
    Some((0..n).map(|i| r.get::<_, Sql>(i).unwrap()).collect())
}

fn history(store: &Path, id: &str) -> Vec<jointmap::store::HistoryEntry> {
    GpkgStore::open_unindexed(store)
        .unwrap()
        .history(Layer::Incidents, id)
        .unwrap()
}

/// A problem document with the given id and index written out of its
/// `detail` and members, to compare two refusals modulo what the caller sent.
fn anonymised(p: &Value, id: &str, index: u64) -> Value {
    let mut p = p.clone();
    let detail = p["detail"].as_str().unwrap().replace(id, "ID");
    let detail = detail.replace(&format!("#{index} "), "#N ");
    p["detail"] = json!(detail);
    assert_eq!(p["id"], json!(id), "{p}");
    assert_eq!(p["index"], json!(index), "{p}");
    p["id"] = json!("ID");
    p["index"] = json!("N");
    p
}

/// A military token with incidents ingest rights reuses the id of an
/// hr-owned strictly-confidential incident: refused, the record intact to the
/// byte, no history, and the reply reads exactly like writing an hr-owned
/// record under a new id, which the token could have predicted.
#[test]
fn a_hidden_record_cannot_be_overwritten_and_the_refusal_does_not_reveal_it() {
    let Setup {
        server: s,
        store,
        _dir: _keep,
    } = setup();
    let before = row(&store, SECRET_ID).expect("the secret is stored");
    let hr_before = s.json(&format!("/collections/incidents/items/{SECRET_ID}"), HR);
    // Military cannot see it at all.
    s.get(
        &format!("/collections/incidents/items/{SECRET_ID}"),
        Some(MIL_INC),
    )
    .problem(404, None);

    let overwrite = incident(SECRET_ID, "military", "mission", "mission");
    let hidden = post(&s, MIL_INC, &overwrite);
    let predictable = post(
        &s,
        MIL_INC,
        &incident("fresh-id-1", "hr", "mission", "mission"),
    );
    assert_eq!(hidden.status, 403, "{}", hidden.text());
    assert_eq!(hidden.status, predictable.status);
    assert_eq!(
        hidden.header("content-type"),
        predictable.header("content-type")
    );
    let (h, p) = (hidden.problem(403, None), predictable.problem(403, None));
    assert_eq!(
        anonymised(&h, SECRET_ID, 0),
        anonymised(&p, "fresh-id-1", 0)
    );
    let detail = h["detail"].as_str().unwrap();
    assert!(detail.contains("nothing was stored"), "{detail}");
    for leak in ["strictly", "hr-only", "exist", "hidden", "owned by hr"] {
        assert!(!detail.contains(leak), "{leak:?} in {detail}");
    }

    assert_eq!(
        row(&store, SECRET_ID).as_ref(),
        Some(&before),
        "byte for byte"
    );
    assert!(row(&store, "fresh-id-1").is_none());
    assert!(history(&store, SECRET_ID).is_empty());
    assert_eq!(
        s.json(&format!("/collections/incidents/items/{SECRET_ID}"), HR),
        hr_before
    );
    // The owners can spot the probe: the audit has the token's refusals, and
    // the server's log the actual cause of each.
    let audit = std::fs::read_to_string(_keep.path().join("audit.ndjson")).unwrap();
    let refusals = audit
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["token"] == "force-incidents" && r["status"] == 403)
        .count();
    assert_eq!(refusals, 2, "{audit}");
    // The log is collected by a thread: give it a moment.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let log = loop {
        let log = s.log.lock().unwrap().join("\n");
        if log.matches("ingest refused").count() >= 2 || std::time::Instant::now() > deadline {
            break log;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    for (id, cause) in [
        (SECRET_ID, "existing-record-hidden"),
        ("fresh-id-1", "new-owner-not-writable"),
    ] {
        assert!(
            log.lines().any(|l| l.contains("ingest refused")
                && l.contains("force-incidents")
                && l.contains(id)
                && l.contains(cause)),
            "{id} {cause}:\n{log}"
        );
    }
}

#[test]
fn only_the_owning_component_writes_and_partners_write_nothing() {
    let Setup {
        server: s,
        store,
        _dir: _keep,
    } = setup();
    // JMAC belongs to the mission component only.
    let r = post(
        &s,
        JMAC_INC,
        &incident("j-1", "military", "mission", "mission"),
    );
    let p = r.problem(403, None);
    assert!(
        p["detail"].as_str().unwrap().contains("owned by mission"),
        "{p}"
    );
    assert!(row(&store, "j-1").is_none());
    let r = post(
        &s,
        JMAC_INC,
        &incident("j-2", "mission", "mission", "mission"),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    // A partner token owns nothing, whatever its ingest list says.
    for owner in ["hr", "military", "mission"] {
        let r = post(
            &s,
            PARTNER_INC,
            &incident("p-1", owner, "public", "partners"),
        );
        let p = r.problem(403, None);
        assert!(
            p["detail"].as_str().unwrap().contains("owns none"),
            "{owner}: {p}"
        );
    }
    assert!(row(&store, "p-1").is_none());
    // Military may write its own and mission records, and replace them.
    let mine = incident("m-1", "military", "restricted", "mission");
    assert_eq!(post(&s, MIL_INC, &mine).status, 201);
    let mut changed = mine.clone();
    changed["properties"]["category"] = json!("killing");
    assert_eq!(post(&s, MIL_INC, &changed).status, 201);
    let h = history(&store, "m-1");
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].replaced_by, "force-incidents");
}

/// The hr token replaces its own record: stored, and the previous version is
/// kept in the history with the token's name. The reply to a creation and to
/// a replacement are the same: no created/updated split.
#[test]
fn a_replacement_keeps_the_previous_version_and_replies_like_a_creation() {
    let Setup {
        server: s,
        store,
        _dir: _keep,
    } = setup();
    let previous = s.json(&format!("/collections/incidents/items/{SECRET_ID}"), HR);
    let mut changed = incident(SECRET_ID, "hr", "strictly-confidential", "hr-only");
    changed["properties"]["narrative"] = json!("Corrected after a second interview.");
    let replaced = post(&s, HR, &changed);
    assert_eq!(replaced.status, 201, "{}", replaced.text());
    let created = post(&s, HR, &incident("new-1", "hr", "restricted", "hr-only"));
    assert_eq!(created.status, 201, "{}", created.text());
    let want = json!({"layer": "incidents", "read": 1, "accepted": 1});
    assert_eq!(replaced.json(), want);
    assert_eq!(created.json(), want);

    let now = s.json(&format!("/collections/incidents/items/{SECRET_ID}"), HR);
    assert_eq!(
        now["properties"]["narrative"],
        "Corrected after a second interview."
    );
    let h = history(&store, SECRET_ID);
    assert_eq!(h.len(), 1, "{h:?}");
    assert_eq!(h[0].replaced_by, "hr-desk");
    let old: Value = serde_json::from_str(&h[0].feature).unwrap();
    assert_eq!(old["properties"], previous["properties"]);
    assert_eq!(old["geometry"], previous["geometry"]);
    assert!(history(&store, "new-1").is_empty());
    // The same version again is no new version.
    assert_eq!(post(&s, HR, &changed).status, 201);
    assert_eq!(history(&store, SECRET_ID).len(), 1);
}

/// One allowed and one refused feature: nothing is stored, and the error
/// names the refused feature's index and id.
#[test]
fn a_batch_with_one_refused_feature_stores_nothing() {
    let Setup {
        server: s,
        store,
        _dir: _keep,
    } = setup();
    let before = row(&store, SECRET_ID);
    let fc = json!({"type": "FeatureCollection", "features": [
        incident("allowed-1", "military", "restricted", "mission"),
        incident(SECRET_ID, "military", "restricted", "mission"),
    ]});
    let p = post(&s, MIL_INC, &fc).problem(403, None);
    assert_eq!(
        (p["index"].as_u64(), p["id"].as_str()),
        (Some(1), Some(SECRET_ID))
    );
    let detail = p["detail"].as_str().unwrap();
    assert!(
        detail.contains("feature #1") && detail.contains("nothing was stored"),
        "{detail}"
    );
    assert!(row(&store, "allowed-1").is_none(), "the allowed one too");
    assert_eq!(row(&store, SECRET_ID), before);
}
