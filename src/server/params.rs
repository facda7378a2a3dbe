//! Query parameters of the feature endpoints: every bad value is a 400 that
//! names the parameter and the reason.

use super::ogc::CRS84;
use super::problem::ApiError;
use super::view::{queryables, Cursor, Filter};
use crate::model::{Crs, Layer};
use crate::request::cql2::{Filter as Cql2Filter, Lang, Location, Queryables};

/// Parameters every endpoint accepts.
pub const COMMON: &[&str] = &["f"];

/// Standard parameters of `/collections/{id}/items`.
pub const ITEMS: &[&str] = &[
    "f",
    "limit",
    "bbox",
    "datetime",
    "after",
    "before",
    "filter",
    "filter-lang",
    "filter-crs",
    "crs",
    "bbox-crs",
];

/// Parameters of `/collections/{id}/items/{featureId}`.
pub const ITEM: &[&str] = &["f", "crs"];

/// The default filter language (`filter-lang`); [`Lang::ALL`] lists those served.
pub const CQL2_TEXT: &str = "cql2-text";

/// The raw query as ordered name/value pairs.
pub fn pairs(query: Option<&str>) -> Vec<(String, String)> {
    query
        .map(|q| {
            form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// Checks `f` (only JSON is served) and that no parameter but `allowed` is present.
pub fn check_plain(pairs: &[(String, String)], allowed: &[&str]) -> Result<(), ApiError> {
    for (k, v) in pairs {
        if k == "f" {
            check_f(v)?;
        } else if !allowed.contains(&k.as_str()) {
            return Err(ApiError::param(k, "unknown parameter"));
        }
    }
    Ok(())
}

/// `f=json` or `f=geojson` (the same document); anything else is refused.
pub fn check_f(v: &str) -> Result<(), ApiError> {
    match v.to_ascii_lowercase().as_str() {
        "json" | "geojson" | "application/json" | "application/geo+json" => Ok(()),
        _ => Err(ApiError::param(
            "f",
            format!("{v:?} is not an available format; use json or geojson"),
        )),
    }
}

/// Longest distance a `*-km` analysis parameter may give: half the
/// equator (no two points on Earth are further apart).
pub const MAX_KM: f64 = 20_038.0;

/// Longest duration a `*-days` analysis parameter may give (a century).
pub const MAX_DAYS: f64 = 36_525.0;

/// Checks a numeric analysis parameter before the request grammar parses it:
/// each comma-separated number must be finite, a distance (`*-km`) at most
/// [`MAX_KM`], a duration (`*-days`) at most [`MAX_DAYS`], anything else but
/// the seed at most 1e9 in size. The grammar then checks each parameter's
/// own domain; this keeps absurd values (`cell-km=1e-300` aside, which the
/// cell budget refuses) from reaching the analyses at all.
pub fn analysis_number(name: &str, value: &str) -> Result<(), ApiError> {
    if name == "seed" {
        return Ok(());
    }
    for piece in value.split(',') {
        let Ok(x) = piece.trim().parse::<f64>() else {
            continue; // not a number: the grammar names the problem
        };
        let (max, unit) = if name.ends_with("-km") {
            (MAX_KM, " km")
        } else if name.ends_with("-days") {
            (MAX_DAYS, " days")
        } else {
            (1e9, "")
        };
        if !x.is_finite() {
            return Err(ApiError::param(
                name,
                format!("{piece:?} is not a finite number"),
            ));
        }
        if x.abs() > max {
            return Err(ApiError::param(
                name,
                format!("{piece} is out of range (at most {max}{unit})"),
            ));
        }
    }
    Ok(())
}

/// Parsed items query.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemsQuery {
    /// Filters.
    pub filter: Filter,
    /// Paging cursor.
    pub cursor: Cursor,
    /// Page size.
    pub limit: usize,
    /// The CRS of the answer's coordinates (`crs`).
    pub crs: Crs,
}

/// Parses an items query for `layer`; `hidden` tells which properties the
/// caller may not see (filtering on them is refused like an unknown one, so
/// that the answer reveals nothing), `filterable` what a CQL2 `filter` may
/// name (the caller's, built from the same view).
pub fn items_query(
    layer: Layer,
    pairs: &[(String, String)],
    default_limit: usize,
    max_limit: usize,
    hidden: &dyn Fn(&str) -> bool,
    filterable: &Queryables,
) -> Result<ItemsQuery, ApiError> {
    let mut q = ItemsQuery {
        filter: Filter::default(),
        cursor: Cursor::Start,
        limit: default_limit,
        crs: Crs::Crs84,
    };
    let mut bbox_text: Option<&str> = None;
    let mut lang = Lang::Text;
    let mut bbox_crs = Crs::Crs84;
    let mut seen: Vec<&str> = Vec::new();
    for (k, v) in pairs {
        let k = k.as_str();
        let standard = ITEMS.contains(&k);
        if standard {
            if seen.contains(&k) {
                return Err(ApiError::param(k, "given more than once"));
            }
            seen.push(k);
        }
        match k {
            "f" => check_f(v)?,
            "limit" => q.limit = limit(v, max_limit)?,
            "filter" => {}
            "filter-lang" => {
                lang = Lang::from_name(v).ok_or_else(|| {
                    ApiError::param(
                        k,
                        format!(
                            "{v:?} is not served; use {}",
                            Lang::ALL.map(Lang::name).join(" or ")
                        ),
                    )
                })?;
            }
            "filter-crs" => {
                if v != CRS84 {
                    return Err(ApiError::param(
                        k,
                        format!("{v:?} is not served; filters are in {CRS84}"),
                    ));
                }
            }
            "bbox" => bbox_text = Some(v),
            "bbox-crs" => bbox_crs = crs("bbox-crs", v)?,
            "crs" => q.crs = crs("crs", v)?,
            "datetime" => {
                if hidden("time_start") {
                    return Err(ApiError::param("datetime", "not available to your role"));
                }
                q.filter.time = datetime(v)?;
            }
            "after" | "before" => {
                if v.is_empty() {
                    return Err(ApiError::param(k, "must be a feature id"));
                }
                if !matches!(q.cursor, Cursor::Start) {
                    return Err(ApiError::param(k, "after and before cannot be combined"));
                }
                q.cursor = if k == "after" {
                    Cursor::After(v.clone())
                } else {
                    Cursor::Before(v.clone())
                };
            }
            name => {
                if !queryables(layer).any(|n| n == name) || hidden(name) {
                    return Err(ApiError::param(
                        name,
                        format!(
                            "unknown parameter (items take {} and the properties {})",
                            ITEMS.join(", "),
                            queryables(layer)
                                .filter(|n| !hidden(n))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    ));
                }
                match q.filter.props.iter_mut().find(|(n, _)| n == name) {
                    Some((_, values)) => values.push(v.clone()),
                    None => q.filter.props.push((name.to_string(), vec![v.clone()])),
                }
            }
        }
    }
    if let Some(v) = bbox_text {
        q.filter.bbox = Some(bbox_in(v, bbox_crs)?);
    }
    if let Some((_, text)) = pairs.iter().find(|(k, _)| k == "filter") {
        let f = Cql2Filter::parse_in(lang, text, filterable).map_err(|e| {
            let mut err = ApiError::param("filter", &e);
            match &e.at {
                Location::Column(c) => {
                    err.extra.insert("column".into(), (*c).into());
                }
                Location::Text { line, column } => {
                    err.extra.insert("line".into(), (*line).into());
                    err.extra.insert("column".into(), (*column).into());
                }
                Location::Pointer(p) => {
                    err.extra.insert("pointer".into(), p.as_str().into());
                }
            }
            err
        })?;
        q.filter.cql = Some(std::sync::Arc::new(f));
    }
    Ok(q)
}

/// A `crs` or `bbox-crs` value: a CRS served (OGC API - Features Part 2),
/// else a 400 naming those served.
pub fn crs(name: &str, v: &str) -> Result<Crs, ApiError> {
    Crs::from_uri(v).ok_or_else(|| {
        ApiError::param(
            name,
            format!(
                "{v:?} is not served; use {CRS84}, {}, {} or a UTM zone on WGS 84 ({}, ...)",
                Crs::Epsg4326,
                Crs::WebMercator,
                Crs::Utm {
                    zone: 34,
                    north: true
                }
            ),
        )
    })
}

/// `bbox` given in `crs` (`bbox-crs`), as the CRS84 box covering it.
pub fn bbox_in(v: &str, crs: Crs) -> Result<[f64; 4], ApiError> {
    match crs {
        Crs::Crs84 => bbox(v),
        Crs::Epsg4326 => {
            // Latitude first: min_lat,min_lon,max_lat,max_lon.
            let b = numbers(v)?;
            bbox(&format!("{},{},{},{}", b[1], b[0], b[3], b[2]))
        }
        projected => {
            let b = numbers(v)?;
            if b[0] > b[2] || b[1] > b[3] {
                return Err(ApiError::param(
                    "bbox",
                    format!("in {projected} the minimum x and y must not exceed the maximum"),
                ));
            }
            let limit = 4.0e7;
            if b.iter().any(|x| x.abs() > limit) {
                return Err(ApiError::param(
                    "bbox",
                    format!("coordinates beyond {limit} m are outside {projected}"),
                ));
            }
            let g = projected.bbox_to_crs84(b);
            // A projected box never crosses the antimeridian here: a cover with
            // min_lon > max_lon is a box beyond the CRS's area.
            if g.iter().any(|x| !x.is_finite()) || g[0] > g[2] || g[1] > g[3] {
                return Err(ApiError::param(
                    "bbox",
                    format!("the box is outside the area of {projected}"),
                ));
            }
            Ok(g)
        }
    }
}

/// Four finite numbers (or six, heights dropped) of a `bbox`.
fn numbers(v: &str) -> Result<[f64; 4], ApiError> {
    let bad = |r: String| ApiError::param("bbox", r);
    let nums: Vec<f64> = v
        .split(',')
        .map(|p| {
            let p = p.trim();
            p.parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| bad(format!("{p:?} is not a finite number")))
        })
        .collect::<Result<_, _>>()?;
    match nums.len() {
        4 => Ok([nums[0], nums[1], nums[2], nums[3]]),
        6 => Ok([nums[0], nums[1], nums[3], nums[4]]),
        n => Err(bad(format!(
            "expected 4 numbers (or 6 with heights), got {n}"
        ))),
    }
}

/// `limit`: an integer in 1..=max (out of range is refused, not clamped).
pub fn limit(v: &str, max: usize) -> Result<usize, ApiError> {
    match v.trim().parse::<u64>() {
        Ok(n) if n >= 1 && n <= max as u64 => Ok(n as usize),
        Ok(_) => Err(ApiError::param(
            "limit",
            format!("{v} is out of range 1..={max}"),
        )),
        Err(_) => Err(ApiError::param(
            "limit",
            format!("{v:?} is not a whole number"),
        )),
    }
}

/// `bbox`: `min_lon,min_lat,max_lon,max_lat` (or six numbers with heights),
/// in CRS84; `min_lon > max_lon` crosses the antimeridian.
pub fn bbox(v: &str) -> Result<[f64; 4], ApiError> {
    let bad = |r: String| ApiError::param("bbox", r);
    let b = numbers(v).map_err(|e| {
        if e.detail.starts_with("expected") {
            bad(format!(
                "expected 4 numbers min_lon,min_lat,max_lon,max_lat (or 6 with heights), got {}",
                v.split(',').count()
            ))
        } else {
            e
        }
    })?;
    if !(-180.0..=180.0).contains(&b[0]) || !(-180.0..=180.0).contains(&b[2]) {
        return Err(bad("longitudes must be within [-180, 180]".into()));
    }
    if !(-90.0..=90.0).contains(&b[1]) || !(-90.0..=90.0).contains(&b[3]) {
        return Err(bad("latitudes must be within [-90, 90]".into()));
    }
    if b[1] > b[3] {
        return Err(bad("min_lat is greater than max_lat".into()));
    }
    Ok(b)
}

/// A time window in milliseconds; `None` ends are open.
pub type Window = (Option<i64>, Option<i64>);

/// `datetime`: an instant, a closed interval `a/b`, or a half-open one
/// (`../b`, `a/..`, or an empty end). A bare date as an instant means that
/// whole day; as an interval end it includes that day. Returns milliseconds.
pub fn datetime(v: &str) -> Result<Option<Window>, ApiError> {
    let bad = |r: String| ApiError::param("datetime", r);
    let start = |s: &str| -> Result<i64, ApiError> {
        crate::model::time::parse_time(s)
            .map(|t| t.timestamp_millis())
            .map_err(&bad)
    };
    let end = |s: &str| -> Result<i64, ApiError> {
        crate::request::parse_to_arg(s)
            .map(|t| t.timestamp_millis())
            .map_err(&bad)
    };
    let open = |s: &str| s.is_empty() || s == "..";
    let v = v.trim();
    let parts: Vec<&str> = v.split('/').collect();
    let (a, b) = match parts.as_slice() {
        [one] if open(one) => return Err(bad("empty; give an instant or an interval".into())),
        [one] => (Some(start(one)?), Some(end(one)?)),
        [a, b] => {
            let a = if open(a) { None } else { Some(start(a)?) };
            let b = if open(b) { None } else { Some(end(b)?) };
            (a, b)
        }
        _ => {
            return Err(bad(format!(
                "{v:?} has more than one '/'; expected an instant or start/end"
            )))
        }
    };
    if let (Some(a), Some(b)) = (a, b) {
        if b < a {
            return Err(bad("the interval ends before it starts".into()));
        }
    }
    Ok(match (a, b) {
        (None, None) => None,
        w => Some(w),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetime_forms() {
        let ms = |s: &str| {
            chrono::DateTime::parse_from_rfc3339(s)
                .unwrap()
                .timestamp_millis()
        };
        assert_eq!(
            datetime("2025-01-02T03:04:05Z").unwrap(),
            Some((
                Some(ms("2025-01-02T03:04:05Z")),
                Some(ms("2025-01-02T03:04:05Z"))
            ))
        );
        assert_eq!(
            datetime("2025-01-02").unwrap(),
            Some((
                Some(ms("2025-01-02T00:00:00Z")),
                Some(ms("2025-01-02T23:59:59.999Z"))
            ))
        );
        assert_eq!(
            datetime("../2025-01-02T00:00:00Z").unwrap(),
            Some((None, Some(ms("2025-01-02T00:00:00Z"))))
        );
        assert_eq!(
            datetime("2025-01-02T00:00:00Z/").unwrap(),
            Some((Some(ms("2025-01-02T00:00:00Z")), None))
        );
        assert_eq!(datetime("../..").unwrap(), None);
        for bad in [
            "",
            "..",
            "x",
            "2025-02-01/2025-01-01",
            "a/b/c",
            "2025-13-01",
        ] {
            let e = datetime(bad).unwrap_err();
            assert_eq!(e.extra["parameter"], "datetime", "{bad}");
        }
    }

    #[test]
    fn bbox_and_limit() {
        assert_eq!(
            bbox("170,-10,-170,10").unwrap(),
            [170.0, -10.0, -170.0, 10.0]
        );
        assert_eq!(bbox("1,2,0,3,4,9").unwrap(), [1.0, 2.0, 3.0, 4.0]);
        for b in [
            "1,2,3",
            "1,2,3,x",
            "0,10,1,5",
            "0,0,181,1",
            "nan,0,1,1",
            "0,-91,1,1",
        ] {
            assert!(bbox(b).is_err(), "{b}");
        }
        assert_eq!(limit("10", 100).unwrap(), 10);
        for l in ["0", "101", "-1", "1.5", ""] {
            assert_eq!(limit(l, 100).unwrap_err().extra["parameter"], "limit");
        }
    }

    #[test]
    fn absurd_analysis_numbers_are_refused_by_name() {
        for (k, v) in [
            ("cell-km", "NaN"),
            ("cell-km", "inf"),
            ("bandwidth-km", "1e308"),
            ("corridor-foot-km", "40000"),
            ("eps-days", "1e6"),
            ("likelihood-breaks", "1,2,inf,8"),
            ("window-days", "-1e300"),
            ("min-points", "1e12"),
        ] {
            let e = analysis_number(k, v).unwrap_err();
            assert_eq!(e.extra["parameter"], k, "{k}={v}");
        }
        for (k, v) in [
            ("cell-km", "5"),
            ("seed", "18446744073709551615"),
            ("kernel", "quartic"),
            ("likelihood-breaks", "1,2,4,8"),
        ] {
            assert!(analysis_number(k, v).is_ok(), "{k}={v}");
        }
    }

    #[test]
    fn items_parameters() {
        let none = |_: &str| false;
        let q = items_query(
            Layer::Incidents,
            &pairs(Some("category=killing&category=abduction&limit=5&after=x")),
            100,
            1000,
            &none,
            &Queryables::default(),
        )
        .unwrap();
        assert_eq!(q.limit, 5);
        assert_eq!(q.cursor, Cursor::After("x".into()));
        assert_eq!(q.filter.props[0].1.len(), 2);
        let e = items_query(
            Layer::Incidents,
            &pairs(Some("colour=red")),
            100,
            1000,
            &none,
            &Queryables::default(),
        )
        .unwrap_err();
        assert_eq!(e.extra["parameter"], "colour");
        let hide = |n: &str| n == "narrative";
        let e = items_query(
            Layer::Incidents,
            &pairs(Some("narrative=x")),
            100,
            1000,
            &hide,
            &Queryables::default(),
        )
        .unwrap_err();
        assert_eq!(e.extra["parameter"], "narrative");
        assert!(items_query(
            Layer::Incidents,
            &pairs(Some("limit=1&limit=2")),
            100,
            1000,
            &none,
            &Queryables::default()
        )
        .is_err());
    }
}
