//! `jointmap check`: every stored feature validated again exactly as ingest
//! validates it (`model::feature`), so a record edited outside jointmap
//! (QGIS, `ogrinfo -sql`: a category "kiling", a negative count, a broken
//! geometry) is found before an analysis counts it; optionally moved aside
//! into the quarantine, unchanged and restorable. Backend-neutral: it reads
//! and writes through a [`Batch`] only.

use super::{Batch, Result, Store, StoredRow};
use crate::model::{Bounds, Feature, Layer, Problem};
use std::fmt;

/// What to do with invalid features.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fix {
    /// Report them; write nothing.
    Report,
    /// Report them and move them into the quarantine, all in one transaction.
    Quarantine,
}

/// One stored feature that fails validation.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// Its layer.
    pub layer: Layer,
    /// The backend's row key.
    pub key: i64,
    /// Its stored id.
    pub id: String,
    /// Every problem, as ingest names them.
    pub problems: Vec<Problem>,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: stored feature (id {:?})", self.layer, self.id)?;
        for (i, p) in self.problems.iter().enumerate() {
            write!(f, "{} {p}", if i == 0 { ":" } else { ";" })?;
        }
        Ok(())
    }
}

/// The outcome of a check.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    /// Features read.
    pub checked: u64,
    /// The invalid ones, in layer and storage order.
    pub findings: Vec<Finding>,
    /// How many were moved into the quarantine.
    pub quarantined: u64,
}

/// The problems of one stored row: why it cannot be read as a feature, or
/// what ingest's validation says of it.
pub fn problems(layer: Layer, row: &StoredRow, bounds: &Bounds) -> Vec<Problem> {
    match &row.feature {
        Err(reason) => vec![Problem::new("(stored row)", reason.clone())],
        Ok(f) => match Feature::from_geojson_with(layer, f.to_geojson(), "", bounds) {
            Ok(_) => Vec::new(),
            Err(invalid) => invalid.problems,
        },
    }
}

/// Checks `layers` of `store`, and with [`Fix::Quarantine`] moves every
/// invalid feature into the quarantine in the same transaction the check
/// read in (nothing can change in between). With [`Fix::Report`] nothing is
/// written.
pub fn check(store: &dyn Store, layers: &[Layer], fix: Fix, bounds: &Bounds) -> Result<Report> {
    let mut batch = store.begin()?;
    let mut report = Report::default();
    for &layer in layers {
        // Rows are validated in parallel, a chunk at a time (validation is
        // what costs, not the read), and reported in storage order.
        let mut chunk = Vec::with_capacity(CHUNK);
        let findings = &mut report.findings;
        report.checked += batch.inspect(layer, &mut |row| {
            chunk.push(row);
            if chunk.len() == CHUNK {
                validate(layer, &mut chunk, bounds, findings);
            }
            Ok(())
        })?;
        validate(layer, &mut chunk, bounds, &mut report.findings);
    }
    if fix == Fix::Quarantine && !report.findings.is_empty() {
        quarantine(batch.as_mut(), &report.findings)?;
        report.quarantined = report.findings.len() as u64;
        batch.commit()?;
    }
    Ok(report)
}

/// Rows validated together: enough to share among the cores, few enough to
/// keep memory flat.
const CHUNK: usize = 4096;

/// Validates and empties `rows`, adding the invalid ones to `findings` in order.
fn validate(layer: Layer, rows: &mut Vec<StoredRow>, bounds: &Bounds, findings: &mut Vec<Finding>) {
    use rayon::prelude::*;
    let problems: Vec<Vec<Problem>> = rows
        .par_iter()
        .map(|r| problems(layer, r, bounds))
        .collect();
    for (row, problems) in rows.drain(..).zip(problems) {
        if !problems.is_empty() {
            findings.push(Finding {
                layer,
                key: row.key,
                id: row.id,
                problems,
            });
        }
    }
}

fn quarantine(batch: &mut dyn Batch, findings: &[Finding]) -> Result<()> {
    for f in findings {
        let reasons: Vec<String> = f.problems.iter().map(|p| p.to_string()).collect();
        batch.quarantine(f.layer, f.key, &reasons.join("; "))?;
    }
    Ok(())
}
