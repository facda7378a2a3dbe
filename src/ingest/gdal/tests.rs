use super::*;
use crate::model::Layer;
use gdal::vector::LayerOptions;
use gdal::DriverManager;

fn read(path: &Path, opts: &IngestOptions) -> Result<Vec<RawFeature>, String> {
    let mut out = Vec::new();
    read_features(path, opts, &mut |f| {
        out.push(f);
        Ok(())
    })?;
    Ok(out)
}

fn value(f: &RawFeature) -> Value {
    serde_json::from_str(&f.text).expect("JSON")
}

#[test]
fn gdal_times_become_rfc3339() {
    for (gdal, want) in [
        ("2024/03/01 06:00:00+00", "2024-03-01T06:00:00Z"),
        ("2024/03/01 06:00:00.5+00", "2024-03-01T06:00:00.5Z"),
        ("2024/03/01 06:00:00+01", "2024-03-01T06:00:00+01:00"),
        ("2024/03/01 06:00:00-0530", "2024-03-01T06:00:00-05:30"),
        // No zone: none is made up.
        ("2024/03/01 06:00:00", "2024-03-01T06:00:00"),
        ("2024/03/01", "2024-03-01"),
        ("06:00:00", "06:00:00"),
        ("2024/03/01 06:00:00+€", "2024-03-01T06:00:00+€"),
    ] {
        assert_eq!(rfc3339(gdal), want, "{gdal}");
    }
}

/// A GeoJSON file in UTM 34N (its `crs` member) comes in as WGS 84
/// longitude/latitude within a millimetre of the known positions, fields
/// typed, each record named by layer and FID.
#[test]
fn utm_geojson_is_reprojected() {
    let dir = tempfile::TempDir::new().expect("temp dir");
    let path = dir.path().join("utm.geojson");
    // Projected by jointmap's own Krüger series (model/crs.rs), not GDAL.
    let utm = crate::model::crs::Crs::Utm {
        zone: 34,
        north: true,
    };
    let points = [(21.0, 4.5), (20.5, 5.25), (18.25, 7.1)];
    let features: Vec<Value> = points
        .iter()
        .enumerate()
        .map(|(i, (lon, lat))| {
            let [x, y] = utm.forward(*lon, *lat);
            serde_json::json!({"type": "Feature",
                "geometry": {"type": "Point", "coordinates": [x, y]},
                "properties": {"id": format!("u{i}"), "killed_men": "2", "note": ""}})
        })
        .collect();
    let fc = serde_json::json!({"type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32634"}},
        "features": features});
    std::fs::write(&path, fc.to_string()).expect("write");
    let got = read(&path, &IngestOptions::new(Layer::Incidents)).expect("read");
    assert_eq!(got.len(), 3);
    for (f, (lon, lat)) in got.iter().zip(points) {
        let v = value(f);
        let c = &v["geometry"]["coordinates"];
        let (x, y) = (c[0].as_f64().expect("x"), c[1].as_f64().expect("y"));
        // 1e-8 degrees is about a millimetre.
        assert!((x - lon).abs() < 1e-8 && (y - lat).abs() < 1e-8, "{v}");
        // A text field of an integer column is an integer; an empty one absent.
        assert_eq!(v["properties"]["killed_men"], 2, "{v}");
        assert!(v["properties"].get("note").is_none(), "{v}");
        assert!(
            f.origin.as_deref().is_some_and(|o| o.contains("FID")),
            "{f:?}"
        );
    }
}

fn shapefile(dir: &Path, name: &str, srs: Option<u32>) -> std::path::PathBuf {
    let path = dir.join(name);
    let driver = DriverManager::get_driver_by_name("ESRI Shapefile").expect("driver");
    let mut ds = driver.create_vector_only(&path).expect("create");
    let srs = srs.map(|c| SpatialRef::from_epsg(c).expect("srs"));
    let mut layer = ds
        .create_layer(LayerOptions {
            name: "pts",
            srs: srs.as_ref(),
            ty: gdal::vector::OGRwkbGeometryType::wkbPoint,
            options: None,
        })
        .expect("layer");
    layer
        .create_defn_fields(&[("id", OGRFieldType::OFTString)])
        .expect("fields");
    let [x, y] = crate::model::crs::Crs::Utm {
        zone: 34,
        north: true,
    }
    .forward(21.0, 4.5);
    let g = Geometry::from_wkt(&format!("POINT ({x} {y})")).expect("wkt");
    layer.create_feature(g).expect("feature");
    drop(ds);
    path
}

