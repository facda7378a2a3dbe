//! The `gdal` feature as a whole: Shapefile and KML written by `jointmap
//! export` read by GDAL's own tools as the GeoJSON export, value by value,
//! and ingested back into the same store; a Shapefile in UTM lands at the
//! right WGS 84 positions; every malformed input of the class a clear error
//! naming the record, the store byte for byte unchanged; a partner's
//! Shapefile and KML hold no canary.
#![cfg(feature = "gdal")]

mod common;

use common::{canary_incidents, features_of, incident, others, run, stderr, write_fc};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use tempfile::TempDir;

fn ogr(args: &[&str]) -> std::process::Output {
    let o = Command::new(args[0])
        .args(&args[1..])
        .output()
        .expect("run a GDAL tool");
    assert!(
        o.status.success(),
        "{args:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// GDAL's GeoJSON of `file` (ogr2ogr), its features.
fn gdal_reads(file: &Path, dir: &Path) -> Vec<Value> {
    let back = dir.join("gdal-back.geojson");
    let _ = std::fs::remove_file(&back);
    ogr(&["ogr2ogr", "-f", "GeoJSON", s(&back), s(file)]);
    features_of(&std::fs::read(&back).unwrap())
}

/// The field names of the first layer of `file`, in order (ogrinfo).
fn gdal_fields(file: &Path) -> Vec<String> {
    let o = ogr(&["ogrinfo", "-ro", "-so", "-al", s(file)]);
    let info = String::from_utf8_lossy(&o.stdout).into_owned();
    let mut out = Vec::new();
    let mut in_fields = false;
    for line in info.lines() {
        if line.starts_with("Data axis to CRS axis mapping") || line.starts_with("FID Column") {
            in_fields = true;
            continue;
        }
        if in_fields {
            if let Some((name, ty)) = line.split_once(": ") {
                if ty.contains('(') && !name.contains(' ') {
                    out.push(name.to_string());
                }
            }
        }
    }
    out
}

fn close(a: &Value, b: &Value, tol: f64, what: &str) {
    match (a, b) {
        (Value::Array(a), Value::Array(b)) => {
            assert_eq!(a.len(), b.len(), "{what}");
            a.iter().zip(b).for_each(|(a, b)| close(a, b, tol, what));
        }
        (Value::Number(a), Value::Number(b)) => {
            let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
            assert!((a - b).abs() <= tol, "{what}: {a} vs {b}");
        }
        _ => panic!("{what}: {a} against {b}"),
    }
}

/// GDAL's reading equals jointmap's GeoJSON export, value by value:
/// `names` maps each exported property to the field GDAL shows it under.
/// Times and JSON values come back as the text jointmap wrote.
fn assert_gdal_equal(got: &[Value], want: &[Value], names: &BTreeMap<String, String>, ctx: &str) {
    let by_id = |fs: &[Value]| -> BTreeMap<String, Value> {
        fs.iter()
            .map(|f| {
                let id = f["properties"]["id"]
                    .as_str()
                    .or(f["id"].as_str())
                    .expect("an id")
                    .to_string();
                (id, f.clone())
            })
            .collect()
    };
    let (got, want) = (by_id(got), by_id(want));
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "{ctx}"
    );
    for (id, w) in &want {
        let g = &got[id];
        let what = format!("{ctx} {id}");
        // Polygons may come back as their multi form (Shapefile's rings).
        let (gt, wt) = (
            g["geometry"]["type"].as_str().unwrap(),
            w["geometry"]["type"].as_str().unwrap(),
        );
        if gt == wt && gt.ends_with("Polygon") {
            // Shapefile keeps exterior rings clockwise: each ring as it was
            // or reversed.
            let (gc, wc) = (&g["geometry"]["coordinates"], &w["geometry"]["coordinates"]);
            let rings = |c: &Value| -> Vec<Value> {
                if gt == "Polygon" {
                    c.as_array().unwrap().clone()
                } else {
                    c.as_array()
                        .unwrap()
                        .iter()
                        .flat_map(|p| p.as_array().unwrap().clone())
                        .collect()
                }
            };
            let (gr, wr) = (rings(gc), rings(wc));
            assert_eq!(gr.len(), wr.len(), "{what}");
            for (a, b) in gr.iter().zip(&wr) {
                let mut rev = b.as_array().unwrap().clone();
                rev.reverse();
                if a != b {
                    close(a, &Value::Array(rev), 1e-12, &what);
                }
            }
        } else if gt == wt {
            close(
                &g["geometry"]["coordinates"],
                &w["geometry"]["coordinates"],
                1e-12,
                &what,
            );
        } else {
            assert_eq!((gt, wt), ("MultiLineString", "LineString"), "{what}");
            close(
                &g["geometry"]["coordinates"],
                &json!([w["geometry"]["coordinates"]]),
                1e-12,
                &what,
            );
        }
        let props = w["properties"].as_object().unwrap();
        for (k, v) in props {
            let field = names.get(k).unwrap_or(k);
            let gv = &g["properties"][field.as_str()];
            match v {
                // JSON text (GDAL's GeoJSON writer may turn it back into JSON).
                Value::Array(_) | Value::Object(_) => {
                    let t: Value = match gv.as_str() {
                        Some(text) => serde_json::from_str(text).unwrap(),
                        None => gv.clone(),
                    };
                    assert_eq!(&t, v, "{what}.{k} ({field})");
                }
                Value::Number(n) if n.is_f64() => {
                    close(gv, v, 1e-12, &format!("{what}.{k}"));
                }
                _ => assert_eq!(gv, v, "{what}.{k} (as {field})"),
            }
        }
        // Nothing more than the export held, but nulls (and KML's own
        // presentation fields).
        for (k, gv) in g["properties"].as_object().unwrap() {
            let known = k == "id" || names.values().any(|n| n == k) || props.contains_key(k);
            assert!(
                known || gv.is_null() || KML_STYLE.contains(&k.as_str()),
                "{what}: {k} = {gv}"
            );
        }
    }
}

const KML_STYLE: &[&str] = &[
    "tessellate",
    "extrude",
    "visibility",
    "drawOrder",
    "altitudeMode",
];

/// Every layer's test features (no nested extras: CSV, Shapefile and KML
/// hold them as JSON text; extras named within 10 bytes).
fn layers() -> Vec<(&'static str, Vec<Value>)> {
    let incidents: Vec<Value> = (0..60)
        .map(|i| {
            let mut f = incident(i);
            let p = f["properties"].as_object_mut().unwrap();
            p.shift_remove("nested");
            let code = p.shift_remove("village_code").unwrap();
            p.insert("vcode".into(), code);
            p.insert(
                "note".into(),
                json!(format!("ligne {i}: «déplacés», \"quoted\", <b>&amp;</b>")),
            );
            f
        })
        .collect();
    let (mut sighting, patrol, base) = others();
    // An extra within 10 bytes (a mapping renames only the schema's fields).
    let p = sighting["properties"].as_object_mut().unwrap();
    let unit = p.shift_remove("reporter_unit").unwrap();
    p.insert("reporter".into(), unit);
    vec![
        ("incidents", incidents),
        ("sightings", vec![sighting]),
        ("patrols", vec![patrol]),
        ("bases", vec![base]),
    ]
}

fn export(store: &Path, layer: &str, format: &str, out: &Path) {
    let o = run(store, &["export", layer, "--format", format, "-o", s(out)]);
    assert!(o.status.success(), "{layer} {format}: {}", stderr(&o));
}

/// Shapefile: GDAL reads the export as the GeoJSON export (field names cut
/// to 10 bytes, in column order), and `jointmap ingest` reads it back, with
/// a mapping of those names, into the same features.
#[test]
fn shapefile_round_trips_every_layer() {
    let dir = TempDir::new().unwrap();
    let store = dir.path().join("a.gpkg");
    let again = dir.path().join("b.gpkg");
    for (layer, feats) in layers() {
        let file = write_fc(dir.path(), &format!("{layer}.geojson"), &feats);
        let o = run(&store, &["ingest", layer, s(&file)]);
        assert!(o.status.success(), "{layer}: {}", stderr(&o));
        let want = features_of(&run(&store, &["export", layer]).stdout);
        let shp = dir.path().join(format!("{layer}.shp"));
        export(&store, layer, "shp", &shp);
        for part in ["shx", "dbf", "prj", "cpg"] {
            assert!(shp.with_extension(part).exists(), "{layer}: .{part}");
        }
        // The columns in the order first seen: id, then the properties.
        let mut long = vec!["id".to_string()];
        for f in &want {
            for k in f["properties"].as_object().unwrap().keys() {
                if !long.contains(k) {
                    long.push(k.clone());
                }
            }
        }
        let short = gdal_fields(&shp);
        assert_eq!(short.len(), long.len(), "{layer}: {short:?} {long:?}");
        let mut seen = std::collections::HashSet::new();
        for (l, sh) in long.iter().zip(&short) {
            assert!(sh.len() <= 10, "{layer}: {sh}");
            assert!(seen.insert(sh.to_ascii_lowercase()), "{layer}: {sh} twice");
            if l.len() <= 10 {
                assert_eq!(l, sh, "{layer}");
            } else {
                // The cut, or its first bytes and a number.
                assert!(
                    sh == &l[..10]
                        || sh.contains('_') && l.starts_with(&sh[..sh.rfind('_').unwrap()]),
                    "{layer}: {l} -> {sh}"
                );
            }
        }
        let names: BTreeMap<String, String> =
            long.iter().cloned().zip(short.iter().cloned()).collect();
        assert_gdal_equal(&gdal_reads(&shp, dir.path()), &want, &names, layer);
        // Back in, through a mapping of the cut names.
        let mapping = dir.path().join(format!("{layer}.toml"));
        let mut toml = String::from("[rename]\n");
        for (l, sh) in &names {
            if l != sh {
                toml.push_str(&format!("{l} = {sh:?}\n"));
            }
        }
        std::fs::write(&mapping, toml).unwrap();
        let o = run(
            &again,
            &["ingest", layer, s(&shp), "--mapping", s(&mapping)],
        );
        assert!(o.status.success(), "{layer}: {}", stderr(&o));
        let got = features_of(&run(&again, &["export", layer]).stdout);
        assert_eq!(got.len(), feats.len(), "{layer}");
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(common::first_difference(g, w), None, "{layer}");
        }
    }
}

