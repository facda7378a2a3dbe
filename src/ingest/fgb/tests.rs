use super::*;

/// A FlatGeobuf file of point features at `points` (no index), with one
/// Int column `n` and one String column `id`, its CRS `crs` (org, code).
fn file(points: &[(f64, f64)], crs: Option<(&str, i32)>, count: u64) -> Vec<u8> {
    let mut fbb = flatbuffers::FlatBufferBuilder::new();
    let mut cols = Vec::new();
    for (name, ty) in [("id", 11u8), ("n", 5u8)] {
        let n = fbb.create_string(name);
        let s = fbb.start_table();
        fbb.push_slot_always(4, n);
        fbb.push_slot::<u8>(6, ty, 0);
        cols.push(fbb.end_table(s));
    }
    let cols = fbb.create_vector(&cols);
    let crs = crs.map(|(org, code)| {
        let org = fbb.create_string(org);
        let s = fbb.start_table();
        fbb.push_slot_always(4, org);
        fbb.push_slot::<i32>(6, code, 0);
        fbb.end_table(s)
    });
    let s = fbb.start_table();
    fbb.push_slot::<u8>(8, 1, 0);
    fbb.push_slot_always(18, cols);
    fbb.push_slot::<u64>(20, count, 0);
    fbb.push_slot::<u16>(22, 0, 16);
    if let Some(c) = crs {
        fbb.push_slot_always(24, c);
    }
    let h = fbb.end_table(s);
    fbb.finish_size_prefixed(h, None);
    let mut out = b"fgb\x03fgb\x00".to_vec();
    out.extend_from_slice(fbb.finished_data());
    for (i, (x, y)) in points.iter().enumerate() {
        let mut fbb = flatbuffers::FlatBufferBuilder::new();
        let xy = fbb.create_vector(&[*x, *y]);
        let s = fbb.start_table();
        fbb.push_slot_always(6, xy);
        let g = fbb.end_table(s);
        let id = format!("p{i}");
        let mut props = Vec::new();
        props.extend_from_slice(&0u16.to_le_bytes());
        props.extend_from_slice(&(id.len() as u32).to_le_bytes());
        props.extend_from_slice(id.as_bytes());
        props.extend_from_slice(&1u16.to_le_bytes());
        props.extend_from_slice(&(i as i32 * 10).to_le_bytes());
        let props = fbb.create_vector(&props);
        let s = fbb.start_table();
        fbb.push_slot_always(4, g);
        fbb.push_slot_always(6, props);
        let f = fbb.end_table(s);
        fbb.finish_size_prefixed(f, None);
        out.extend_from_slice(fbb.finished_data());
    }
    out
}

fn read(b: &[u8]) -> Result<Vec<Value>, String> {
    let mut out = Vec::new();
    read_features(b, 1 << 20, &mut |f| {
        out.push(serde_json::from_str(&f.text).map_err(|e| e.to_string())?);
        Ok(())
    })?;
    Ok(out)
}

#[test]
fn points_read_as_geojson_features_with_their_id_column() {
    let f = read(&file(&[(18.5, 4.25), (-1.0, 2.0)], Some(("EPSG", 4326)), 2)).expect("read");
    assert_eq!(
        f[1],
        serde_json::json!({"type": "Feature", "id": "p1",
            "geometry": {"type": "Point", "coordinates": [-1.0, 2.0]}, "properties": {"n": 10}})
    );
    assert_eq!(f.len(), 2);
}

#[test]
fn another_crs_or_none_is_refused_naming_it() {
    let e = read(&file(&[(1.0, 2.0)], Some(("EPSG", 32634)), 1)).expect_err("utm");
    assert!(e.contains("EPSG:32634") && e.contains("not WGS 84"), "{e}");
    let e = read(&file(&[(1.0, 2.0)], None, 1)).expect_err("none");
    assert!(e.contains("no CRS"), "{e}");
}

#[test]
fn lying_counts_and_cut_files_are_errors() {
    let good = file(&[(1.0, 2.0), (3.0, 4.0)], Some(("EPSG", 4326)), 2);
    let e = read(&file(&[(1.0, 2.0), (3.0, 4.0)], Some(("EPSG", 4326)), 3)).expect_err("3");
    assert!(e.contains("declares 3 features, the file holds 2"), "{e}");
    let e = read(&file(&[(1.0, 2.0), (3.0, 4.0)], Some(("EPSG", 4326)), 1)).expect_err("1");
    assert!(
        e.contains("declares 1 features, the file holds more"),
        "{e}"
    );
    for n in 0..good.len() {
        assert!(read(&good[..n]).is_err(), "cut at {n} of {}", good.len());
    }
    let mut bad = good.clone();
    bad[0] = b'x';
    assert!(read(&bad)
        .expect_err("magic")
        .contains("not a FlatGeobuf file"));
    let mut huge = good.clone();
    huge[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(read(&huge)
        .expect_err("size")
        .contains("declares 4294967295 bytes"));
}

#[test]
fn index_sizes_follow_the_packed_tree() {
    // One leaf per feature, then each level a sixteenth of the one below,
    // up to one root; 40 bytes a node.
    assert_eq!(index_bytes(1, 16), Ok(2 * 40));
    assert_eq!(index_bytes(16, 16), Ok(17 * 40));
    assert_eq!(index_bytes(17, 16), Ok((17 + 2 + 1) * 40));
    assert_eq!(index_bytes(5, 0), Ok(0));
    assert!(index_bytes(5, 1).is_err());
    assert!(index_bytes(u64::MAX, 2).is_err());
}
