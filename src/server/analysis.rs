//! Analysis endpoints: `GET /analysis/<name>?<flag>=<value>...`.
//!
//! The query parameters are the command line's flags without the dashes
//! (`?cell-km=5&kernel=gaussian&category=killing,abduction`): they are turned
//! into an argument list and parsed by the same clap definitions as the CLI
//! ([`crate::request`]), so names, defaults and validation are identical.
//! A boolean flag is given as `name=true` (or `false`, the default).
//!
//! Adding an endpoint: implement [`AnalysisRequest`] for its request type
//! (below) and add one `.route` line in [`routes`].

use super::auth::{counted, Caller, Computation, Job, Render};
use super::params;
use super::problem::ApiError;
use crate::access::AggregateRules;
use crate::model::Layer;
use crate::request;
use crate::store::Store;
use axum::extract::RawQuery;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chrono::{DateTime, Utc};
use clap::{ArgAction, Args, FromArgMatches};
use serde_json::Value;

/// A request type the server exposes as `/analysis/{NAME}`.
pub trait AnalysisRequest: Args + FromArgMatches + std::fmt::Debug + Send + 'static {
    /// The endpoint's name.
    const NAME: &'static str;
    /// Parameters that may not be used over HTTP (e.g. server file paths).
    const LOCAL_ONLY: &'static [&'static str] = &[];
    /// Formats `f` may ask for besides JSON: name, media type, and how the
    /// gated GeoJSON is written in it.
    const FORMATS: &'static [(&'static str, &'static str, Render)] = &[];
    /// Members of the result's `jointmap` object holding aggregate rows,
    /// gated like features (see [`Job::tables`]).
    const TABLES: &'static [&'static str] = &[];
    /// The main layer: the output is gated under its aggregate rules (made
    /// as strict as those of every other layer read).
    fn layer(&self) -> Layer;
    /// Every layer the analysis reads; each is admitted under its own
    /// rules, and layers not listed give the analysis nothing.
    fn reads(&self) -> Vec<Layer> {
        vec![self.layer()]
    }
    /// Adapts the request to the caller's aggregate rules and the server's
    /// limits: coarsens cells, cuts recent data, refuses what may not be asked.
    fn restrict(
        &mut self,
        rules: &AggregateRules,
        limits: &super::config::Limits,
        now: DateTime<Utc>,
    ) -> Result<(), ApiError>;
    /// Runs it.
    fn compute(&self, store: &dyn Store) -> crate::Result<Value>;
    /// Prepares the result for the gate: rewrites references to individual
    /// features the caller may not see (`shown(layer, id)` says whether it
    /// may), fills in conservatively what the gate needs and the analysis
    /// left out.
    fn before_gate(&self, _result: &mut Value, _shown: &dyn Fn(Layer, &str) -> bool) {}
}

/// The analysis routes.
pub fn routes<S: Clone + Send + Sync + 'static>(r: Router<S>) -> Router<S> {
    r.route(
        "/analysis/hotspots",
        get(handle::<request::hotspots::HotspotRequest>),
    )
    .route(
        "/analysis/clusters",
        get(handle::<request::clusters::ClusterRequest>),
    )
    .route(
        "/analysis/coverage",
        get(handle::<request::coverage::CoverageRequest>),
    )
    .route(
        "/analysis/blindspots",
        get(handle::<request::blindspots::BlindspotRequest>),
    )
    .route(
        "/analysis/impact",
        get(handle::<request::impact::ImpactRequest>),
    )
}

/// One analysis endpoint, for the API document.
pub struct Endpoint {
    /// Its name (`/analysis/{name}`).
    pub name: &'static str,
    /// The clap command of its parameters.
    pub command: clap::Command,
    /// Parameters not offered over HTTP.
    pub local_only: &'static [&'static str],
    /// Formats besides JSON: name and media type.
    pub formats: Vec<(&'static str, &'static str)>,
}

/// Every analysis endpoint, for the API document.
pub fn endpoints() -> Vec<Endpoint> {
    fn one<A: AnalysisRequest>() -> Endpoint {
        Endpoint {
            name: A::NAME,
            command: command::<A>(),
            local_only: A::LOCAL_ONLY,
            formats: A::FORMATS.iter().map(|(n, t, _)| (*n, *t)).collect(),
        }
    }
    vec![
        one::<request::hotspots::HotspotRequest>(),
        one::<request::clusters::ClusterRequest>(),
        one::<request::coverage::CoverageRequest>(),
        one::<request::blindspots::BlindspotRequest>(),
        one::<request::impact::ImpactRequest>(),
    ]
}