/// KML: GDAL reads the export as the GeoJSON export (`name` as the
/// placemark's name), and `jointmap ingest` reads it back, as it is and as
/// KMZ, into the same features.
#[test]
fn kml_round_trips_every_layer() {
    let dir = TempDir::new().unwrap();
    let store = dir.path().join("a.gpkg");
    for (layer, feats) in layers() {
        let file = write_fc(dir.path(), &format!("{layer}.geojson"), &feats);
        let o = run(&store, &["ingest", layer, s(&file)]);
        assert!(o.status.success(), "{layer}: {}", stderr(&o));
        let want = features_of(&run(&store, &["export", layer]).stdout);
        let kml = dir.path().join(format!("{layer}.kml"));
        export(&store, layer, "kml", &kml);
        let text = std::fs::read_to_string(&kml).unwrap();
        assert!(text.contains("<kml"), "{layer}");
        let names: BTreeMap<String, String> = [("name".to_string(), "Name".to_string())]
            .into_iter()
            .collect();
        assert_gdal_equal(&gdal_reads(&kml, dir.path()), &want, &names, layer);
        // The same file zipped as KMZ.
        let kmz = dir.path().join(format!("{layer}.kmz"));
        let zipped = Command::new("python3")
            .args([
                "-c",
                "import sys, zipfile; z = zipfile.ZipFile(sys.argv[2], 'w'); z.write(sys.argv[1], 'doc.kml'); z.close()",
                s(&kml),
                s(&kmz),
            ])
            .status()
            .unwrap();
        assert!(zipped.success());
        for (i, input) in [&kml, &kmz].into_iter().enumerate() {
            let again = dir.path().join(format!("{layer}-{i}.gpkg"));
            let o = run(&again, &["ingest", layer, s(input)]);
            assert!(o.status.success(), "{layer} {input:?}: {}", stderr(&o));
            let got = features_of(&run(&again, &["export", layer]).stdout);
            assert_eq!(got.len(), feats.len(), "{layer}");
            for (g, w) in got.iter().zip(&want) {
                assert_eq!(common::first_difference(g, w), None, "{layer} {input:?}");
            }
        }
    }
}

