use super::*;
use crate::model::{Feature, Layer};

fn plan(layer: Layer, preset: Option<Preset>) -> Columns {
    let mut opts = IngestOptions::new(layer);
    opts.preset = preset;
    Columns::plan(&opts)
}

fn read(text: &[u8], columns: &Columns) -> Result<Vec<RawFeature>, String> {
    let mut out = Vec::new();
    read_features(text, columns, 1 << 20, &mut |f| {
        out.push(f);
        Ok(())
    })?;
    Ok(out)
}

fn value(f: &RawFeature) -> Value {
    serde_json::from_str(&f.text).expect("JSON")
}

/// A byte-order mark, CRLF line ends and a quoted cell over two lines are
/// read as meant; each feature starts at its row's line.
#[test]
fn bom_crlf_and_quoted_newlines() {
    let text = b"\xEF\xBB\xBFid,lon,lat,name,time_start,site_type\r\n\
        s1,18.5,4.4,\"Bossangoa\r\nnorth\",2024-01-01,village\r\n\
        s2,18.6,4.5,\"Bouca, \"\"east\"\"\",2024-01-01,village\r\n";
    let got = read(text, &plan(Layer::Sites, None)).unwrap();
    assert_eq!(got.len(), 2);
    let first = value(&got[0]);
    assert_eq!(first["properties"]["id"], "s1");
    assert_eq!(first["properties"]["name"], "Bossangoa\r\nnorth");
    assert_eq!(
        first["geometry"]["coordinates"],
        serde_json::json!([18.5, 4.4])
    );
    assert_eq!(value(&got[1])["properties"]["name"], "Bouca, \"east\"");
    assert_eq!(got[0].start.map(|s| s.line), Some(2));
    assert_eq!(got[1].start.map(|s| s.line), Some(4));
    assert_eq!((got[0].index, got[1].index), (0, 1));
    for f in &got {
        Feature::from_geojson_str(Layer::Sites, &f.text).expect("valid");
    }
}

/// A cell's type follows its column: counts are numbers, text stays text
/// (leading zeros kept), and a cell that is not of its column's type is
/// kept as it was for validation to refuse, naming it.
#[test]
fn cells_are_typed_by_their_column() {
    let text = b"longitude,latitude,time_start,category,killed_men,perpetrator,injured_men\n\
        18.5,4.4,2024-01-01,killing,3,007,\n\
        18.5,4.4,2024-01-01,killing,3 killed,x,2.0\n";
    let got = read(text, &plan(Layer::Incidents, None)).unwrap();
    let a = value(&got[0]);
    assert_eq!(a["properties"]["killed_men"], 3);
    assert_eq!(a["properties"]["perpetrator"], "007");
    // An empty cell is absent: the field's default applies.
    assert!(a["properties"].get("injured_men").is_none());
    // Geometry columns are the geometry, not properties.
    assert!(a["properties"].get("longitude").is_none());
    let e = Feature::from_geojson_str(Layer::Incidents, &got[1].text).unwrap_err();
    let msg = format!("{:?}", e.problems);
    assert!(msg.contains("3 killed"), "{msg}");
    let b = value(&got[1]);
    assert_eq!(b["properties"]["injured_men"], 2.0);
}

/// Every kind of bad coordinate reaches validation as it was, and is
/// refused with the value in the reason: never dropped, never guessed.
#[test]
fn bad_coordinates_are_refused_with_their_value() {
    for (lon, lat, want) in [
        ("", "4.4", "longitude \"\" is not a finite number"),
        ("18.5", "NA", "latitude \"NA\" is not a finite number"),
        (
            "\"18,5\"",
            "4.4",
            "longitude \"18,5\" is not a finite number",
        ),
        ("inf", "4.4", "longitude \"inf\" is not a finite number"),
        ("NaN", "4.4", "longitude \"NaN\" is not a finite number"),
        ("1e999", "4.4", "longitude \"1e999\" is not a finite number"),
        ("18.5", "95", "latitude 95 out of range [-90, 90]"),
        ("-181", "4.4", "longitude -181 out of range [-180, 180]"),
    ] {
        let text = format!("lon,lat,time_start,name,site_type\n{lon},{lat},2024-01-01,a,village\n");
        let got = read(text.as_bytes(), &plan(Layer::Sites, None)).unwrap();
        assert_eq!(got.len(), 1, "{lon},{lat}");
        let e = Feature::from_geojson_str(Layer::Sites, &got[0].text).unwrap_err();
        let msg = e
            .problems
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join("; ");
        assert!(msg.contains(want), "{lon},{lat}: {msg}");
    }
}

/// Structural faults refuse the file naming the row and line.
#[test]
fn structural_faults_name_the_row() {
    let columns = plan(Layer::Sites, None);
    for (text, want) in [
        (
            &b"lon,lat,name\n1,2,a\n1,2\n"[..],
            "row 2 (line 3): 2 cells, but the header has 3",
        ),
        (
            b"lon,lat,name\n1,2,a,b\n",
            "row 1 (line 2): 4 cells, but the header has 3",
        ),
        (
            b"lon,lat,name\n1,2,\xff\n",
            "row 1 (line 2): not UTF-8 (cell 3)",
        ),
        (
            b"lon,lat,name,name\n",
            "columns 3 and 4 are both named \"name\"",
        ),
        (b"lon,lat,,x\n", "column 3 has no name"),
        (b"", "no header row"),
        (b"easting,northing,name\n1,2,a\n", "no geometry columns"),
    ] {
        let e = read(text, &columns).unwrap_err();
        assert!(e.contains(want), "{}: {e}", String::from_utf8_lossy(text));
    }
}

/// Without a point, a WKT column is the geometry; a bad one is refused by
/// validation with the WKT fault.
#[test]
fn wkt_columns() {
    let text = b"WKT,time_start,time_end,unit,mode\n\"LINESTRING (18.5 4.4, 18.6 4.5)\",2024-01-01,2024-01-02,u,foot\n\"LINESTRING (18.5 4.4\",2024-01-01,2024-01-02,u,foot\n";
    let got = read(text, &plan(Layer::Patrols, None)).unwrap();
    Feature::from_geojson_str(Layer::Patrols, &got[0].text).expect("valid");
    let e = Feature::from_geojson_str(Layer::Patrols, &got[1].text).unwrap_err();
    let msg = format!("{:?}", e.problems);
    assert!(msg.contains("invalid WKT (expected ',' or ')'"), "{msg}");
}

/// A mapping types a column by the field it renames it to.
#[test]
fn a_mapping_types_by_its_target() {
    let m = super::super::Mapping::from_toml("[rename]\nkilled_unknown = \"deaths\"\n").unwrap();
    let text = b"lat,lon,deaths,other\n4.4,18.5,12,12\n";
    let got = read(text, &plan(Layer::Incidents, Some(Preset::File(m)))).unwrap();
    let v = value(&got[0]);
    assert_eq!(v["properties"]["deaths"], 12);
    assert_eq!(v["properties"]["other"], "12");
}

/// A row over the feature size bound refuses the file, naming it.
#[test]
fn an_oversized_row_is_refused() {
    let text = format!("lon,lat,name\n1,2,{}\n", "x".repeat(200));
    let mut n = 0;
    let e = read_features(text.as_bytes(), &plan(Layer::Sites, None), 100, &mut |_| {
        n += 1;
        Ok(())
    })
    .unwrap_err();
    assert!(e.contains("row 1 (line 2)"), "{e}");
    assert_eq!(n, 0);
}