fn command<A: Args>() -> clap::Command {
    A::augment_args(
        clap::Command::new("jointmap")
            .no_binary_name(true)
            .disable_help_flag(true)
            .disable_version_flag(true),
    )
}

/// The format `f` asks for: `None` for JSON, else one of `A::FORMATS`.
fn format<A: AnalysisRequest>(
    pairs: &[(String, String)],
) -> Result<Option<&'static (&'static str, &'static str, Render)>, ApiError> {
    let mut out = None;
    for (k, v) in pairs.iter().filter(|(k, _)| k == "f") {
        if let Some(f) = A::FORMATS.iter().find(|f| f.0.eq_ignore_ascii_case(v)) {
            out = Some(f);
            continue;
        }
        if A::FORMATS.is_empty() {
            params::check_f(v)?;
        } else if params::check_f(v).is_err() {
            let names: Vec<&str> = A::FORMATS.iter().map(|f| f.0).collect();
            return Err(ApiError::param(
                k,
                format!(
                    "{v:?} is not an available format; use json, geojson or {}",
                    names.join(", ")
                ),
            ));
        }
        out = None;
    }
    Ok(out)
}

/// Turns query pairs into arguments and parses them with `A`'s definitions.
pub fn parse<A: AnalysisRequest>(pairs: &[(String, String)]) -> Result<A, ApiError> {
    let cmd = command::<A>();
    let mut argv: Vec<String> = Vec::new();
    for (k, v) in pairs {
        if k == "f" {
            format::<A>(&[(k.clone(), v.clone())])?;
            continue;
        }
        if A::LOCAL_ONLY.contains(&k.as_str()) {
            return Err(ApiError::param(k, "not available over HTTP"));
        }
        let Some(arg) = cmd
            .get_arguments()
            .find(|a| a.get_long() == Some(k.as_str()))
        else {
            return Err(ApiError::param(
                k,
                format!(
                    "unknown parameter; /analysis/{} takes {}",
                    A::NAME,
                    cmd.get_arguments()
                        .filter_map(|a| a.get_long())
                        .filter(|l| !A::LOCAL_ONLY.contains(l))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        };
        params::analysis_number(k, v)?;
        if matches!(arg.get_action(), ArgAction::SetTrue) {
            match v.as_str() {
                "true" | "1" | "" => argv.push(format!("--{k}")),
                "false" | "0" => {}
                _ => return Err(ApiError::param(k, format!("{v:?} is not true or false"))),
            }
        } else if arg.get_num_args().is_some_and(|n| n.min_values() > 1) {
            // A fixed number of values (`likelihood-breaks=1,2,4,8`): clap
            // wants them as separate arguments.
            let delimiter = arg.get_value_delimiter().unwrap_or(',');
            argv.push(format!("--{k}"));
            argv.extend(v.split(delimiter).map(str::to_string));
        } else {
            argv.push(format!("--{k}={v}"));
        }
    }
    let matches = cmd.try_get_matches_from(&argv).map_err(clap_error)?;
    A::from_arg_matches(&matches).map_err(clap_error)
}

/// A clap error as a 400 naming the parameter.
fn clap_error(e: clap::Error) -> ApiError {
    use clap::error::{ContextKind, ContextValue};
    let name = match e.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(s)) => s
            .trim_start_matches('-')
            .split([' ', '=', '<'])
            .next()
            .unwrap_or("")
            .to_string(),
        Some(ContextValue::Strings(v)) => v
            .first()
            .map(|s| {
                s.trim_start_matches('-')
                    .split([' ', '=', '<'])
                    .next()
                    .unwrap_or("")
                    .to_string()
            })
            .unwrap_or_default(),
        _ => String::new(),
    };
    let text = e.render().to_string();
    let first = text
        .lines()
        .next()
        .unwrap_or("")
        .trim_start_matches("error: ")
        .replace("'--", "'")
        .to_string();
    ApiError::param(if name.is_empty() { "(query)" } else { &name }, first)
}

async fn handle<A: AnalysisRequest>(
    caller: Caller,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let pairs = params::pairs(q.as_deref());
    let req: A = parse(&pairs)?;
    let format = format::<A>(&pairs)?;
    let layer = req.layer();
    let reads = req.reads();
    let limits = caller.settings().limits.clone();
    let body = caller
        .aggregate(A::NAME, layer, &reads, move |rules, now| {
            let mut req = req;
            req.restrict(rules, &limits, now)?;
            let key = format!("{req:?}\nf={}", format.map_or("json", |f| f.0));
            let compute: Computation = Box::new(move |store: &dyn Store, shown| {
                let mut result = req.compute(store)?;
                req.before_gate(&mut result, shown);
                Ok(result)
            });
            Ok(Job {
                key,
                compute,
                tables: A::TABLES,
                render: format.map(|f| f.2),
            })
        })
        .await
        .map_err(canonical_parameter::<A>)?;
    let n = body.features;
    let gzip = body.gzip.filter(|_| accepts_gzip(&headers));
    let compressed = gzip.is_some();
    let mut r = gzip.unwrap_or(body.plain).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.map_or("application/geo+json", |f| f.1)),
    );
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if compressed {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    Ok(counted(r, n))
}

