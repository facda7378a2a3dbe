//! Arguments shared by the analysis commands: which events, with what weight,
//! and where the result goes.

use super::{parse_bbox, parse_time_arg, parse_to_arg};
use crate::analysis::events::{load_events, EventFilter, Weight};
use crate::analysis::Events;
use crate::model::Layer;
use crate::store::GpkgStore;
use std::io::Write;
use std::path::PathBuf;

/// Event selection and output, common to `hotspots` and `clusters`.
#[derive(Debug, clap::Args)]
pub struct EventArgs {
    /// Point layer to analyse: incidents or sightings.
    #[arg(long, default_value = "incidents")]
    pub layer: Layer,
    /// Only events from this time on (RFC 3339 or date).
    #[arg(long, value_parser = parse_time_arg)]
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    /// Only events up to this time (RFC 3339, or a date: through the end of that day).
    #[arg(long, value_parser = parse_to_arg)]
    pub to: Option<chrono::DateTime<chrono::Utc>>,
    /// Only events within min_lon,min_lat,max_lon,max_lat (also the default analysis area).
    #[arg(long, value_parser = parse_bbox, allow_hyphen_values = true)]
    pub bbox: Option<[f64; 4]>,
    /// Only these categories (sightings: activities), comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub category: Vec<String>,
    /// Only these perpetrators: a perpetrator category or an exact name, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub perpetrator: Vec<String>,
    /// Only events at least this established: alert, reported, corroborated, verified.
    #[arg(long, value_name = "STATUS")]
    pub min_verification: Option<String>,
    /// Only events at least this precisely located: exact, settlement, district, province.
    #[arg(long, value_name = "PRECISION")]
    pub min_precision: Option<String>,
    /// What each event weighs: count, fatalities, casualties, people-affected or field:<name>.
    #[arg(long, default_value = "count")]
    pub weight: String,
    /// Output GeoJSON file (default: standard output).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

impl EventArgs {
    /// Loads the selected events from the store.
    pub fn load(&self, store: &GpkgStore) -> crate::Result<Events> {
        let filter = EventFilter {
            from: self.from,
            to: self.to,
            bbox: self.bbox,
            categories: self.category.clone(),
            perpetrators: self.perpetrator.clone(),
            min_verification: self.min_verification.clone(),
            min_precision: self.min_precision.clone(),
        };
        let weight: Weight = self.weight.parse()?;
        Ok(load_events(store, self.layer, &filter, &weight)?)
    }

    /// Writes a result to the output file or standard output.
    pub fn write(&self, value: &serde_json::Value) -> crate::Result<()> {
        let io =
            |e: std::io::Error| crate::store::StoreError::Aborted(format!("writing output: {e}"));
        let out: Box<dyn Write> = match &self.output {
            Some(p) => Box::new(std::fs::File::create(p).map_err(io)?),
            None => Box::new(std::io::stdout().lock()),
        };
        let mut out = std::io::BufWriter::new(out);
        serde_json::to_writer(&mut out, value).map_err(|e| io(e.into()))?;
        out.write_all(b"\n").map_err(io)?;
        out.flush().map_err(io)?;
        Ok(())
    }
}
