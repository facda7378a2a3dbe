//! A small Mapbox Vector Tile reader (protobuf wire format), for tests that
//! look inside the tiles jointmap serves and packages.

use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

fn varint(b: &[u8], i: &mut usize) -> u64 {
    let (mut v, mut shift) = (0u64, 0);
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

/// Fields of a message: (number, wire type, varint value or bytes).
fn fields(b: &[u8]) -> Vec<(u64, Result<u64, &[u8]>)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let key = varint(b, &mut i);
        let (n, wire) = (key >> 3, key & 7);
        match wire {
            0 => out.push((n, Ok(varint(b, &mut i)))),
            1 => {
                out.push((n, Ok(u64::from_le_bytes(b[i..i + 8].try_into().unwrap()))));
                i += 8;
            }
            2 => {
                let len = varint(b, &mut i) as usize;
                out.push((n, Err(&b[i..i + len])));
                i += len;
            }
            w => panic!("wire type {w}"),
        }
    }
    out
}

fn mvt_value(b: &[u8]) -> Value {
    for (n, v) in fields(b) {
        match (n, v) {
            (1, Err(s)) => return json!(String::from_utf8(s.to_vec()).unwrap()),
            (3, Ok(bits)) => return json!(f64::from_bits(bits)),
            (6, Ok(z)) => return json!(((z >> 1) as i64) ^ -((z & 1) as i64)),
            (7, Ok(b)) => return json!(b != 0),
            _ => {}
        }
    }
    panic!("no value")
}

/// Layer name -> features' attributes.
pub fn decode(tile: &[u8]) -> BTreeMap<String, Vec<Map<String, Value>>> {
    let mut out = BTreeMap::new();
    for (n, l) in fields(tile) {
        assert_eq!(n, 3, "a tile holds layers only");
        let l = l.unwrap_err();
        let (mut name, mut keys, mut values, mut feats) =
            (String::new(), Vec::new(), Vec::new(), Vec::new());
        for (n, v) in fields(l) {
            match (n, v) {
                (1, Err(s)) => name = String::from_utf8(s.to_vec()).unwrap(),
                (2, Err(f)) => feats.push(f),
                (3, Err(k)) => keys.push(String::from_utf8(k.to_vec()).unwrap()),
                (4, Err(v)) => values.push(mvt_value(v)),
                _ => {}
            }
        }
        let mut list = Vec::new();
        for f in feats {
            let mut attrs = Map::new();
            for (n, v) in fields(f) {
                if n == 2 {
                    let packed = v.unwrap_err();
                    let (mut i, mut tags) = (0, Vec::new());
                    while i < packed.len() {
                        tags.push(varint(packed, &mut i) as usize);
                    }
                    for kv in tags.chunks(2) {
                        attrs.insert(keys[kv[0]].clone(), values[kv[1]].clone());
                    }
                }
            }
            list.push(attrs);
        }
        out.insert(name, list);
    }
    out
}