/// Haversine distance in metres.
fn metres(a: [f64; 2], b: [f64; 2]) -> f64 {
    let r = 6_371_008.8;
    let (la1, la2) = (a[1].to_radians(), b[1].to_radians());
    let dla = la2 - la1;
    let dlo = (b[0] - a[0]).to_radians();
    let h = (dla / 2.0).sin().powi(2) + la1.cos() * la2.cos() * (dlo / 2.0).sin().powi(2);
    2.0 * r * h.sqrt().asin()
}

/// A Shapefile made by ogr2ogr in UTM 34N from a GeoJSON of known points
/// lands at those WGS 84 positions within a metre (chosen by its extension,
/// reprojected through its .prj).
#[test]
fn a_utm_shapefile_lands_at_its_wgs84_positions() {
    let dir = TempDir::new().unwrap();
    let known: Vec<[f64; 2]> = (0..25)
        .map(|i| [16.0 + (i % 5) as f64 * 1.37, 3.0 + (i / 5) as f64 * 1.11])
        .collect();
    let feats: Vec<Value> = known
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let mut f = incident(i);
            f["geometry"]["coordinates"] = json!(p);
            let props = f["properties"].as_object_mut().unwrap();
            props.shift_remove("nested");
            props.shift_remove("village_code");
            f
        })
        .collect();
    let file = write_fc(dir.path(), "known.geojson", &feats);
    let shp = dir.path().join("utm.shp");
    ogr(&["ogr2ogr", "-t_srs", "EPSG:32634", s(&shp), s(&file)]);
    let prj = std::fs::read_to_string(shp.with_extension("prj")).unwrap();
    assert!(prj.contains("UTM") && prj.contains("34N"), "{prj}");
    // Really in metres.
    let o = ogr(&["ogrinfo", "-ro", "-so", "-al", s(&shp)]);
    let info = String::from_utf8_lossy(&o.stdout);
    assert!(info.contains("UTM zone 34N"), "{info}");
    let extent = info.lines().find(|l| l.starts_with("Extent: (")).unwrap();
    let y: f64 = extent
        .split(", ")
        .nth(1)
        .unwrap()
        .split(')')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(y > 100_000.0, "{extent}");
    let store = dir.path().join("s.gpkg");
    // ogr2ogr cut perpetrator_category & co: a mapping names them.
    let mapping = dir.path().join("m.toml");
    let mut toml = String::from("[rename]\n");
    let fields = gdal_fields(&shp);
    let long: Vec<String> = feats[0]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    // GDAL's GeoJSON reader makes the string ids a first field `id`.
    let cut: Vec<&String> = fields.iter().filter(|f| *f != "id").collect();
    assert_eq!(cut.len(), long.len(), "{fields:?}");
    for (l, sh) in long.iter().zip(cut) {
        if l != sh {
            toml.push_str(&format!("{l} = {sh:?}\n"));
        }
    }
    std::fs::write(&mapping, &toml).unwrap();
    let o = run(
        &store,
        &["ingest", "incidents", s(&shp), "--mapping", s(&mapping)],
    );
    assert!(o.status.success(), "{toml}\n{}", stderr(&o));
    let got = features_of(&run(&store, &["export", "incidents"]).stdout);
    assert_eq!(got.len(), known.len());
    for f in &got {
        let i: usize = f["id"].as_str().unwrap()["inc-".len()..].parse().unwrap();
        let c = &f["geometry"]["coordinates"];
        let p = [c[0].as_f64().unwrap(), c[1].as_f64().unwrap()];
        let d = metres(p, known[i]);
        assert!(d < 1.0, "inc-{i}: {p:?} is {d} m from {:?}", known[i]);
    }
}

