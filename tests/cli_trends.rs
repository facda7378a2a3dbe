//! `jointmap trends` on the demo mission: a product with cells, the
//! per-step series and its record, as the operator and as a partner, and
//! `jointmap rerun` giving each back byte for byte.

mod common;

use common::*;
use serde_json::Value;
use tempfile::TempDir;

#[test]
fn trends_on_the_demo_and_rerun_byte_for_byte() {
    let dir = TempDir::new().unwrap();
    let store = dir.path().join("demo.gpkg");
    let o = run(&store, &["demo", "--incidents", "3000"]);
    assert!(o.status.success(), "{}", stderr(&o));
    for (name, extra) in [
        ("operator", vec!["--cell-km", "10", "--band-km", "20"]),
        ("partner", vec!["--as-role", "partner", "--all-cells"]),
        (
            "weekly",
            vec![
                "--step-days",
                "7",
                "--window-steps",
                "2",
                "--steps",
                "30",
                "--all-cells",
            ],
        ),
    ] {
        let out = dir.path().join(format!("{name}.geojson"));
        let mut args = vec!["trends", "-o", out.to_str().unwrap()];
        args.extend(extra.iter().copied());
        let o = run(&store, &args);
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        let v: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
        let meta = &v["jointmap"];
        assert_eq!(meta["analysis"], "trends", "{name}");
        assert!(meta["request"].is_object(), "{name}");
        let features = v["features"].as_array().unwrap();
        assert!(!features.is_empty(), "{name}: no cell in {meta}");
        let steps = meta["steps"].as_u64().unwrap() as usize;
        if name != "partner" {
            assert_eq!(
                meta["series"].as_array().unwrap().len(),
                features.len() * steps
            );
        }
        for f in features {
            let p = &f["properties"];
            assert!(
                p["pattern"].is_string() && p["value_mk_s"].is_number(),
                "{p}"
            );
        }
        if name == "partner" {
            assert_eq!(meta["gate"]["role"], "partner");
            // Whole protection steps (91 days by default).
            assert_eq!(meta["step_days"].as_f64().unwrap() % 91.0, 0.0, "{meta}");
        }
        let again = dir.path().join(format!("{name}.again.geojson"));
        let o = run(
            &store,
            &[
                "rerun",
                out.to_str().unwrap(),
                "-o",
                again.to_str().unwrap(),
            ],
        );
        assert!(o.status.success(), "{name}: {}", stderr(&o));
        assert!(
            std::fs::read(&out).unwrap() == std::fs::read(&again).unwrap(),
            "{name}: the re-run differs"
        );
    }
}
