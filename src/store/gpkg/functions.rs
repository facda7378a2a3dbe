//! The GeoPackage SQL functions the standard triggers call, registered on
//! every connection the store opens.
//!
//! The R-tree spatial index extension (GeoPackage 1.3, Annex F.3) keeps its
//! virtual table current through triggers that call `ST_IsEmpty`, `ST_MinX`,
//! `ST_MaxX`, `ST_MinY` and `ST_MaxY`; the geometry type and SRS triggers GDAL
//! can add call `ST_GeometryType`, `ST_SRID` and `GPKG_IsAssignable`. SQLite
//! compiles a trigger's functions when the statement that fires it is
//! prepared, so without them any write to a table QGIS or GDAL indexed fails
//! with "no such function". They read the blob header (and, for a point
//! without an envelope, its coordinates); a value that is not a GeoPackage
//! geometry gives NULL, as GDAL's do, so a trigger skips it rather than
//! aborting the write.

use crate::store::wkb;
use rusqlite::functions::{Context, FunctionFlags};
use rusqlite::types::ValueRef;
use rusqlite::Connection;

/// Deterministic, and safe in triggers and views of an untrusted schema.
fn flags() -> FunctionFlags {
    FunctionFlags::SQLITE_UTF8
        | FunctionFlags::SQLITE_DETERMINISTIC
        | FunctionFlags::SQLITE_INNOCUOUS
}

/// The blob argument, when it is one.
fn blob<'a>(ctx: &'a Context<'_>) -> Option<&'a [u8]> {
    match ctx.get_raw(0) {
        ValueRef::Blob(b) => Some(b),
        _ => None,
    }
}

/// Registers the functions on `conn`.
pub(super) fn register(conn: &Connection) -> rusqlite::Result<()> {
    conn.create_scalar_function("ST_IsEmpty", 1, flags(), |ctx| {
        Ok(blob(ctx).and_then(|b| wkb::is_empty(b).ok()).map(i64::from))
    })?;
    // Index into `[min_x, min_y, max_x, max_y]` per function.
    for (name, at) in [
        ("ST_MinX", 0),
        ("ST_MinY", 1),
        ("ST_MaxX", 2),
        ("ST_MaxY", 3),
    ] {
        conn.create_scalar_function(name, 1, flags(), move |ctx| {
            Ok(blob(ctx)
                .and_then(|b| wkb::envelope(b).ok())
                .map(|e| e[at])
                .filter(|v| !v.is_nan()))
        })?;
    }
    conn.create_scalar_function("ST_GeometryType", 1, flags(), |ctx| {
        Ok(blob(ctx).and_then(|b| wkb::type_name(b).ok()))
    })?;
    conn.create_scalar_function("ST_SRID", 1, flags(), |ctx| {
        Ok(blob(ctx).and_then(|b| wkb::srs_id(b).ok()))
    })?;
    conn.create_scalar_function("GPKG_IsAssignable", 2, flags(), |ctx| {
        let expected: Option<String> = ctx.get(0)?;
        let actual: Option<String> = ctx.get(1)?;
        Ok(match (expected, actual) {
            (Some(e), Some(a)) => i64::from(wkb::is_assignable(&e, &a)),
            _ => 0,
        })
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo_types::{line_string, point, Geometry};

    fn call(conn: &Connection, sql: &str, blob: &[u8]) -> rusqlite::types::Value {
        conn.query_row(sql, [blob], |r| r.get(0)).expect("query")
    }

    #[test]
    fn the_functions_read_points_and_envelopes_and_give_null_for_other_values() {
        use rusqlite::types::Value as V;
        let conn = Connection::open_in_memory().expect("db");
        register(&conn).expect("register");
        let mut p = Vec::new();
        wkb::encode(&Geometry::Point(point!(x: 18.5, y: 4.25)), &mut p);
        let mut l = Vec::new();
        wkb::encode(
            &Geometry::LineString(line_string![(x: 1.0, y: -2.0), (x: 3.0, y: 4.0)]),
            &mut l,
        );
        for (blob, want) in [(&p, [18.5, 4.25, 18.5, 4.25]), (&l, [1.0, -2.0, 3.0, 4.0])] {
            for (f, w) in ["ST_MinX", "ST_MinY", "ST_MaxX", "ST_MaxY"]
                .iter()
                .zip(want)
            {
                assert_eq!(call(&conn, &format!("SELECT {f}(?1)"), blob), V::Real(w));
            }
            assert_eq!(call(&conn, "SELECT ST_IsEmpty(?1)", blob), V::Integer(0));
            assert_eq!(call(&conn, "SELECT ST_SRID(?1)", blob), V::Integer(4326));
        }
        assert_eq!(
            call(&conn, "SELECT ST_GeometryType(?1)", &l),
            V::Text("LINESTRING".into())
        );
        // The empty flag (bit 4 of the flags byte) is read from the header.
        let mut empty = p.clone();
        empty[3] |= 0x10;
        assert_eq!(call(&conn, "SELECT ST_IsEmpty(?1)", &empty), V::Integer(1));
        for bad in [&b"XX"[..], b"", b"GP\x00\x01\xe6\x10\x00\x00\x01"] {
            for f in ["ST_MinX", "ST_MaxY", "ST_GeometryType"] {
                assert_eq!(call(&conn, &format!("SELECT {f}(?1)"), bad), V::Null, "{f}");
            }
        }
        // Emptiness is a header flag: a header alone answers it.
        assert_eq!(call(&conn, "SELECT ST_IsEmpty(?1)", b"XX"), V::Null);
        assert_eq!(
            call(
                &conn,
                "SELECT ST_IsEmpty(?1)",
                b"GP\x00\x01\xe6\x10\x00\x00"
            ),
            V::Integer(0)
        );
        let text: V = conn
            .query_row("SELECT ST_MinX('text')", [], |r| r.get(0))
            .expect("query");
        assert_eq!(text, V::Null);
        let assignable = |e: &str, a: &str| -> i64 {
            conn.query_row("SELECT GPKG_IsAssignable(?1, ?2)", [e, a], |r| r.get(0))
                .expect("query")
        };
        assert_eq!(assignable("GEOMETRY", "POINT"), 1);
        assert_eq!(assignable("POINT", "POINT"), 1);
        assert_eq!(assignable("MULTIPOLYGON", "POLYGON"), 0);
        assert_eq!(assignable("GEOMETRYCOLLECTION", "MULTIPOINT"), 1);
        assert_eq!(assignable("POINT", "LINESTRING"), 0);
    }
}
