use super::*;
use crate::ingest::{Mapping, Preset};
use crate::model::Feature;

const TRACK: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<gpx version="1.1" creator="Garmin" xmlns="http://www.topografix.com/GPX/1/1">
  <metadata><name>ignored</name><time>2024-03-01T00:00:00Z</time></metadata>
  <wpt lat="4.5" lon="18.5"><name>CP1</name></wpt>
  <trk>
    <name>NEPBATT 2 coy</name>
    <type>foot</type>
    <trkseg>
      <trkpt lat="4.40" lon="18.50"><ele>420.5</ele><time>2024-03-05T06:00:00Z</time></trkpt>
      <trkpt lat="4.41" lon="18.52"><time>2024-03-05T06:20:00Z</time></trkpt>
    </trkseg>
    <trkseg>
      <trkpt lat="4.42" lon="18.54"><time>2024-03-05T07:00:00Z</time></trkpt>
      <trkpt lat="4.43" lon="18.55"><time>2024-03-05T07:30:00Z</time></trkpt>
    </trkseg>
  </trk>
  <trk><name>second</name><trkseg>
    <trkpt lat="4.40" lon="18.50"><time>2024-03-06T06:00:00Z</time></trkpt>
    <trkpt lat="4.41" lon="18.52"/>
  </trkseg></trk>
</gpx>
"#;

fn opts(layer: Layer, mapping: Option<&str>) -> IngestOptions {
    let mut o = IngestOptions::new(layer);
    o.preset = mapping.map(|m| Preset::File(Mapping::from_toml(m).expect("mapping")));
    o
}

fn read(text: &str, o: &IngestOptions) -> Result<Vec<RawFeature>, String> {
    let mut out = Vec::new();
    read_features(text.as_bytes(), o, 1 << 20, &mut |f| {
        out.push(f);
        Ok(())
    })?;
    Ok(out)
}

fn patrol(f: &RawFeature) -> Result<Feature, crate::model::feature::Invalid> {
    let mut v: Value = serde_json::from_str(&f.text).expect("JSON");
    Mapping::from_toml("[rename]\nunit = \"name\"\nmode = \"type\"\n[set]\nmode = \"foot\"\n")
        .expect("mapping")
        .apply(&mut v);
    Feature::from_geojson(Layer::Patrols, v, &f.text)
}

/// A track's segments are its lines and its points' times its vertex times;
/// waypoints are not patrols.
#[test]
fn tracks_become_patrols_with_vertex_times() {
    let got = read(TRACK, &opts(Layer::Patrols, None)).unwrap();
    assert_eq!(got.len(), 2);
    let v: Value = serde_json::from_str(&got[0].text).unwrap();
    assert_eq!(v["geometry"]["type"], "MultiLineString");
    assert_eq!(
        v["geometry"]["coordinates"][0][0],
        json!([18.5, 4.4, 420.5])
    );
    assert_eq!(v["properties"]["name"], "NEPBATT 2 coy");
    assert_eq!(got[0].start.map(|s| s.line), Some(5));
    let f = patrol(&got[0]).expect("valid patrol");
    assert_eq!(f.str("unit"), Some("NEPBATT 2 coy"));
    assert_eq!(
        f.properties["vertex_times"],
        json!([
            "2024-03-05T06:00:00Z",
            "2024-03-05T06:20:00Z",
            "2024-03-05T07:00:00Z",
            "2024-03-05T07:30:00Z"
        ])
    );
    assert_eq!(
        crate::model::time::format_time(&f.time.last()),
        "2024-03-05T07:30:00Z"
    );
    // A point without a time: refused, naming the item (one time per vertex).
    let e = patrol(&got[1]).unwrap_err();
    let msg = format!("{:?}", e.problems);
    assert!(msg.contains("item 1"), "{msg}");
}

