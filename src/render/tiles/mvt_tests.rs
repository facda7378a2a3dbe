//! The encoder checked by an independent decoder of the wire format.

use super::*;
use crate::access::{TileCell, TileFeature};
use serde_json::json;

/// A decoded layer: name, extent, keys, values (as text), features.
#[derive(Debug, Default)]
struct Layer {
    version: u64,
    name: String,
    extent: u64,
    keys: Vec<String>,
    values: Vec<String>,
    features: Vec<Feature>,
}

#[derive(Debug, Default)]
struct Feature {
    tags: Vec<u64>,
    kind: u64,
    geometry: Vec<u64>,
}

fn read_varint(b: &[u8], i: &mut usize) -> u64 {
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let byte = b[*i];
        *i += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return v;
        }
        shift += 7;
    }
}

/// (field, wire type, varint or bytes) of each field of a message.
fn fields(b: &[u8]) -> Vec<(u64, u64, u64, Vec<u8>)> {
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        let k = read_varint(b, &mut i);
        let (field, wire) = (k >> 3, k & 7);
        match wire {
            0 => out.push((field, 0, read_varint(b, &mut i), vec![])),
            1 => {
                out.push((field, 1, 0, b[i..i + 8].to_vec()));
                i += 8;
            }
            2 => {
                let n = read_varint(b, &mut i) as usize;
                out.push((field, 2, 0, b[i..i + n].to_vec()));
                i += n;
            }
            w => panic!("unexpected wire type {w}"),
        }
    }
    out
}

fn packed(b: &[u8]) -> Vec<u64> {
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        out.push(read_varint(b, &mut i));
    }
    out
}

fn decode(tile: &[u8]) -> Vec<Layer> {
    fields(tile)
        .into_iter()
        .map(|(f, _, _, body)| {
            assert_eq!(f, 3, "a tile holds only layers");
            let mut l = Layer {
                extent: 4096,
                ..Layer::default()
            };
            for (f, _, v, b) in fields(&body) {
                match f {
                    15 => l.version = v,
                    1 => l.name = String::from_utf8(b).unwrap(),
                    3 => l.keys.push(String::from_utf8(b).unwrap()),
                    4 => {
                        let (vf, _, vv, vb) = fields(&b).remove(0);
                        l.values.push(match vf {
                            1 => String::from_utf8(vb).unwrap(),
                            3 => f64::from_le_bytes(vb.try_into().unwrap()).to_string(),
                            6 => ((vv >> 1) as i64 ^ -((vv & 1) as i64)).to_string(),
                            7 => (vv == 1).to_string(),
                            other => panic!("value type {other}"),
                        })
                    }
                    5 => l.extent = v,
                    2 => {
                        let mut feat = Feature::default();
                        for (ff, _, fv, fb) in fields(&b) {
                            match ff {
                                2 => feat.tags = packed(&fb),
                                3 => feat.kind = fv,
                                4 => feat.geometry = packed(&fb),
                                other => panic!("feature field {other}"),
                            }
                        }
                        l.features.push(feat);
                    }
                    other => panic!("layer field {other}"),
                }
            }
            l
        })
        .collect()
}

/// The rings or lines of a geometry, in absolute tile coordinates.
fn parts(g: &[u64]) -> Vec<Vec<(i64, i64)>> {
    let unzig = |v: u64| (v >> 1) as i64 ^ -((v & 1) as i64);
    let (mut x, mut y) = (0i64, 0i64);
    let mut out: Vec<Vec<(i64, i64)>> = Vec::new();
    let mut i = 0;
    while i < g.len() {
        let (id, count) = (g[i] & 7, g[i] >> 3);
        i += 1;
        match id {
            1 | 2 => {
                for _ in 0..count {
                    x += unzig(g[i]);
                    y += unzig(g[i + 1]);
                    i += 2;
                    if id == 1 {
                        out.push(Vec::new());
                    }
                    out.last_mut().unwrap().push((x, y));
                }
            }
            7 => assert_eq!(count, 1),
            other => panic!("command {other}"),
        }
    }
    out
}

fn attrs(l: &Layer, f: &Feature) -> Vec<(String, String)> {
    f.tags
        .chunks(2)
        .map(|t| {
            (
                l.keys[t[0] as usize].clone(),
                l.values[t[1] as usize].clone(),
            )
        })
        .collect()
}

fn feature(id: &str, g: Geometry<f64>, props: Value) -> TileFeature {
    TileFeature {
        id: id.into(),
        geometry: g,
        properties: props.as_object().unwrap().clone(),
    }
}

#[test]
fn varints_and_zigzag_follow_protobuf() {
    let mut out = Vec::new();
    varint(&mut out, 300);
    assert_eq!(out, [0xac, 0x02]);
    assert_eq!(zigzag(0), 0);
    assert_eq!(zigzag(-1), 1);
    assert_eq!(zigzag(1), 2);
    assert_eq!(zigzag(-2), 3);
    assert_eq!(zigzag(i64::from(i32::MIN)), u64::from(u32::MAX));
}