/// Names a parameter as the endpoint's query parameter when an analysis
/// named it by a shorter form (`bandwidth` for `bandwidth-km`): the one
/// parameter whose name starts with it followed by a dash.
fn canonical_parameter<A: AnalysisRequest>(mut e: ApiError) -> ApiError {
    let Some(name) = e.extra.get("parameter").and_then(Value::as_str) else {
        return e;
    };
    let cmd = command::<A>();
    let longs: Vec<&str> = cmd.get_arguments().filter_map(|a| a.get_long()).collect();
    if name == "(query)" || longs.contains(&name) {
        return e;
    }
    let prefix = format!("{name}-");
    let mut matching = longs.iter().filter(|l| l.starts_with(&prefix));
    if let (Some(one), None) = (matching.next(), matching.next()) {
        let one = one.to_string();
        e.detail = e
            .detail
            .replacen(&format!("`{name}`"), &format!("`{one}`"), 1);
        e.extra.insert("parameter".into(), Value::String(one));
    }
    e
}

/// Whether `Accept-Encoding` admits gzip (and does not give it q=0).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or("").trim();
            let q_zero = parts.any(|p| {
                p.trim()
                    .strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    == Some(0.0)
            });
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !q_zero
        })
}

/// The latest admissible time under the rules' delay, from `now` rounded
/// down to the hour so that responses stay cacheable for an hour.
fn cutoff(rules: &AggregateRules, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    rules.cutoff(super::auth::hour(now))
}

fn restrict_events(
    ev: &mut request::events::EventArgs,
    rules: &AggregateRules,
    now: DateTime<Utc>,
) {
    if let Some(c) = cutoff(rules, now) {
        ev.filter.to = Some(ev.filter.to.map_or(c, |t| t.min(c)));
    }
}

/// Caps the end of an analysis window at the rules' cutoff. Without an end,
/// the window's default (the latest data) comes from the admitted store,
/// whose summaries never reach beyond the cutoff either.
fn restrict_window_end(to: &mut Option<DateTime<Utc>>, rules: &AggregateRules, now: DateTime<Utc>) {
    if let (Some(c), Some(t)) = (cutoff(rules, now), to.as_mut()) {
        *t = (*t).min(c);
    }
}

/// Refuses `area` (a file on the server).
fn refuse_area(area: &Option<std::path::PathBuf>) -> Result<(), ApiError> {
    match area {
        Some(_) => Err(ApiError::param("area", "not available over HTTP")),
        None => Ok(()),
    }
}

/// Holds a grid to the server's limits and coarsens it to the rules'
/// minimum cell: square cells of at least `min_cell_m`, or the finest H3
/// resolution whose cells are at least that across.
fn restrict_grid(
    grid: &str,
    cell_km: &mut f64,
    h3_resolution: &mut u8,
    rules: &AggregateRules,
    limits: &super::config::Limits,
) -> Result<(), ApiError> {
    if grid == "h3" {
        if *h3_resolution > limits.max_h3_resolution {
            return Err(ApiError::param(
                "h3-resolution",
                format!("at most {} on this server", limits.max_h3_resolution),
            ));
        }
        while *h3_resolution > 0 && h3_cell_m(*h3_resolution) < rules.min_cell_m {
            *h3_resolution -= 1;
        }
    } else {
        if cell_km.is_finite() && *cell_km < limits.min_cell_km {
            return Err(ApiError::param(
                "cell-km",
                format!("at least {} km on this server", limits.min_cell_km),
            ));
        }
        *cell_km = cell_km.max(rules.min_cell_m / 1000.0);
    }
    Ok(())
}

/// The most cells an analysis grid may have: fewer when every cell is
/// written (`all-cells=true`).
fn cell_budget(limits: &super::config::Limits, all_cells: bool) -> usize {
    if all_cells {
        limits.max_output_cells.min(limits.max_cells)
    } else {
        limits.max_cells
    }
}

