//! Event selection shared by the analysis requests: which events, with what
//! weight.

use super::{parse_bbox, parse_time_arg, parse_to_arg};
use crate::analysis::events::{load_events, load_events_shared, EventFilter, Weight};
use crate::analysis::Events;
use crate::model::Layer;
use crate::store::FeatureSource;
use std::sync::Arc;

/// Event selection common to `hotspots` and `clusters`: a point layer and
/// a filter.
#[derive(Debug, Clone, clap::Args, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct EventArgs {
    /// Point layer to analyse: incidents or sightings.
    #[arg(long, default_value = "incidents")]
    #[serde(serialize_with = "super::record::display")]
    pub layer: Layer,
    /// Which events, with what weight.
    #[command(flatten)]
    #[serde(flatten)]
    pub filter: FilterArgs,
}

impl EventArgs {
    /// Loads the selected events from the store.
    pub fn load(&self, store: &dyn FeatureSource) -> crate::Result<Events> {
        self.filter.load(store, self.layer)
    }

    /// [`EventArgs::load_protected`], with the events shared between calls
    /// when nothing is released and the filter reads the whole layer
    /// ([`load_events_shared`]).
    pub fn load_protected_shared(
        &self,
        store: &dyn FeatureSource,
        protect: Option<&super::Protect<'_>>,
    ) -> crate::Result<Arc<Events>> {
        if protect.is_some() {
            return self.load_protected(store, protect).map(Arc::new);
        }
        let filter = self.filter.event_filter()?;
        let weight: Weight = self.filter.weight.parse()?;
        Ok(load_events_shared(store, self.layer, &filter, &weight)?)
    }

    /// Loads the selected events, released by the gate's `protect` when
    /// given: read over the bbox widened by the protection margin, then
    /// handed to the gate with the window and the bbox.
    pub fn load_protected(
        &self,
        store: &dyn FeatureSource,
        protect: Option<&super::Protect<'_>>,
    ) -> crate::Result<Events> {
        let Some(p) = protect else {
            return self.load(store);
        };
        let mut filter = self.filter.event_filter()?;
        filter.bbox = self.filter.bbox.map(|b| super::widen_bbox(b, p.margin_m));
        let weight: Weight = self.filter.weight.parse()?;
        let events = load_events(store, self.layer, &filter, &weight)?;
        Ok((p.release)(
            self.layer,
            events,
            (
                self.filter.from.map(|t| t.timestamp()),
                self.filter.to.map(|t| t.timestamp()),
            ),
            self.filter.bbox,
        ))
    }
}

/// Which events of a layer, and what each weighs.
#[derive(Debug, Clone, clap::Args, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct FilterArgs {
    /// Only events from this time on (RFC 3339 or date).
    #[arg(long, value_parser = parse_time_arg)]
    #[serde(serialize_with = "super::record::time")]
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    /// Only events up to this time (RFC 3339, or a date: through the end of that day).
    #[arg(long, value_parser = parse_to_arg)]
    #[serde(serialize_with = "super::record::time")]
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
}

impl FilterArgs {
    /// Whether the filter keeps every event of the window (no category,
    /// perpetrator, verification or precision condition).
    pub fn is_plain(&self) -> bool {
        self.category.is_empty()
            && self.perpetrator.is_empty()
            && self.min_verification.is_none()
            && self.min_precision.is_none()
    }

    /// Loads the selected events of `layer` from the store.
    pub fn load(&self, store: &dyn FeatureSource, layer: Layer) -> crate::Result<Events> {
        self.load_window(store, layer, self.from, self.to)
    }

    /// Loads the selected events of `layer` within `[from, to]` (which
    /// replace `--from` and `--to`, e.g. once their defaults are resolved).
    pub fn load_window(
        &self,
        store: &dyn FeatureSource,
        layer: Layer,
        from: Option<chrono::DateTime<chrono::Utc>>,
        to: Option<chrono::DateTime<chrono::Utc>>,
    ) -> crate::Result<Events> {
        let filter = EventFilter {
            from,
            to,
            ..self.event_filter()?
        };
        let weight: Weight = self.weight.parse()?;
        Ok(load_events(store, layer, &filter, &weight)?)
    }

    /// The filter these arguments describe.
    pub fn event_filter(&self) -> crate::Result<EventFilter> {
        Ok(EventFilter {
            from: self.from,
            to: self.to,
            bbox: self.bbox,
            categories: self.category.clone(),
            perpetrators: self.perpetrator.clone(),
            min_verification: self.min_verification.clone(),
            min_precision: self.min_precision.clone(),
        })
    }
}