/// A Shapefile without a CRS is refused (no guess); one without its .dbf
/// or .shx is refused naming the missing part; a .prj beside it is its CRS.
#[test]
fn shapefile_parts_and_crs() {
    let dir = tempfile::TempDir::new().expect("temp dir");
    let opts = IngestOptions::new(Layer::Incidents);
    let bare = shapefile(dir.path(), "bare.shp", None);
    let e = read(&bare, &opts).expect_err("no CRS");
    assert!(
        e.contains("declares no CRS") && e.contains("layer \"bare\""),
        "{e}"
    );
    let utm = shapefile(dir.path(), "utm.shp", Some(32634));
    let got = read(&utm, &opts).expect("read");
    let v = value(&got[0]);
    let c = &v["geometry"]["coordinates"];
    assert!((c[0].as_f64().expect("x") - 21.0).abs() < 1e-8, "{v}");
    assert!((c[1].as_f64().expect("y") - 4.5).abs() < 1e-8, "{v}");
    // The .prj made for the other, beside the bare one: now it reads.
    std::fs::copy(dir.path().join("utm.prj"), dir.path().join("bare.prj")).expect("copy");
    assert_eq!(read(&bare, &opts).expect("read").len(), 1);
    for part in ["dbf", "shx"] {
        let moved = dir.path().join(format!("utm.{part}.away"));
        std::fs::rename(dir.path().join(format!("utm.{part}")), &moved).expect("move");
        let e = read(&utm, &opts).expect_err("a part missing");
        assert!(e.contains(&format!("no .{part} file")), "{e}");
        std::fs::rename(&moved, dir.path().join(format!("utm.{part}"))).expect("back");
    }
}

/// A GeoPackage with several layers holding records needs --source-layer;
/// with it, only that layer is read; an unknown name lists the layers.
#[test]
fn several_layers_need_one_named() {
    let dir = tempfile::TempDir::new().expect("temp dir");
    let path = dir.path().join("two.gpkg");
    let driver = DriverManager::get_driver_by_name("GPKG").expect("driver");
    let mut ds = driver.create_vector_only(&path).expect("create");
    let srs = wgs84().expect("srs");
    for (name, n) in [("a", 2), ("b", 3)] {
        let mut layer = ds
            .create_layer(LayerOptions {
                name,
                srs: Some(&srs),
                ty: gdal::vector::OGRwkbGeometryType::wkbPoint,
                options: None,
            })
            .expect("layer");
        for i in 0..n {
            let g = Geometry::from_wkt(&format!("POINT (18.{i} 4.4)")).expect("wkt");
            layer.create_feature(g).expect("feature");
        }
    }
    drop(ds);
    let mut opts = IngestOptions::new(Layer::Incidents);
    let e = read(&path, &opts).expect_err("which layer?");
    assert!(
        e.contains("--source-layer") && e.contains("\"b\" (3 records)"),
        "{e}"
    );
    opts.source_layer = Some("b".into());
    let got = read(&path, &opts).expect("read");
    assert_eq!(got.len(), 3);
    assert_eq!(got[2].origin.as_deref(), Some("layer \"b\" FID 3"));
    opts.source_layer = Some("c".into());
    let e = read(&path, &opts).expect_err("no such layer");
    assert!(e.contains("no layer \"c\""), "{e}");
}

/// A file GDAL cannot open is refused with GDAL's reason.
#[test]
fn not_vector_data() {
    let dir = tempfile::TempDir::new().expect("temp dir");
    let path = dir.path().join("x.gpkg");
    std::fs::write(&path, b"not a geopackage at all").expect("write");
    let e = read(&path, &IngestOptions::new(Layer::Incidents)).expect_err("refused");
    assert!(e.contains("GDAL cannot read it"), "{e}");
}