/// [`restrict_grid`] for the grid arguments of the presence requests, after
/// refusing `area`.
fn restrict_grid_args(
    g: &mut request::surface::GridArgs,
    rules: &AggregateRules,
    limits: &super::config::Limits,
) -> Result<(), ApiError> {
    refuse_area(&g.area)?;
    g.max_cells = limits.max_cells;
    restrict_grid(&g.grid, &mut g.cell_km, &mut g.h3_resolution, rules, limits)
}

impl AnalysisRequest for request::hotspots::HotspotRequest {
    const NAME: &'static str = "hotspots";
    const LOCAL_ONLY: &'static [&'static str] = &["area"];
    fn layer(&self) -> Layer {
        self.events.layer
    }
    fn restrict(
        &mut self,
        rules: &AggregateRules,
        limits: &super::config::Limits,
        now: DateTime<Utc>,
    ) -> Result<(), ApiError> {
        refuse_area(&self.area)?;
        if self.permutations > limits.max_permutations {
            return Err(ApiError::param(
                "permutations",
                format!("at most {} on this server", limits.max_permutations),
            ));
        }
        restrict_grid(
            &self.grid,
            &mut self.cell_km,
            &mut self.h3_resolution,
            rules,
            limits,
        )?;
        self.max_cells = cell_budget(limits, self.all_cells);
        restrict_events(&mut self.events, rules, now);
        Ok(())
    }
    fn compute(&self, store: &dyn Store) -> crate::Result<Value> {
        Ok(self.run(store)?.geojson)
    }
}

/// Side of a square with the mean area of an H3 cell at `res`, metres.
fn h3_cell_m(res: u8) -> f64 {
    h3o::Resolution::try_from(res).map_or(f64::INFINITY, |r| r.area_m2().sqrt())
}

impl AnalysisRequest for request::clusters::ClusterRequest {
    const NAME: &'static str = "clusters";
    fn layer(&self) -> Layer {
        self.events.layer
    }
    fn restrict(
        &mut self,
        rules: &AggregateRules,
        _limits: &super::config::Limits,
        now: DateTime<Utc>,
    ) -> Result<(), ApiError> {
        if self.points && !rules.full {
            return Err(ApiError::param(
                "points",
                "individual events are only for roles that see this layer in full",
            ));
        }
        restrict_events(&mut self.events, rules, now);
        Ok(())
    }
    fn compute(&self, store: &dyn Store) -> crate::Result<Value> {
        Ok(self.run(store)?.geojson)
    }
}

/// Presence per cell: patrols (the main layer: their rules coarsen and
/// delay the surface for roles other than military), bases, and incidents
/// and sightings as reports.
impl AnalysisRequest for request::coverage::CoverageRequest {
    const NAME: &'static str = "coverage";
    const LOCAL_ONLY: &'static [&'static str] = &["area"];
    fn layer(&self) -> Layer {
        Layer::Patrols
    }
    fn reads(&self) -> Vec<Layer> {
        vec![
            Layer::Patrols,
            Layer::Bases,
            Layer::Incidents,
            Layer::Sightings,
        ]
    }
    fn restrict(
        &mut self,
        rules: &AggregateRules,
        limits: &super::config::Limits,
        now: DateTime<Utc>,
    ) -> Result<(), ApiError> {
        restrict_grid_args(&mut self.grid, rules, limits)?;
        self.grid.max_cells = cell_budget(limits, self.all_cells);
        restrict_window_end(&mut self.to, rules, now);
        Ok(())
    }
    fn compute(&self, store: &dyn Store) -> crate::Result<Value> {
        Ok(self.run(store)?.geojson)
    }
    /// A cell's reports include incidents: without `count_sensitive`, every
    /// report is presumed sensitive (as the gate presumes for incident
    /// aggregates), so that `k_sensitive` holds.
    fn before_gate(&self, result: &mut Value, _shown: &dyn Fn(Layer, &str) -> bool) {
        presume_reports_sensitive(result);
    }
}

/// Sets `count_sensitive` to `reports` on features that have no
/// `count_sensitive` (see [`request::coverage::CoverageRequest`]'s
/// `before_gate`).
fn presume_reports_sensitive(result: &mut Value) {
    let Some(features) = result.get_mut("features").and_then(Value::as_array_mut) else {
        return;
    };
    for f in features {
        let Some(p) = f.get_mut("properties").and_then(Value::as_object_mut) else {
            continue;
        };
        if !p.contains_key("count_sensitive") {
            let reports = p.get("reports").cloned().unwrap_or(Value::from(0));
            p.insert("count_sensitive".into(), reports);
        }
    }
}