/// Faults of the file name the element and its line.
#[test]
fn faults_name_the_element_and_line() {
    let o = opts(Layer::Patrols, None);
    let broken_time = TRACK.replace("2024-03-05T06:20:00Z", "2024-03-05T25:20:00Z");
    let no_lat = TRACK.replace(
        r#"<trkpt lat="4.42" lon="18.54">"#,
        r#"<trkpt lon="18.54">"#,
    );
    let bad_lon = TRACK.replace(r#"lon="18.55""#, r#"lon="18,55""#);
    let bad_ele = TRACK.replace("420.5", "high");
    let truncated = &TRACK[..TRACK.find("</trkseg>").unwrap()];
    let mismatched = TRACK.replace("</trkseg>\n    <trkseg>", "</trk>\n    <trkseg>");
    for (text, want) in [
        (
            broken_time.as_str(),
            "line 10: <time> of <trkpt>: cannot parse time",
        ),
        (no_lat.as_str(), "line 13: <trkpt> has no lat attribute"),
        (
            bad_lon.as_str(),
            "line 14: <trkpt lon=\"18,55\">: not a number",
        ),
        (bad_ele.as_str(), "line 9: <ele>high</ele>: not a number"),
        (
            truncated,
            "line 11: the file ends inside <trkseg> (truncated?)",
        ),
        (mismatched.as_str(), "not well-formed XML"),
        (
            "<kml></kml>",
            "line 1: the root element is <kml>, not <gpx>",
        ),
        ("", "no <gpx> element"),
        ("not xml at all", "no <gpx> element"),
    ] {
        let e = read(text, &o).unwrap_err();
        assert!(e.contains(want), "want {want:?}, got {e}");
    }
}

/// Waypoints become sightings or sites only through a mapping; other
/// layers take nothing from GPX.
#[test]
fn waypoints_need_a_mapping() {
    let e = read(TRACK, &opts(Layer::Sites, None)).unwrap_err();
    assert!(e.contains("only through a mapping"), "{e}");
    let e = read(TRACK, &opts(Layer::Incidents, None)).unwrap_err();
    assert!(e.contains("not incidents"), "{e}");
    let o = opts(
        Layer::Sites,
        Some("[set]\nsite_type = \"village\"\ntime_start = \"2024-01-01\"\n"),
    );
    let got = read(TRACK, &o).unwrap();
    assert_eq!(got.len(), 1);
    let mut v: Value = serde_json::from_str(&got[0].text).unwrap();
    assert_eq!(
        v["geometry"],
        json!({"type": "Point", "coordinates": [18.5, 4.5]})
    );
    if let Some(Preset::File(m)) = &o.preset {
        m.apply(&mut v);
    }
    let f = Feature::from_geojson(Layer::Sites, v, &got[0].text).expect("valid site");
    assert_eq!(f.str("name"), Some("CP1"));
}

/// An empty track has no geometry, which validation refuses; an empty
/// `<gpx/>` has no records.
#[test]
fn empty_tracks_and_files() {
    let o = opts(Layer::Patrols, None);
    let got = read("<gpx><trk><name>x</name></trk></gpx>", &o).unwrap();
    assert_eq!(got.len(), 1);
    assert!(patrol(&got[0]).is_err());
    assert!(read("<gpx/>", &o).unwrap().is_empty());
    assert!(
        read("<?xml version=\"1.0\"?>\n<gpx version=\"1.1\"></gpx>", &o)
            .unwrap()
            .is_empty()
    );
}

/// A track too long for a feature is refused while it is read, naming it.
#[test]
fn an_oversized_track_is_refused_while_read() {
    let points: String = (0..200)
        .map(|i| {
            format!(
                "<trkpt lat=\"4.4\" lon=\"{}\"/>\n",
                18.0 + f64::from(i) * 0.001
            )
        })
        .collect();
    let text = format!("<gpx>\n<trk><trkseg>\n{points}</trkseg></trk></gpx>");
    let mut n = 0;
    let e = read_features(
        text.as_bytes(),
        &opts(Layer::Patrols, None),
        600,
        &mut |_| {
            n += 1;
            Ok(())
        },
    )
    .unwrap_err();
    assert!(
        e.contains("the track that begins on line 2 has more points"),
        "{e}"
    );
    assert_eq!(n, 0);
}
