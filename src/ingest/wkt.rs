//! Well-known text (WKT) geometries as GeoJSON geometry objects: POINT,
//! LINESTRING, POLYGON, MULTIPOINT, MULTILINESTRING and MULTIPOLYGON, with an
//! optional Z (kept as the altitude) and an optional `SRID=4326;` prefix.
//! Validity (ranges, rings, degenerate lines) is left to the model's
//! geometry validation, like any GeoJSON input's.

use serde_json::{json, Value};

/// The GeoJSON geometry of a WKT text. A text that is not WKT becomes a
/// geometry whose type names the fault, so validation refuses the record
/// with that reason (`wrong geometry type invalid WKT (...)`).
pub fn to_geojson(text: &str) -> Value {
    match parse(text) {
        Ok(v) => v,
        Err(e) => json!({ "type": format!("invalid WKT ({e})") }),
    }
}

fn parse(text: &str) -> Result<Value, String> {
    let mut t = text.trim();
    let srid_prefix = t.get(..5).is_some_and(|p| p.eq_ignore_ascii_case("SRID="));
    if let Some((srid, rest)) = t.split_once(';').filter(|_| srid_prefix) {
        let srid = srid.trim().to_ascii_uppercase();
        match srid.as_str() {
            "SRID=4326" => t = rest.trim(),
            _ => {
                return Err(format!(
                    "{srid}: only WGS 84 (SRID=4326) is read; reproject the file first"
                ))
            }
        }
    }
    if t.is_empty() {
        return Err("empty cell".into());
    }
    let mut p = Parser {
        s: t.as_bytes(),
        at: 0,
    };
    let word = p.word().to_ascii_uppercase();
    // `POINT Z (...)`, `POINTZ (...)`: the third value is the altitude.
    let word = word.strip_suffix('Z').unwrap_or(&word).to_string();
    p.skip_ws();
    if matches!(p.s.get(p.at), Some(b'Z' | b'z')) {
        p.at += 1;
    }
    let (ty, coords) = match word.as_str() {
        "POINT" => ("Point", p.position()?),
        "LINESTRING" => ("LineString", p.list(|p| p.bare_position())?),
        "POLYGON" => ("Polygon", p.list(|p| p.list(|p| p.bare_position()))?),
        "MULTIPOINT" => ("MultiPoint", p.list(|p| p.point_in_multi())?),
        "MULTILINESTRING" => (
            "MultiLineString",
            p.list(|p| p.list(|p| p.bare_position()))?,
        ),
        "MULTIPOLYGON" => (
            "MultiPolygon",
            p.list(|p| p.list(|p| p.list(|p| p.bare_position())))?,
        ),
        "" => return Err("no geometry type at byte 1".into()),
        other => return Err(format!("unknown geometry type {other}")),
    };
    p.skip_ws();
    if p.at != p.s.len() {
        return Err(format!("unexpected text at byte {}", p.at + 1));
    }
    Ok(json!({ "type": ty, "coordinates": coords }))
}