/// Runs an ingest that must fail; the store's bytes are the same after it.
fn refused(store: &Path, args: &[&str]) -> String {
    let before = std::fs::read(store).unwrap();
    let o = run(store, args);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    assert_eq!(
        std::fs::read(store).unwrap(),
        before,
        "{args:?}: the store changed"
    );
    stderr(&o)
}

/// Every malformed input of the class: a clear error naming the file and
/// the record or part, nothing stored (the store byte for byte unchanged),
/// never a panic.
#[test]
fn malformed_inputs_are_refused_naming_the_record() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let store = d.join("s.gpkg");
    let (_, _, base) = others();
    let seed = write_fc(d, "seed.geojson", &[base]);
    let o = run(&store, &["ingest", "bases", s(&seed)]);
    assert!(o.status.success(), "{}", stderr(&o));
    // A good Shapefile of incidents, written by jointmap.
    let inc: Vec<Value> = layers().remove(0).1.into_iter().take(20).collect();
    let src = d.join("src.gpkg");
    let file = write_fc(d, "inc.geojson", &inc);
    assert!(run(&src, &["ingest", "incidents", s(&file)])
        .status
        .success());
    let shp = d.join("good.shp");
    export(&src, "incidents", "shp", &shp);
    let copy = |name: &str, skip: &[&str]| -> PathBuf {
        for part in ["shp", "shx", "dbf", "prj", "cpg"] {
            if !skip.contains(&part) {
                std::fs::copy(shp.with_extension(part), d.join(format!("{name}.{part}"))).unwrap();
            }
        }
        d.join(format!("{name}.shp"))
    };
    // Truncated .shp: the last records cut off mid-way.
    let cut = copy("cut", &[]);
    let bytes = std::fs::read(&cut).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() - 30]).unwrap();
    let e = refused(&store, &["ingest", "incidents", s(&cut)]);
    assert!(e.contains("cut.shp") && e.contains("layer \"cut\""), "{e}");
    assert!(e.contains("FID") || e.contains("after"), "{e}");
    // A .shp cut inside its header.
    let head = copy("head", &[]);
    std::fs::write(&head, &bytes[..60]).unwrap();
    let e = refused(&store, &["ingest", "incidents", s(&head)]);
    assert!(e.contains("head.shp"), "{e}");
    // Missing .dbf, missing .shx.
    for (name, part) in [("nodbf", "dbf"), ("noshx", "shx")] {
        let p = copy(name, &[part]);
        let e = refused(&store, &["ingest", "incidents", s(&p)]);
        assert!(
            e.contains(&format!("{name}.shp")) && e.contains(&format!("no .{part} file")),
            "{e}"
        );
    }
    // A truncated .dbf.
    let dbf = copy("shortdbf", &[]);
    let b = std::fs::read(dbf.with_extension("dbf")).unwrap();
    std::fs::write(dbf.with_extension("dbf"), &b[..b.len() / 2]).unwrap();
    let e = refused(&store, &["ingest", "incidents", s(&dbf)]);
    assert!(e.contains("shortdbf.shp"), "{e}");
    assert!(e.contains("FID") || e.contains("after"), "{e}");
    // A file that is no GeoPackage at all.
    let junk = d.join("junk.gpkg");
    std::fs::write(&junk, b"SQLite format 3\0 but nothing more").unwrap();
    let e = refused(&store, &["ingest", "incidents", s(&junk)]);
    assert!(e.contains("junk.gpkg") && e.contains("GDAL"), "{e}");
    // KML: a placemark without coordinates is refused by validation, named
    // by its layer and FID; the other placemark is not stored either.
    let kml = d.join("nocoords.kml");
    std::fs::write(
        &kml,
        r#"<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document><Folder><name>events</name>
<Placemark><name>ok</name><ExtendedData><Data name="id"><value>k1</value></Data>
<Data name="time_start"><value>2024-03-01T06:00:00Z</value></Data>
<Data name="owner"><value>hr</value></Data><Data name="classification"><value>restricted</value></Data>
<Data name="category"><value>looting-burning</value></Data></ExtendedData>
<Point><coordinates>18.5,4.4</coordinates></Point></Placemark>
<Placemark><name>nowhere</name><ExtendedData><Data name="id"><value>k2</value></Data>
<Data name="time_start"><value>2024-03-01T06:00:00Z</value></Data>
<Data name="owner"><value>hr</value></Data><Data name="classification"><value>restricted</value></Data>
<Data name="category"><value>looting-burning</value></Data></ExtendedData>
<Point><coordinates></coordinates></Point></Placemark>
</Folder></Document></kml>"#,
    )
    .unwrap();
    let e = refused(&store, &["ingest", "incidents", s(&kml)]);
    assert!(
        e.contains("nocoords.kml: feature #1 (layer \"events\" FID"),
        "{e}"
    );
    assert!(e.contains("\"k2\"") && e.contains("geometry"), "{e}");
    // The same KML cut in half, and an empty .shp with its parts.
    let text = std::fs::read(&kml).unwrap();
    let half = d.join("half.kml");
    std::fs::write(&half, &text[..text.len() / 2]).unwrap();
    let e = refused(&store, &["ingest", "incidents", s(&half)]);
    assert!(e.contains("half.kml") && e.contains("GDAL"), "{e}");
    let empty = copy("empty", &[]);
    std::fs::write(&empty, b"").unwrap();
    let e = refused(&store, &["ingest", "incidents", s(&empty)]);
    assert!(e.contains("empty.shp") && e.contains("GDAL"), "{e}");
    // GPX through GDAL: a time that is no time refuses the file, naming the
    // line.
    let gpx = d.join("broken.gpx");
    std::fs::write(
        &gpx,
        r#"<?xml version="1.0"?>
<gpx version="1.1" creator="test" xmlns="http://www.topografix.com/GPX/1/1">
<wpt lat="4.4" lon="18.5"><time>2024-03-01T06:00:00Z</time><name>a</name></wpt>
<wpt lat="4.5" lon="18.6"><time>2024-03-01 7h</time><name>b</name></wpt>
</gpx>"#,
    )
    .unwrap();
    let map = d.join("wpt.toml");
    std::fs::write(
        &map,
        "id = \"name\"\n[set]\nsite_type = \"village\"\nname = \"x\"\n",
    )
    .unwrap();
    let e = refused(
        &store,
        &[
            "ingest",
            "sites",
            s(&gpx),
            "--format",
            "gdal",
            "--mapping",
            s(&map),
        ],
    );
    // GDAL itself reads it as midnight of its date: jointmap's check names it.
    assert!(
        e.contains("broken.gpx: line 4: <time> of <wpt>") && e.contains("7h"),
        "{e}"
    );
    assert!(e.contains("7h"), "{e}");
    // The pure-Rust GPX reader refuses it too, naming element and line.
    let e = refused(&store, &["ingest", "sites", s(&gpx), "--mapping", s(&map)]);
    assert!(e.contains("line 4") && e.contains("7h"), "{e}");
    // CSV through GDAL and through jointmap's reader: a bad row is refused
    // naming the record; nothing stored.
    let csv = d.join("bad.csv");
    std::fs::write(
        &csv,
        "id,lon,lat,time_start,owner,classification,category\n\
         c1,18.5,4.4,2024-03-01T06:00:00Z,hr,restricted,looting-burning\n\
         c2,18.6,NA,2024-03-01T06:00:00Z,hr,restricted,looting-burning\n",
    )
    .unwrap();
    let e = refused(
        &store,
        &["ingest", "incidents", s(&csv), "--format", "gdal"],
    );
    assert!(e.contains("bad.csv: feature #1 (layer \"bad\" FID"), "{e}");
    assert!(e.contains("\"c2\""), "{e}");
    let e = refused(&store, &["ingest", "incidents", s(&csv)]);
    assert!(
        e.contains("bad.csv: feature #1") && e.contains("\"NA\""),
        "{e}"
    );
    // A GeoJSON whose CRS is not WGS 84: refused by the pure-Rust reader,
    // pointing at --format gdal.
    let utm = d.join("utm.geojson");
    std::fs::write(
        &utm,
        r#"{"type":"FeatureCollection","crs":{"type":"name","properties":{"name":"EPSG:32634"}},"features":[]}"#,
    )
    .unwrap();
    let e = refused(&store, &["ingest", "incidents", s(&utm)]);
    assert!(
        e.contains("EPSG:32634") && e.contains("--format gdal"),
        "{e}"
    );
    assert_eq!(common::count(&store, "incidents"), 0);
    assert_eq!(common::count(&store, "bases"), 1);
    // With --skip-invalid, the KML's valid placemark is stored and the
    // other is in the rejects file, named by its layer and FID.
    let rejects = d.join("rejects.ndjson");
    let o = run(
        &store,
        &[
            "ingest",
            "incidents",
            s(&kml),
            "--skip-invalid",
            "--rejects",
            s(&rejects),
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(common::count(&store, "incidents"), 1);
    let line: Value =
        serde_json::from_str(std::fs::read_to_string(&rejects).unwrap().trim()).unwrap();
    assert_eq!(line["index"], 1, "{line}");
    assert_eq!(line["record"], "layer \"events\" FID 2", "{line}");
    assert_eq!(line["id"], "k2", "{line}");
}

/// What a Shapefile cannot hold refuses the export, naming the feature, and
/// leaves no file: a text over dBASE's 254 bytes, points and polygons in
/// one layer.
#[test]
fn what_a_shapefile_cannot_hold_is_refused() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let store = d.join("s.gpkg");
    let mut long = incident(7);
    long["properties"]["narrative"] = json!("x".repeat(255));
    let file = write_fc(d, "i.geojson", &[incident(1), long]);
    assert!(run(&store, &["ingest", "incidents", s(&file)])
        .status
        .success());
    let (_, _, polygon) = others();
    let mut point = polygon.clone();
    point["id"] = json!("base-2");
    point["geometry"] = json!({"type": "Point", "coordinates": [18.5, 4.4]});
    let file = write_fc(d, "b.geojson", &[polygon, point]);
    assert!(run(&store, &["ingest", "bases", s(&file)]).status.success());
    for (layer, want) in [
        (
            "incidents",
            "feature \"inc-7\": property \"narrative\" holds 255 bytes",
        ),
        ("bases", "this export has points and polygons"),
    ] {
        let out = d.join(format!("{layer}.shp"));
        let o = run(&store, &["export", layer, "--format", "shp", "-o", s(&out)]);
        assert!(!o.status.success(), "{layer}");
        assert!(stderr(&o).contains(want), "{layer}: {}", stderr(&o));
        let left: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| {
                n.starts_with(layer) && !n.ends_with(".geojson") || n.starts_with(".jointmap")
            })
            .collect();
        assert!(left.is_empty(), "{layer}: {left:?}");
        // KML holds both whole.
        let kml = d.join(format!("{layer}.kml"));
        export(&store, layer, "kml", &kml);
        assert_eq!(gdal_reads(&kml, d).len(), 2, "{layer}");
    }
}