/// Blind spots: incidents (the main layer) and every other layer.
impl AnalysisRequest for request::blindspots::BlindspotRequest {
    const NAME: &'static str = "blindspots";
    const LOCAL_ONLY: &'static [&'static str] = &["area"];
    fn layer(&self) -> Layer {
        Layer::Incidents
    }
    fn reads(&self) -> Vec<Layer> {
        Layer::ALL.to_vec()
    }
    fn restrict(
        &mut self,
        rules: &AggregateRules,
        limits: &super::config::Limits,
        now: DateTime<Utc>,
    ) -> Result<(), ApiError> {
        restrict_grid_args(&mut self.grid, rules, limits)?;
        restrict_window_end(&mut self.incidents.to, rules, now);
        Ok(())
    }
    fn compute(&self, store: &dyn Store) -> crate::Result<Value> {
        Ok(self.run(store)?.geojson)
    }
}

/// Patrol and base impact: incidents (the main layer) before and after
/// presence began, patrols and bases. `f=csv` gives the table.
impl AnalysisRequest for request::impact::ImpactRequest {
    const NAME: &'static str = "impact";
    const LOCAL_ONLY: &'static [&'static str] = &["area"];
    const FORMATS: &'static [(&'static str, &'static str, Render)] =
        &[("csv", "text/csv; charset=utf-8", impact_csv)];
    const TABLES: &'static [&'static str] = &["table"];
    fn layer(&self) -> Layer {
        Layer::Incidents
    }
    fn reads(&self) -> Vec<Layer> {
        vec![Layer::Incidents, Layer::Patrols, Layer::Bases]
    }
    fn restrict(
        &mut self,
        rules: &AggregateRules,
        limits: &super::config::Limits,
        now: DateTime<Utc>,
    ) -> Result<(), ApiError> {
        restrict_grid_args(&mut self.grid, rules, limits)?;
        restrict_window_end(&mut self.incidents.to, rules, now);
        Ok(())
    }
    fn compute(&self, store: &dyn Store) -> crate::Result<Value> {
        Ok(self.run(store)?.geojson)
    }
    /// Groups of bases the caller may not see individually get an anonymous
    /// label (`base:#1`, ...) in the table and the treated cells' `group`
    /// and `id`, and no name.
    fn before_gate(&self, result: &mut Value, shown: &dyn Fn(Layer, &str) -> bool) {
        anonymise_bases(result, shown);
    }
}

/// See [`request::impact::ImpactRequest`]'s `before_gate`.
fn anonymise_bases(result: &mut Value, shown: &dyn Fn(Layer, &str) -> bool) {
    let mut labels: std::collections::BTreeMap<String, String> = Default::default();
    let mut label = |id: &str| -> Option<String> {
        if shown(Layer::Bases, id) {
            return None;
        }
        let n = labels.len() + 1;
        Some(
            labels
                .entry(id.to_string())
                .or_insert_with(|| format!("#{n}"))
                .clone(),
        )
    };
    if let Some(rows) = result
        .get_mut("jointmap")
        .and_then(|j| j.get_mut("table"))
        .and_then(Value::as_array_mut)
    {
        for row in rows {
            if row["kind"] != "base" {
                continue;
            }
            let Some(l) = row["key"].as_str().and_then(&mut label) else {
                continue;
            };
            row["group"] = Value::String(format!("base:{l}"));
            row["name"] = Value::String(String::new());
            row["key"] = Value::String(l);
        }
    }
    if let Some(features) = result.get_mut("features").and_then(Value::as_array_mut) {
        for f in features {
            let Some(id) = f["properties"]["group"]
                .as_str()
                .and_then(|g| g.strip_prefix("base:"))
                .map(str::to_string)
            else {
                continue;
            };
            let Some(l) = label(&id) else { continue };
            let cell = f["properties"]["cell"].as_str().unwrap_or("").to_string();
            f["properties"]["group"] = Value::String(format!("base:{l}"));
            f["id"] = Value::String(format!("base:{l}:{cell}"));
        }
    }
}