struct Parser<'a> {
    s: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while self.s.get(self.at).is_some_and(u8::is_ascii_whitespace) {
            self.at += 1;
        }
    }

    fn word(&mut self) -> String {
        self.skip_ws();
        let start = self.at;
        while self.s.get(self.at).is_some_and(u8::is_ascii_alphabetic) {
            self.at += 1;
        }
        String::from_utf8_lossy(&self.s[start..self.at]).into_owned()
    }

    fn expect(&mut self, b: u8) -> Result<(), String> {
        self.skip_ws();
        if self.s.get(self.at) == Some(&b) {
            self.at += 1;
            Ok(())
        } else {
            Err(format!("expected '{}' at byte {}", b as char, self.at + 1))
        }
    }

    fn number(&mut self) -> Result<Value, String> {
        self.skip_ws();
        let start = self.at;
        while self
            .s
            .get(self.at)
            .is_some_and(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'))
        {
            self.at += 1;
        }
        let text = std::str::from_utf8(&self.s[start..self.at]).unwrap_or("");
        text.parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| format!("expected a number at byte {}", start + 1))
    }

    /// `x y` or `x y z`.
    fn bare_position(&mut self) -> Result<Value, String> {
        let mut out = vec![self.number()?, self.number()?];
        self.skip_ws();
        if self
            .s
            .get(self.at)
            .is_some_and(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.'))
        {
            out.push(self.number()?);
        }
        Ok(Value::Array(out))
    }

    /// `(x y)`.
    fn position(&mut self) -> Result<Value, String> {
        self.expect(b'(')?;
        let p = self.bare_position()?;
        self.expect(b')')?;
        Ok(p)
    }

    /// A MULTIPOINT member: `(x y)` or, as many writers do, `x y`.
    fn point_in_multi(&mut self) -> Result<Value, String> {
        self.skip_ws();
        if self.s.get(self.at) == Some(&b'(') {
            self.position()
        } else {
            self.bare_position()
        }
    }

    /// `( item, item, ... )`.
    fn list(
        &mut self,
        item: impl Fn(&mut Self) -> Result<Value, String> + Copy,
    ) -> Result<Value, String> {
        self.expect(b'(')?;
        let mut out = vec![item(self)?];
        loop {
            self.skip_ws();
            match self.s.get(self.at) {
                Some(b',') => {
                    self.at += 1;
                    out.push(item(self)?);
                }
                Some(b')') => {
                    self.at += 1;
                    return Ok(Value::Array(out));
                }
                _ => return Err(format!("expected ',' or ')' at byte {}", self.at + 1)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn geometries() {
        assert_eq!(
            to_geojson("POINT (26.486881 5.399784)"),
            json!({"type":"Point","coordinates":[26.486881,5.399784]})
        );
        assert_eq!(
            to_geojson("SRID=4326;point z(1 2 3)"),
            json!({"type":"Point","coordinates":[1.0,2.0,3.0]})
        );
        assert_eq!(
            to_geojson("LINESTRING(1 2, 3 4)"),
            json!({"type":"LineString","coordinates":[[1.0,2.0],[3.0,4.0]]})
        );
        assert_eq!(
            to_geojson("POLYGON ((0 0, 1 0, 1 1, 0 0))"),
            json!({"type":"Polygon","coordinates":[[[0.0,0.0],[1.0,0.0],[1.0,1.0],[0.0,0.0]]]})
        );
        assert_eq!(
            to_geojson("MULTIPOINT (1 2, (3 4))"),
            json!({"type":"MultiPoint","coordinates":[[1.0,2.0],[3.0,4.0]]})
        );
        assert_eq!(
            to_geojson("MULTIPOLYGON (((0 0, 1 0, 1 1, 0 0)))")["type"],
            "MultiPolygon"
        );
    }

    /// Every malformed text is a fault with its place, never a panic.
    #[test]
    fn faults_are_named() {
        for (text, want) in [
            ("", "empty cell"),
            ("POINT", "expected '(' at byte 6"),
            ("POINT (1)", "expected a number at byte 9"),
            ("POINT (1 2", "expected ')' at byte 11"),
            ("POINT (1 2) x", "unexpected text at byte 13"),
            ("CIRCLE (1 2)", "unknown geometry type CIRCLE"),
            ("LINESTRING (1 2; 3 4)", "expected ',' or ')' at byte 16"),
            ("SRID=32634;POINT (1 2)", "SRID=32634: only WGS 84"),
            ("POINT (NaN 2)", "expected a number at byte 8"),
            ("POINT (1e999 2)", "expected a number at byte 8"),
            ("(((", "no geometry type at byte 1"),
            ("POINT (1 2 3 4)", "expected ')' at byte 14"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.contains(want), "{text}: {e}");
            let g = to_geojson(text);
            assert!(g["type"].as_str().is_some_and(|t| t.contains(want)), "{g}");
        }
    }
}