#[test]
fn points_with_attributes_round_trip() {
    let tile = TileId::new(12, 2258, 1998).unwrap();
    let b = tile.bounds();
    let (lon, lat) = (b[0] + (b[2] - b[0]) * 0.25, b[1] + (b[3] - b[1]) * 0.75);
    let content = TileContent::Features(vec![
        feature(
            "inc-1",
            Geometry::Point(geo_types::Point::new(lon, lat)),
            json!({"category": "killing", "killed_total": 3, "score": 0.5, "ok": true, "n": null}),
        ),
        // Far outside the buffer: left out.
        feature(
            "inc-2",
            Geometry::Point(geo_types::Point::new(lon + 1.0, lat)),
            json!({}),
        ),
    ]);
    let layers = decode(&encode(TileLayer::Incidents, tile, &content));
    assert_eq!(layers.len(), 1);
    let l = &layers[0];
    assert_eq!(
        (l.version, l.name.as_str(), l.extent),
        (2, "incidents", 4096)
    );
    assert_eq!(l.features.len(), 1);
    let f = &l.features[0];
    assert_eq!(f.kind, 1);
    let p = parts(&f.geometry);
    assert_eq!(p, vec![vec![(1024, 1024)]]);
    let a = attrs(l, f);
    assert_eq!(
        a,
        [
            ("id".into(), "inc-1".into()),
            ("category".into(), "killing".into()),
            ("killed_total".into(), "3".into()),
            ("score".into(), "0.5".into()),
            ("ok".into(), "true".into()),
        ]
    );
}

#[test]
fn lines_are_cut_at_the_buffer() {
    let tile = TileId::new(10, 564, 499).unwrap();
    let f = Frame::new(tile, 4096.0);
    // From the middle to far east of the tile, and back in again.
    let ll = |x: f64, y: f64| {
        let [lon, lat] = f.unproject(x, y);
        (lon, lat)
    };
    let line: geo_types::LineString<f64> = vec![
        ll(2048.0, 2048.0),
        ll(9000.0, 2048.0),
        ll(9000.0, 3000.0),
        ll(100.0, 3000.0),
    ]
    .into();
    let content = TileContent::Features(vec![feature("p", Geometry::LineString(line), json!({}))]);
    let layers = decode(&encode(TileLayer::Patrols, tile, &content));
    let g = &layers[0].features[0];
    assert_eq!(g.kind, 2);
    let p = parts(&g.geometry);
    assert_eq!(p.len(), 2, "{p:?}");
    assert_eq!(p[0], vec![(2048, 2048), (4160, 2048)]);
    assert_eq!(p[1], vec![(4160, 3000), (100, 3000)]);
}

#[test]
fn polygons_are_clipped_and_oriented() {
    let tile = TileId::new(10, 564, 499).unwrap();
    let f = Frame::new(tile, 4096.0);
    let ll = |x: f64, y: f64| {
        let [lon, lat] = f.unproject(x, y);
        [lon, lat]
    };
    // A cell larger than the tile, given counter-clockwise on screen.
    let ring = vec![
        ll(-1000.0, -1000.0),
        ll(-1000.0, 5000.0),
        ll(5000.0, 5000.0),
        ll(5000.0, -1000.0),
        ll(-1000.0, -1000.0),
    ];
    let content = TileContent::Cells {
        cell_m: 10_000.0,
        cells: vec![TileCell { ring, count: 7 }],
    };
    let layers = decode(&encode(TileLayer::Incidents, tile, &content));
    let feat = &layers[0].features[0];
    assert_eq!(feat.kind, 3);
    assert_eq!(
        attrs(&layers[0], feat),
        [("count".to_string(), "7".to_string())]
    );
    let p = parts(&feat.geometry);
    assert_eq!(p.len(), 1);
    let r = &p[0];
    assert_eq!(r.len(), 4);
    for (x, y) in r {
        assert!([-64, 4160].contains(x) && [-64, 4160].contains(y), "{r:?}");
    }
    let area2: i64 = (0..r.len())
        .map(|i| r[i].0 * r[(i + 1) % 4].1 - r[(i + 1) % 4].0 * r[i].1)
        .sum();
    assert!(area2 > 0, "exterior rings have positive area");
}

#[test]
fn low_zoom_points_are_counts_without_attributes() {
    let tile = TileId::new(5, 17, 15).unwrap();
    let b = tile.bounds();
    let c = ((b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0);
    let fs = (0..50)
        .map(|i| {
            feature(
                &format!("x{i}"),
                Geometry::Point(geo_types::Point::new(c.0 + f64::from(i) * 1e-4, c.1)),
                json!({"category": "CANARY"}),
            )
        })
        .collect();
    let bytes = encode(TileLayer::Incidents, tile, &TileContent::Features(fs));
    let l = &decode(&bytes)[0];
    assert_eq!(l.features.len(), 1);
    assert_eq!(
        attrs(l, &l.features[0]),
        [("count".to_string(), "50".to_string())]
    );
    assert!(!bytes.windows(6).any(|w| w == b"CANARY"));
}

#[test]
fn an_empty_tile_is_an_empty_layer() {
    let tile = TileId::new(3, 4, 3).unwrap();
    let l = decode(&encode(
        TileLayer::Sites,
        tile,
        &TileContent::Features(vec![]),
    ));
    assert_eq!(l.len(), 1);
    assert!(l[0].features.is_empty());
}
