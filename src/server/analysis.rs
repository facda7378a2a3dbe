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

use super::auth::{counted, Caller};
use super::cache::Encoded;
use super::params;
use super::problem;
use super::problem::ApiError;
use crate::access::Analysis;
use crate::access::Budget;
use crate::analysis::product::Product;
use crate::request;
use axum::extract::RawQuery;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use clap::{ArgAction, Args, FromArgMatches};
use serde_json::Value;

/// Writes a gated product as a body other than JSON, with the number of
/// records it holds (for the audit log).
pub type Render = fn(&Product) -> (Vec<u8>, u64);

/// A request type the server exposes as `/analysis/{NAME}`: an analysis
/// the access gate runs ([`Analysis`]), with its HTTP particulars. What a
/// role receives is decided by the gate alone.
pub trait AnalysisRequest: Analysis + Args + FromArgMatches + 'static {
    /// Parameters that may not be used over HTTP (e.g. server file paths).
    const LOCAL_ONLY: &'static [&'static str] = &[];
    /// Formats `f` may ask for besides JSON: name, media type, and how the
    /// gated product is written in it.
    const FORMATS: &'static [(&'static str, &'static str, Render)] = &[];
}

impl AnalysisRequest for request::hotspots::HotspotRequest {
    const LOCAL_ONLY: &'static [&'static str] = &["area"];
}
impl AnalysisRequest for request::clusters::ClusterRequest {}
impl AnalysisRequest for request::trends::TrendRequest {
    const LOCAL_ONLY: &'static [&'static str] = &["area"];
}
impl AnalysisRequest for request::coverage::CoverageRequest {
    const LOCAL_ONLY: &'static [&'static str] = &["area"];
}
impl AnalysisRequest for request::blindspots::BlindspotRequest {
    const LOCAL_ONLY: &'static [&'static str] = &["area"];
}
impl AnalysisRequest for request::impact::ImpactRequest {
    const LOCAL_ONLY: &'static [&'static str] = &["area"];
    const FORMATS: &'static [(&'static str, &'static str, Render)] =
        &[("csv", "text/csv; charset=utf-8", impact_csv)];
}

/// The impact table of a gated product as CSV, with its number of rows.
fn impact_csv(p: &Product) -> (Vec<u8>, u64) {
    let (csv, n) = crate::render::csv::impact_table(p);
    (csv.into_bytes(), n)
}

impl Caller {
    /// Runs an analysis for the caller through the access gate
    /// ([`Gate::plan`], [`Gate::run`]) and returns the gated product
    /// serialised: as GeoJSON, or by `format`'s renderer. Cached by
    /// endpoint, request as restricted, rules, format and data version.
    pub async fn analyse<A: AnalysisRequest>(
        &self,
        mut req: A,
        format: Option<(&'static str, Render)>,
    ) -> Result<Encoded, ApiError> {
        let limits = &self.access.settings.limits;
        let budget = Budget {
            min_cell_km: limits.min_cell_km,
            max_h3_resolution: limits.max_h3_resolution,
            max_permutations: limits.max_permutations,
            max_cells: limits.max_cells,
            max_output_cells: limits.max_output_cells,
        };
        let plan = self
            .access
            .gate
            .plan(&self.principal, &mut req, &budget, chrono::Utc::now())
            .map_err(problem::from_crate)?;
        let version = self.access.version().await?;
        let key = format!(
            "{}\n{req:?}\nf={}\n{}\n{version}",
            A::NAME,
            format.map_or("json", |f| f.0),
            plan.key()
        );
        let access = self.access.clone();
        self.access
            .cache
            .get_or_compute(key, || async move {
                let _permit = access
                    .analysis_permits
                    .acquire()
                    .await
                    .map_err(|_| ApiError::unavailable("shutting down"))?;
                let a2 = access.clone();
                access
                    .blocking(move |store| {
                        let (product, _) = a2
                            .gate
                            .run(&plan, &req, store)
                            .map_err(problem::from_crate)?;
                        Ok(match format {
                            Some((_, render)) => {
                                let (bytes, n) = render(&product);
                                Encoded::new(bytes, n)
                            }
                            None => Encoded::new(
                                crate::render::geojson::to_vec(&product),
                                product.items.len() as u64,
                            ),
                        })
                    })
                    .await?
            })
            .await
    }
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
    .route(
        "/analysis/trends",
        get(handle::<request::trends::TrendRequest>),
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
        one::<request::trends::TrendRequest>(),
    ]
}

/// The clap command of a parameter group (its flags are the query parameters).
pub fn command<A: Args>() -> clap::Command {
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
    let mut rest = Vec::with_capacity(pairs.len());
    for (k, v) in pairs {
        if k == "f" {
            format::<A>(&[(k.clone(), v.clone())])?;
        } else {
            rest.push((k.clone(), v.clone()));
        }
    }
    parse_args(&rest, &format!("/analysis/{}", A::NAME), A::LOCAL_ONLY)
}

/// Turns query pairs into arguments and parses them with the clap
/// definitions of `A` (any parameter group: the analyses', the tiles'
/// filter), refusing the names in `local_only`; `endpoint` names the path
/// in errors.
pub fn parse_args<A: Args + FromArgMatches>(
    pairs: &[(String, String)],
    endpoint: &str,
    local_only: &[&str],
) -> Result<A, ApiError> {
    let cmd = command::<A>();
    let mut argv: Vec<String> = Vec::new();
    for (k, v) in pairs {
        if local_only.contains(&k.as_str()) {
            return Err(ApiError::param(k, "not available over HTTP"));
        }
        let Some(arg) = cmd
            .get_arguments()
            .find(|a| a.get_long() == Some(k.as_str()))
        else {
            return Err(ApiError::param(
                k,
                format!(
                    "unknown parameter; {endpoint} takes {}",
                    cmd.get_arguments()
                        .filter_map(|a| a.get_long())
                        .filter(|l| !local_only.contains(l))
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
    let body = caller
        .analyse(req, format.map(|f| (f.0, f.2)))
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
pub(super) fn accepts_gzip(headers: &HeaderMap) -> bool {
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
        assert_eq!(a.kernel, crate::analysis::kde::Kernel::Gaussian);
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
}
