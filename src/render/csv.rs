//! A product's table as CSV (RFC 4180).

use super::geojson::field;
use crate::analysis::product::{Fields, Product};
use serde_json::Value;

fn cell(v: &Value) -> String {
    match v {
        Value::String(s) if s.contains([',', '"', '\n', '\r']) => {
            format!("\"{}\"", s.replace('"', "\"\""))
        }
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        v => v.to_string(),
    }
}

/// Rows as CSV with a header of `columns`; a column a row lacks is empty.
pub fn rows(columns: &[&str], rows: &[Fields]) -> String {
    let mut out = columns.join(",");
    out.push_str("\r\n");
    for r in rows {
        let line: Vec<String> = columns
            .iter()
            .map(|c| {
                r.iter()
                    .find(|(k, _)| k == c)
                    .map_or(String::new(), |(_, f)| cell(&field(f)))
            })
            .collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}

/// The product's table `name` as CSV with a header of `columns`, and its
/// number of rows.
pub fn table(p: &Product, name: &str, columns: &[&str]) -> (String, u64) {
    let empty = Vec::new();
    let t = p
        .tables
        .iter()
        .find(|(n, _)| *n == name)
        .map_or(&empty, |(_, r)| r);
    (rows(columns, t), t.len() as u64)
}

/// Column order of the impact table as CSV: the rows of the GeoJSON's
/// `jointmap.table`, `spanning` being the incidents under way at an onset.
pub const IMPACT_COLUMNS: &[&str] = &[
    "group",
    "kind",
    "key",
    "name",
    "cells",
    "unmatched",
    "before",
    "after",
    "spanning",
    "rate_before",
    "rate_after",
    "control_before",
    "control_after",
    "control_rate_before",
    "control_rate_after",
    "did",
];

/// The impact table of a (gated) product as CSV (RFC 4180), with its
/// number of rows: the same rows as the GeoJSON's `jointmap.table`.
pub fn impact_table(product: &Product) -> (String, u64) {
    table(product, "table", IMPACT_COLUMNS)
}
