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

use super::auth::{counted, Caller, Computation};
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
use clap::{ArgAction, Args, FromArgMatches};

/// A request type the server exposes as `/analysis/{NAME}`.
pub trait AnalysisRequest: Args + FromArgMatches + std::fmt::Debug + Send + 'static {
    /// The endpoint's name.
    const NAME: &'static str;
    /// Parameters that may not be used over HTTP (e.g. server file paths).
    const LOCAL_ONLY: &'static [&'static str] = &[];
    /// The layer the request reads.
    fn layer(&self) -> Layer;
    /// Adapts the request to the caller's aggregate rules and the server's
    /// limits: coarsens cells, cuts recent data, refuses what may not be asked.
    fn restrict(
        &mut self,
        rules: &AggregateRules,
        limits: &super::config::Limits,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), ApiError>;
    /// Runs it.
    fn compute(&self, store: &dyn Store) -> crate::Result<serde_json::Value>;
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
}

/// Every analysis endpoint, for the API document: name and clap command.
pub fn endpoints() -> Vec<(&'static str, clap::Command, &'static [&'static str])> {
    fn one<A: AnalysisRequest>() -> (&'static str, clap::Command, &'static [&'static str]) {
        (A::NAME, command::<A>(), A::LOCAL_ONLY)
    }
    vec![
        one::<request::hotspots::HotspotRequest>(),
        one::<request::clusters::ClusterRequest>(),
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

/// Turns query pairs into arguments and parses them with `A`'s definitions.
pub fn parse<A: AnalysisRequest>(pairs: &[(String, String)]) -> Result<A, ApiError> {
    let cmd = command::<A>();
    let mut argv: Vec<String> = Vec::new();
    for (k, v) in pairs {
        if k == "f" {
            params::check_f(v)?;
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
        if matches!(arg.get_action(), ArgAction::SetTrue) {
            match v.as_str() {
                "true" | "1" | "" => argv.push(format!("--{k}")),
                "false" | "0" => {}
                _ => return Err(ApiError::param(k, format!("{v:?} is not true or false"))),
            }
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
    let layer = req.layer();
    let limits = caller.settings().limits.clone();
    let body = caller
        .aggregate(A::NAME, layer, move |rules| {
            let mut req = req;
            req.restrict(rules, &limits, chrono::Utc::now())?;
            let key = format!("{req:?}");
            let compute: Computation = Box::new(move |store: &dyn Store| req.compute(store));
            Ok((key, compute))
        })
        .await?;
    let n = body.features;
    let gzip = body.gzip.filter(|_| accepts_gzip(&headers));
    let compressed = gzip.is_some();
    let mut r = gzip.unwrap_or(body.plain).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/geo+json"),
    );
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if compressed {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    Ok(counted(r, n))
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
fn cutoff(
    rules: &AggregateRules,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<chrono::DateTime<chrono::Utc>> {
    rules.cutoff(super::auth::hour(now))
}

fn restrict_events(
    ev: &mut request::events::EventArgs,
    rules: &AggregateRules,
    now: chrono::DateTime<chrono::Utc>,
) {
    if let Some(c) = cutoff(rules, now) {
        ev.filter.to = Some(ev.filter.to.map_or(c, |t| t.min(c)));
    }
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
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), ApiError> {
        if self.area.is_some() {
            return Err(ApiError::param("area", "not available over HTTP"));
        }
        if self.permutations > limits.max_permutations {
            return Err(ApiError::param(
                "permutations",
                format!("at most {} on this server", limits.max_permutations),
            ));
        }
        if self.grid == "h3" {
            if self.h3_resolution > limits.max_h3_resolution {
                return Err(ApiError::param(
                    "h3-resolution",
                    format!("at most {} on this server", limits.max_h3_resolution),
                ));
            }
            // Coarsen: the finest resolution whose cells are at least min_cell_m across.
            while self.h3_resolution > 0 && h3_cell_m(self.h3_resolution) < rules.min_cell_m {
                self.h3_resolution -= 1;
            }
        } else {
            if self.cell_km.is_finite() && self.cell_km < limits.min_cell_km {
                return Err(ApiError::param(
                    "cell-km",
                    format!("at least {} km on this server", limits.min_cell_km),
                ));
            }
            self.cell_km = self.cell_km.max(rules.min_cell_m / 1000.0);
        }
        restrict_events(&mut self.events, rules, now);
        Ok(())
    }
    fn compute(&self, store: &dyn Store) -> crate::Result<serde_json::Value> {
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
        now: chrono::DateTime<chrono::Utc>,
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
    fn compute(&self, store: &dyn Store) -> crate::Result<serde_json::Value> {
        Ok(self.run(store)?.geojson)
    }
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
