use super::*;
use crate::request::{blindspots, clusters, coverage, hotspots, impact};

/// Parses `argv` as request `A`'s flags.
fn args<A: clap::Args + clap::FromArgMatches>(argv: &[&str]) -> A {
    let m = command::<A>().try_get_matches_from(argv).unwrap();
    A::from_arg_matches(&m).unwrap()
}

/// Every recorded name is a flag of the request and every flag is
/// recorded (a parameter added without a record, or recorded under
/// another name, fails here).
fn names_match<A: clap::Args + clap::FromArgMatches + serde::Serialize>() {
    let req: A = args(&[]);
    let rec = record(&req).unwrap();
    let cmd = command::<A>();
    let mut flags: Vec<&str> = cmd.get_arguments().filter_map(|a| a.get_long()).collect();
    flags.sort_unstable();
    let mut names: Vec<&str> = rec.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(names, flags);
}

#[test]
fn records_name_every_parameter() {
    names_match::<hotspots::HotspotRequest>();
    names_match::<clusters::ClusterRequest>();
    names_match::<coverage::CoverageRequest>();
    names_match::<blindspots::BlindspotRequest>();
    names_match::<impact::ImpactRequest>();
}

/// Record, parse back, record again: the same record, for requests
/// with every kind of value (flags, lists, times with milliseconds,
/// negative numbers, value enums, an area file).
#[test]
fn records_read_back_as_the_same_request() {
    let dir = tempfile::TempDir::new().unwrap();
    let area = dir.path().join("in.geojson");
    std::fs::write(
        &area,
        r#"{"type":"Polygon","coordinates":[[[17.1,4.2],[19.000000000000004,4.2],[18.5,6.3],[17.1,4.2]]]}"#,
    )
    .unwrap();
    let area_arg = format!("--area={}", area.display());
    let back = dir.path().join("back.geojson");
    fn round<A: clap::Args + clap::FromArgMatches + serde::Serialize>(
        argv: &[&str],
        back: &Path,
    ) -> Map<String, Value> {
        let rec = record(&args::<A>(argv)).unwrap();
        let again: A = parse(&rec, back).unwrap();
        assert_eq!(record(&again).unwrap(), rec, "{argv:?}");
        rec
    }
    let rec = round::<hotspots::HotspotRequest>(
        &[
            "--layer=sightings",
            "--from=2024-01-02T03:04:05.678Z",
            "--to=2024-02-01",
            "--bbox=-1.5,-2,3.25,4",
            "--category=attack,recruitment",
            "--perpetrator=Group A,state-forces",
            "--weight=field:strength",
            "--grid=h3",
            "--kernel=gaussian",
            "--bandwidth-km=0.1",
            "--knn=6",
            "--transform=row",
            "--no-fdr",
            "--seed=18446744073709551615",
            "--all-cells",
            &area_arg,
        ],
        &back,
    );
    assert_eq!(rec["to"], "2024-02-01T23:59:59.999Z");
    assert_eq!(rec["area"]["type"], "MultiPolygon");
    assert_eq!(rec["area"]["coordinates"][0][0][1][0], 19.000000000000004);
    round::<clusters::ClusterRequest>(&["--method=st-dbscan", "--eps-days=0.5", "--points"], &back);
    round::<coverage::CoverageRequest>(&["--from=2024-01-01", "--corridor-foot-km=0"], &back);
    round::<blindspots::BlindspotRequest>(
        &[
            "--likelihood-breaks=0.5,1,2,3",
            "--min-risk=extreme",
            "--cells",
        ],
        &back,
    );
    round::<impact::ImpactRequest>(&["--window-days=7", "--min-precision=settlement"], &back);
}

#[test]
fn bad_records_name_the_parameter() {
    let back = Path::new("/nonexistent/area.geojson");
    for (rec, name) in [
        (serde_json::json!({"colour": "red"}), "colour"),
        (serde_json::json!({"cell-km": "abc"}), "cell-km"),
        (serde_json::json!({"no-fdr": "yes"}), "no-fdr"),
        (serde_json::json!({"kernel": true}), "kernel"),
        (serde_json::json!({"bbox": [{"a": 1}]}), "bbox"),
    ] {
        let Value::Object(m) = rec else {
            unreachable!()
        };
        let e = parse::<hotspots::HotspotRequest>(&m, back).unwrap_err();
        let text = e.to_string();
        assert!(text.contains(&format!("{name:?}")), "{text}");
    }
}