/// Every file of an export (a Shapefile's parts), its bytes.
fn files_of(out: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let stem = out.file_stem().unwrap().to_string_lossy().into_owned();
    let mut v: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(out.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_stem().is_some_and(|s| s.to_string_lossy() == stem))
        .map(|p| {
            let b = std::fs::read(&p).unwrap();
            (p, b)
        })
        .collect();
    v.sort();
    v
}

fn has_canary(b: &[u8]) -> bool {
    b.windows(6).any(|w| w == b"CANARY")
}

/// A partner's Shapefile and KML, of the layer and of a product, hold no
/// byte of a canary and are what GDAL reads as the partner's GeoJSON
/// export; the operator's hold the canaries (they are really there).
#[test]
fn a_partners_shapefile_and_kml_hold_no_canary() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let store = d.join("s.gpkg");
    let o = run(&store, &["demo", "--incidents", "2000"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let file = write_fc(d, "i.geojson", &canary_incidents());
    let o = run(&store, &["ingest", "incidents", s(&file)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let role = ["--as-role", "partner"];
    let partner = features_of(&run(&store, &[&["export", "incidents"][..], &role].concat()).stdout);
    assert!(partner.len() >= 30, "{}", partner.len());
    for format in ["shp", "kml"] {
        let sub = d.join(format!("p-{format}"));
        std::fs::create_dir(&sub).unwrap();
        let out = sub.join(format!("incidents.{format}"));
        let o = run(
            &store,
            &[
                &["export", "incidents"][..],
                &role,
                &["--format", format, "-o", s(&out)],
            ]
            .concat(),
        );
        assert!(o.status.success(), "{format}: {}", stderr(&o));
        let files = files_of(&out);
        assert!(!files.is_empty());
        for (p, b) in &files {
            assert!(!has_canary(b), "{format}: a canary in the partner's {p:?}");
        }
        // Nothing else beside it (no temporary left).
        assert_eq!(
            std::fs::read_dir(&sub).unwrap().count(),
            files.len(),
            "{format}"
        );
        let got = gdal_reads(&out, d);
        assert_eq!(got.len(), partner.len(), "{format}");
        // The operator's export of the same holds them.
        let all = sub.join(format!("all.{format}"));
        export(&store, "incidents", format, &all);
        assert!(
            files_of(&all).iter().any(|(_, b)| has_canary(b)),
            "{format}"
        );
        // A product as the partner receives it: no canary either, GDAL
        // reads its features.
        let product = sub.join(format!("hotspots.{format}"));
        let args = ["hotspots", "--cell-km", "10"];
        let o = run(
            &store,
            &[&args[..], &role, &["--format", format, "-o", s(&product)]].concat(),
        );
        assert!(o.status.success(), "{format}: {}", stderr(&o));
        for (p, b) in files_of(&product) {
            assert!(!has_canary(&b), "{format}: a canary in {p:?}");
        }
        let want = features_of(&run(&store, &[&args[..], &role].concat()).stdout);
        assert_eq!(gdal_reads(&product, d).len(), want.len(), "{format}");
    }
}

/// Every product as Shapefile and KML: GDAL reads the GeoJSON product's
/// features, value by value.
#[test]
fn products_as_shapefile_and_kml() {
    let dir = TempDir::new().unwrap();
    let d = dir.path();
    let store = d.join("s.gpkg");
    let o = run(&store, &["demo", "--incidents", "2000"]);
    assert!(o.status.success(), "{}", stderr(&o));
    for args in [
        vec!["hotspots", "--cell-km", "10"],
        vec!["clusters"],
        vec!["coverage"],
        vec!["blindspots"],
    ] {
        let want = features_of(&run(&store, &args).stdout);
        for format in ["shp", "kml"] {
            let out = d.join(format!("{}.{format}", args[0]));
            let o = run(
                &store,
                &[&args[..], &["--format", format, "-o", s(&out)]].concat(),
            );
            assert!(o.status.success(), "{args:?} {format}: {}", stderr(&o));
            let got = gdal_reads(&out, d);
            assert_eq!(got.len(), want.len(), "{args:?} {format}");
            let names: BTreeMap<String, String> = if format == "shp" {
                let mut long = vec!["id".to_string()];
                for f in &want {
                    for k in f["properties"].as_object().unwrap().keys() {
                        if !long.contains(k) {
                            long.push(k.clone());
                        }
                    }
                }
                long.into_iter().zip(gdal_fields(&out)).collect()
            } else {
                [("name".to_string(), "Name".to_string())]
                    .into_iter()
                    .collect()
            };
            // In order: products have no ids to match by.
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                for (k, v) in w["properties"].as_object().unwrap() {
                    let gv = &g["properties"][names.get(k).unwrap_or(k).as_str()];
                    let what = format!("{args:?} {format} #{i}.{k}");
                    match v {
                        Value::Null => assert!(gv.is_null(), "{what}: {gv}"),
                        // A real column's whole values come back as reals.
                        Value::Number(_) => {
                            close(gv, v, 1e-9 * v.as_f64().unwrap().abs().max(1.0), &what)
                        }
                        Value::Bool(b) => assert_eq!(gv, &json!(i64::from(*b)), "{what}"),
                        Value::Array(_) | Value::Object(_) => {
                            let t: Value = serde_json::from_str(gv.as_str().unwrap()).unwrap();
                            assert_eq!(&t, v, "{what}");
                        }
                        _ => assert_eq!(gv, v, "{what}"),
                    }
                }
            }
        }
    }
}
