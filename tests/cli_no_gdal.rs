//! A build without the `gdal` feature (the default): inputs only GDAL reads,
//! inputs in another CRS than WGS 84, and Shapefile or KML exports get a
//! clear error saying the build lacks GDAL support, never a guess; the store
//! is left byte for byte unchanged.
#![cfg(not(feature = "gdal"))]

mod common;

use common::{incident, run, stderr, write_fc};
use tempfile::TempDir;

#[test]
fn gdal_inputs_and_outputs_are_refused_naming_the_missing_support() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let store = d.join("s.gpkg");
    let seed = write_fc(d, "seed.geojson", &[incident(1)]);
    let o = run(&store, &["ingest", "incidents", seed.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let before = std::fs::read(&store).unwrap();
    // Files only GDAL reads, by extension or by --format.
    for name in ["a.shp", "b.kml", "c.kmz", "d.gpkg"] {
        let p = d.join(name);
        std::fs::write(&p, b"whatever").unwrap();
        let o = run(&store, &["ingest", "incidents", p.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{name}: {}", stderr(&o));
        let e = stderr(&o);
        assert!(e.contains(name) && e.contains("lacks GDAL support"), "{e}");
    }
    let o = run(
        &store,
        &[
            "ingest",
            "incidents",
            seed.to_str().unwrap(),
            "--format",
            "gdal",
        ],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("lacks GDAL support"), "{}", stderr(&o));
    // A GeoJSON in UTM, and a GeoJSON beside a .prj that is not WGS 84.
    let utm = d.join("utm.geojson");
    std::fs::write(
        &utm,
        r#"{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"EPSG:32634"}},"features":[]}"#,
    )
    .unwrap();
    let o = run(&store, &["ingest", "incidents", utm.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("EPSG:32634") && stderr(&o).contains("lacks GDAL support"),
        "{}",
        stderr(&o)
    );
    let other = write_fc(d, "beside.geojson", &[incident(2)]);
    std::fs::write(
        d.join("beside.prj"),
        r#"PROJCS["WGS_1984_UTM_Zone_34N",GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]]],PROJECTION["Transverse_Mercator"]]"#,
    )
    .unwrap();
    let o = run(&store, &["ingest", "incidents", other.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("beside.prj") && stderr(&o).contains("lacks GDAL support"),
        "{}",
        stderr(&o)
    );
    assert_eq!(std::fs::read(&store).unwrap(), before);
    // Exports: refused, no file written.
    let demo = d.join("demo.gpkg");
    let o = run(&demo, &["demo", "--incidents", "500"]);
    assert!(o.status.success(), "{}", stderr(&o));
    for (args, out) in [
        (vec!["export", "incidents", "--format", "shp"], "x.shp"),
        (vec!["export", "incidents", "--format", "kml"], "x.kml"),
        (vec!["hotspots", "--format", "shp"], "h.shp"),
        (vec!["hotspots", "--format", "kml"], "h.kml"),
    ] {
        let path = d.join(out);
        let o = run(
            &demo,
            &[&args[..], &["-o", path.to_str().unwrap()]].concat(),
        );
        assert!(!o.status.success(), "{args:?}");
        assert!(
            stderr(&o).contains("lacks GDAL support"),
            "{args:?}: {}",
            stderr(&o)
        );
        assert!(!path.exists(), "{args:?}");
    }
}