/// The impact table of a gated result as CSV, with its number of rows.
fn impact_csv(gated: &Value) -> (Vec<u8>, u64) {
    let rows = gated["jointmap"]["table"]
        .as_array()
        .map_or(0, |t| t.len() as u64);
    (request::impact::table_csv(gated).into_bytes(), rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(q: &str) -> Vec<(String, String)> {
        params::pairs(Some(q))
    }

    #[test]
    fn parses_like_the_cli() {
        let a: request::hotspots::HotspotRequest = parse(&p(
            "cell-km=2.5&kernel=gaussian&category=killing,abduction&no-fdr=true&bbox=-1,-2,3,4",
        ))
        .unwrap();
        assert_eq!(a.cell_km, 2.5);
        assert_eq!(a.kernel, "gaussian");
        assert_eq!(a.events.filter.category, ["killing", "abduction"]);
        assert!(a.no_fdr);
        assert_eq!(a.events.filter.bbox, Some([-1.0, -2.0, 3.0, 4.0]));
        let d: request::hotspots::HotspotRequest = parse(&[]).unwrap();
        assert_eq!(d.cell_km, 5.0);
        for (q, name) in [
            ("cell-km=abc", "cell-km"),
            ("kernel=box", "kernel"),
            ("colour=red", "colour"),
            ("help=true", "help"),
            ("area=/etc/passwd", "area"),
            ("no-fdr=maybe", "no-fdr"),
            ("bbox=1,2", "bbox"),
            ("band-km=1&knn=3", "knn"),
            ("from=yesterday", "from"),
        ] {
            let e = parse::<request::hotspots::HotspotRequest>(&p(q)).unwrap_err();
            assert_eq!(e.status, 400);
            let got = e.extra["parameter"].as_str().unwrap().to_string();
            assert!(
                got == name || (name == "knn" && got == "band-km"),
                "{q}: named {got:?}: {}",
                e.detail
            );
        }
        let c: request::clusters::ClusterRequest =
            parse(&p("eps-km=3&min-points=4&method=st-dbscan")).unwrap();
        assert_eq!(c.min_points, 4);
    }

    fn rules(role: crate::access::Role, main: Layer, reads: &[Layer]) -> AggregateRules {
        let gate = crate::access::Gate::new(crate::access::Policy::default(), None).unwrap();
        let p = crate::access::Principal {
            name: "t".into(),
            role,
            ingest: vec![],
        };
        super::super::auth::analysis_rules(&gate, &p, main, reads)
            .unwrap()
            .0
    }

    #[test]
    fn presence_requests_parse_and_name_bad_parameters() {
        use request::blindspots::BlindspotRequest;
        use request::coverage::CoverageRequest;
        let c: CoverageRequest = parse(&p(
            "cell-km=20&from=2025-01-01&to=2025-03-31&bbox=17,4,19,6&corridor-foot-km=1&all-cells=true",
        ))
        .unwrap();
        assert_eq!(c.grid.cell_km, 20.0);
        assert_eq!(c.bbox, Some([17.0, 4.0, 19.0, 6.0]));
        assert!(c.all_cells && c.to.is_some());
        let b: BlindspotRequest = parse(&p(
            "min-risk=medium&likelihood-breaks=1,2,3,4&category=killing&cells=true&grid=h3&h3-resolution=6",
        ))
        .unwrap();
        assert_eq!(b.threat.likelihood_breaks, [1.0, 2.0, 3.0, 4.0]);
        assert_eq!(b.incidents.category, ["killing"]);
        assert!(b.cells);
        for (q, name) in [
            ("cell-km=x", "cell-km"),
            ("grid=hex", "grid"),
            ("area=/etc/passwd", "area"),
            ("from=soon", "from"),
            ("bbox=1,2,3", "bbox"),
            ("all-cells=perhaps", "all-cells"),
            ("corridor-foot-km=wide", "corridor-foot-km"),
            ("layer=sightings", "layer"),
        ] {
            let e = parse::<CoverageRequest>(&p(q)).unwrap_err();
            assert_eq!(e.extra["parameter"], name, "{q}: {}", e.detail);
        }
        for (q, name) in [
            ("min-risk=dire", "min-risk"),
            ("max-presence=lots", "max-presence"),
            ("kernel=box", "kernel"),
            ("to=later", "to"),
            ("f=csv", "f"),
        ] {
            let e = parse::<BlindspotRequest>(&p(q)).unwrap_err();
            assert_eq!(e.extra["parameter"], name, "{q}: {}", e.detail);
        }
    }

    #[test]
    fn presence_requests_are_coarsened_delayed_and_kept_to_limits() {
        use crate::access::Role;
        use request::blindspots::BlindspotRequest;
        use request::coverage::CoverageRequest;
        let limits = super::super::config::Limits::default();
        let now = chrono::DateTime::parse_from_rfc3339("2026-03-10T12:34:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let cutoff = now - chrono::Duration::minutes(34) - chrono::Duration::hours(72);
        let cov_reads = [
            Layer::Patrols,
            Layer::Bases,
            Layer::Incidents,
            Layer::Sightings,
        ];
        // Military: patrols in full, but incidents only aggregated: 10 km.
        let mil = rules(Role::Military, Layer::Patrols, &cov_reads);
        assert!(!mil.full && mil.min_cell_m == 10_000.0 && mil.delay_hours == 0.0);
        let mut c: CoverageRequest = parse(&p("cell-km=2&to=2026-03-10")).unwrap();
        c.restrict(&mil, &limits, now).unwrap();
        assert_eq!(c.grid.cell_km, 10.0);
        assert!(c.to.unwrap() > cutoff, "no delay for the military");
        // Hr: incidents in full, patrols delayed: the strictest of both.
        let hr = rules(Role::Hr, Layer::Incidents, &Layer::ALL);
        assert!(!hr.full && hr.min_cell_m == 10_000.0 && hr.delay_hours == 72.0);
        assert_eq!(hr.layer, Layer::Incidents);
        let mut b: BlindspotRequest = parse(&p("cell-km=25&to=2026-03-10")).unwrap();
        b.restrict(&hr, &limits, now).unwrap();
        assert_eq!(b.grid.cell_km, 25.0);
        assert_eq!(b.incidents.to, Some(cutoff));
        let mut b: BlindspotRequest = parse(&p("to=2025-01-01")).unwrap();
        b.restrict(&hr, &limits, now).unwrap();
        assert!(b.incidents.to.unwrap() < cutoff);
        let mut b: BlindspotRequest = parse(&p("")).unwrap();
        b.restrict(&hr, &limits, now).unwrap();
        assert_eq!(
            b.incidents.to, None,
            "the default end comes from the admitted store"
        );
        // H3: the finest resolution of at least 10 km cells.
        let mut b: BlindspotRequest = parse(&p("grid=h3&h3-resolution=8")).unwrap();
        b.restrict(&hr, &limits, now).unwrap();
        assert_eq!(b.grid.h3_resolution, 5);
        // Limits.
        let mut b: BlindspotRequest = parse(&p("grid=h3&h3-resolution=12")).unwrap();
        let e = b.restrict(&hr, &limits, now).unwrap_err();
        assert_eq!(e.extra["parameter"], "h3-resolution");
        let mut c: CoverageRequest = parse(&p("cell-km=0.01")).unwrap();
        let e = c.restrict(&mil, &limits, now).unwrap_err();
        assert_eq!(e.extra["parameter"], "cell-km");
        let mut c: CoverageRequest = parse(&[]).unwrap();
        c.grid.area = Some("/etc/passwd".into());
        let e = c.restrict(&mil, &limits, now).unwrap_err();
        assert_eq!(e.extra["parameter"], "area");
    }

    #[test]
    fn output_rules_are_the_strictest_of_the_layers_read() {
        use crate::access::Role;
        // A single layer: the gate's rules as they are (hotspots, clusters).
        let gate = crate::access::Gate::new(crate::access::Policy::default(), None).unwrap();
        for role in crate::access::Role::ALL {
            let pr = crate::access::Principal {
                name: "t".into(),
                role,
                ingest: vec![],
            };
            for layer in Layer::ALL {
                assert_eq!(
                    rules(role, layer, &[layer]),
                    gate.aggregate_rules(&pr, layer).unwrap()
                );
            }
        }
        // Military over its own layers only: full.
        let r = rules(
            Role::Military,
            Layer::Patrols,
            &[Layer::Patrols, Layer::Bases],
        );
        assert!(r.full && r.list_members && r.min_cell_m == 0.0);
        // Partner over everything: not full, 10 km, delayed.
        let r = rules(Role::Partner, Layer::Incidents, &Layer::ALL);
        assert!(!r.full && r.min_cell_m == 10_000.0 && r.delay_hours == 72.0);
        assert_eq!((r.k, r.k_sensitive), (5, 10));
    }

    #[test]
    fn impact_labels_bases_the_caller_may_not_see_and_writes_csv() {
        use serde_json::json;
        let mut v = json!({"type": "FeatureCollection",
            "features": [
                {"type": "Feature", "id": "base:b-1:r1c1", "properties": {"group": "base:b-1", "cell": "r1c1", "count": 6}},
                {"type": "Feature", "id": "base:b-2:r1c2", "properties": {"group": "base:b-2", "cell": "r1c2", "count": 6}},
                {"type": "Feature", "id": "patrol:foot:r1c3", "properties": {"group": "patrol:foot", "cell": "r1c3", "count": 6}}],
            "jointmap": {"table": [
                {"group": "patrol:foot", "kind": "patrol", "key": "foot", "name": "", "count": 6},
                {"group": "base:b-1", "kind": "base", "key": "b-1", "name": "TOB 1", "count": 6},
                {"group": "base:b-2", "kind": "base", "key": "b-2", "name": "Team site", "count": 6}]}});
        anonymise_bases(&mut v, &|l, id| l == Layer::Bases && id == "b-2");
        let t = &v["jointmap"]["table"];
        assert_eq!(t[0]["group"], "patrol:foot");
        assert_eq!(
            (&t[1]["group"], &t[1]["key"], &t[1]["name"]),
            (&json!("base:#1"), &json!("#1"), &json!(""))
        );
        assert_eq!(t[2]["name"], "Team site");
        assert_eq!(v["features"][0]["id"], "base:#1:r1c1");
        assert_eq!(v["features"][0]["properties"]["group"], "base:#1");
        assert_eq!(v["features"][1]["id"], "base:b-2:r1c2");
        assert_eq!(v["features"][2]["id"], "patrol:foot:r1c3");
        assert!(!v.to_string().contains("b-1") && !v.to_string().contains("TOB"));
        let (csv, rows) = impact_csv(&v);
        assert_eq!(rows, 3);
        let csv = String::from_utf8(csv).unwrap();
        assert_eq!(csv.lines().count(), 4);
        assert!(csv.contains("base:#1,base,#1,,"));
        // f=csv only where offered; json and geojson everywhere.
        let i = format::<request::impact::ImpactRequest>(&p("f=csv")).unwrap();
        assert_eq!(i.map(|f| f.0), Some("csv"));
        assert!(format::<request::impact::ImpactRequest>(&p("f=geojson"))
            .unwrap()
            .is_none());
        let e = format::<request::impact::ImpactRequest>(&p("f=xml")).unwrap_err();
        assert!(e.detail.contains("csv"), "{}", e.detail);
        assert!(format::<request::hotspots::HotspotRequest>(&p("f=csv")).is_err());
    }

    #[test]
    fn coverage_reports_are_presumed_sensitive_without_a_count() {
        use serde_json::json;
        let mut v = json!({"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {"cell": "a", "count": 7, "reports": 3}},
            {"type": "Feature", "properties": {"cell": "b", "count": 7, "reports": 3, "count_sensitive": 0}},
            {"type": "Feature", "properties": {"cell": "c", "count": 7}}]});
        presume_reports_sensitive(&mut v);
        let s: Vec<&Value> = (0..3)
            .map(|i| &v["features"][i]["properties"]["count_sensitive"])
            .collect();
        assert_eq!(s, [&json!(3), &json!(0), &json!(0)]);
        // So a cell of 7 with reports is withheld from a role without full view.
        let r = rules(
            crate::access::Role::Jmac,
            Layer::Patrols,
            &[Layer::Patrols, Layer::Incidents],
        );
        let gate = crate::access::Gate::new(crate::access::Policy::default(), None).unwrap();
        let out = gate.aggregate(&r, v);
        assert_eq!(out["jointmap"]["suppressed"], 1);
    }

    #[test]
    fn shortened_parameter_names_are_given_in_full() {
        let e = canonical_parameter::<request::blindspots::BlindspotRequest>(ApiError::param(
            "bandwidth",
            "0 must be a positive number",
        ));
        assert_eq!(e.extra["parameter"], "bandwidth-km");
        assert!(
            e.detail.starts_with("parameter `bandwidth-km`"),
            "{}",
            e.detail
        );
        // Ambiguous or already full: unchanged.
        for name in ["half-life", "cells", "(query)"] {
            let e = canonical_parameter::<request::blindspots::BlindspotRequest>(ApiError::param(
                name, "bad",
            ));
            assert_eq!(e.extra["parameter"], name);
        }
    }

    #[test]
    fn gzip_negotiation() {
        let h = |v: &str| {
            let mut m = HeaderMap::new();
            m.insert(header::ACCEPT_ENCODING, HeaderValue::from_str(v).unwrap());
            accepts_gzip(&m)
        };
        assert!(h("gzip, deflate, br"));
        assert!(h("br;q=1.0, gzip;q=0.8"));
        assert!(h("*"));
        assert!(!h("gzip;q=0"));
        assert!(!h("br"));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn h3_sizes_decrease() {
        assert!(h3_cell_m(5) > 10_000.0 && h3_cell_m(6) < 10_000.0);
    }
}
