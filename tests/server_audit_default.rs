//! The audit log is on by default, beside the store, and the server says
//! where at start; its log has no colour codes when stderr is not a terminal.

mod server_common;

use server_common::*;
use tempfile::TempDir;

#[test]
fn audit_log_is_on_by_default_beside_the_store() {
    let dir = TempDir::new().unwrap();
    let store = dir.path().join("mission.gpkg");
    cli(&store, &["demo", "--incidents", "50"]);
    let cfg = dir.path().join("jointmap.toml");
    let text = format!(
        "listen = \"127.0.0.1:0\"\nstore = {:?}\n{}",
        store.display().to_string(),
        token_toml("hr-desk", "hr", HR, &[])
    );
    std::fs::write(&cfg, text).unwrap();
    let mut s = Server::start(&cfg);
    assert_eq!(s.get("/collections", None).status, 401);
    assert_eq!(s.get("/collections", Some(HR)).status, 200);
    s.stop();
    let audit = dir.path().join("mission.audit.jsonl");
    let log = s.log.lock().unwrap().clone();
    assert!(
        log.iter()
            .any(|l| l.contains(&format!("audit log: {}", audit.display()))),
        "{log:?}"
    );
    let lines = std::fs::read_to_string(&audit).unwrap();
    assert!(lines.lines().count() >= 2, "{lines}");
    assert!(lines.contains("\"token\":\"hr-desk\""), "{lines}");
    // JOINTMAP_LOG=info: request lines were logged, without ANSI escapes.
    assert!(log.iter().any(|l| l.contains("401")), "{log:?}");
    assert!(!log.iter().any(|l| l.contains('\u{1b}')), "{log:?}");

    // Turned off with an empty path: said so, and nothing is written.
    std::fs::remove_file(&audit).unwrap();
    let mut s = Server::start_with(&cfg, &[("JOINTMAP_AUDIT_LOG", "")]);
    assert_eq!(s.get("/collections", Some(HR)).status, 200);
    s.stop();
    let log = s.log.lock().unwrap().clone();
    assert!(log.iter().any(|l| l.contains("audit log off")), "{log:?}");
    assert!(!audit.exists());
}
