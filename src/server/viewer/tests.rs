use super::*;

fn accept(v: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(header::ACCEPT, HeaderValue::from_str(v).unwrap());
    h
}

const CHROME: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8";
const FIREFOX: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

#[test]
fn browsers_get_the_viewer_and_clients_the_landing_page() {
    let get = Method::GET;
    assert!(wants_viewer(&get, None, &accept(CHROME)));
    assert!(wants_viewer(&get, None, &accept(FIREFOX)));
    assert!(wants_viewer(&Method::HEAD, None, &accept("text/html")));
    // `f` decides over Accept, both ways.
    assert!(!wants_viewer(&get, Some("f=json"), &accept(CHROME)));
    assert!(wants_viewer(
        &get,
        Some("f=html"),
        &accept("application/json")
    ));
    assert!(!wants_viewer(&get, Some("f=html&f=json"), &accept(CHROME)));
    assert!(!wants_viewer(&get, Some("f=xml"), &accept(CHROME)));
    // OGC clients, HTTP libraries and curl.
    for a in [
        "application/json",
        "application/geo+json",
        "*/*",
        "",
        "text/*",
        "application/json, text/html;q=0.5",
        "text/html;q=0",
        "text/html;q=0.000",
        "text/html;q=nonsense;q=0, application/json",
    ] {
        assert!(!wants_viewer(&get, None, &accept(a)), "{a:?}");
    }
    assert!(!wants_viewer(&get, None, &HeaderMap::new()));
    // Equal preference: the browser's page.
    assert!(wants_viewer(
        &get,
        None,
        &accept("application/json, text/html")
    ));
    assert!(!wants_viewer(&Method::POST, None, &accept(CHROME)));
}

#[test]
fn quality_takes_the_most_specific_range() {
    assert_eq!(quality("text/*;q=0.2, text/html;q=0.7", "text/html"), 0.7);
    assert_eq!(quality("text/html;q=0.7, text/*;q=0.2", "text/html"), 0.7);
    assert_eq!(quality("*/*;q=0.1, text/*;q=0.3", "text/html"), 0.3);
    assert_eq!(quality("image/png", "text/html"), 0.0);
    assert_eq!(quality("text/html;q=7", "text/html"), 1.0);
    assert_eq!(quality("text/html;q=-1", "text/html"), 0.0);
    assert_eq!(quality("text/html;q=NaN", "text/html"), 1.0);
}

fn req(method: Method, uri: &str, accept_header: &str) -> Request {
    let mut r = Request::builder()
        .method(method)
        .uri(uri)
        .body(axum::body::Body::empty())
        .unwrap();
    *r.headers_mut() = accept(accept_header);
    r
}

#[test]
fn only_asset_paths_and_the_negotiated_page_are_public() {
    for a in ASSETS.iter() {
        assert!(is_public(&req(Method::GET, a.path, "*/*")), "{}", a.path);
        assert!(!is_public(&req(Method::POST, a.path, "*/*")), "{}", a.path);
    }
    assert!(is_public(&req(Method::GET, "/", CHROME)));
    assert!(is_public(&req(Method::GET, BASEMAP_PATH, "*/*")));
    for (m, uri, a) in [
        (Method::GET, "/", "application/json"),
        (Method::GET, "/?f=json", CHROME),
        (Method::POST, "/", CHROME),
        (Method::GET, "/collections", CHROME),
        (Method::GET, "/collections/incidents/items", CHROME),
        (Method::GET, "/analysis/hotspots", CHROME),
        (Method::GET, "/viewer/", CHROME),
        (Method::GET, "/viewer/../collections", CHROME),
        (Method::GET, "/viewer/viewer.js/../../collections", CHROME),
        (Method::GET, "/viewer/nope.js", CHROME),
        (Method::GET, "/viewer/VIEWER.JS", CHROME),
        (Method::GET, "/tiles/incidents.json", CHROME),
        (Method::GET, "/basemap/countries.geojson/x", CHROME),
    ] {
        assert!(!is_public(&req(m.clone(), uri, a)), "{m} {uri} {a}");
    }
}

#[test]
fn assets_carry_type_etag_cache_and_policy_and_revalidate() {
    let tag = &ASSET_TAGS[0];
    let r = static_response(
        &HeaderMap::new(),
        ASSETS[0].body.into(),
        "text/javascript",
        tag,
    );
    assert_eq!(r.status(), StatusCode::OK);
    let h = r.headers();
    assert_eq!(h[header::CONTENT_TYPE], "text/javascript");
    assert_eq!(h[header::ETAG], tag.as_str());
    assert_eq!(h[header::CACHE_CONTROL], "no-cache");
    let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("script-src 'self'"));
    assert!(!csp.contains("unsafe") && !csp.contains("http"));
    for inm in [
        tag.clone(),
        format!("W/{tag}"),
        format!("\"x\", {tag}"),
        "*".into(),
    ] {
        let mut hm = HeaderMap::new();
        hm.insert(header::IF_NONE_MATCH, HeaderValue::from_str(&inm).unwrap());
        let r = static_response(&hm, ASSETS[0].body.into(), "text/javascript", tag);
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED, "{inm}");
        assert_eq!(r.headers()[header::ETAG], tag.as_str());
    }
    let mut hm = HeaderMap::new();
    hm.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"other\""));
    let r = static_response(&hm, ASSETS[0].body.into(), "text/javascript", tag);
    assert_eq!(r.status(), StatusCode::OK);
}

#[test]
fn every_asset_has_its_own_tag_and_no_outside_reference() {
    let mut tags: Vec<&String> = ASSET_TAGS.iter().chain([&*INDEX_TAG]).collect();
    tags.sort();
    tags.dedup();
    assert_eq!(tags.len(), ASSETS.len() + 1);
    // Nothing the browser would fetch from elsewhere: no absolute URL in
    // our own files, no source map in the vendored script.
    for a in ASSETS.iter().chain([&INDEX]) {
        // The SVG namespace is a name, not an address anything fetches.
        let text = String::from_utf8_lossy(a.body).replace("\"http://www.w3.org/2000/svg\"", "");
        assert!(!text.contains("sourceMappingURL"), "{}", a.path);
        if !a.path.contains("leaflet") {
            assert!(
                !text.contains("http://") && !text.contains("https://"),
                "{}",
                a.path
            );
            assert!(
                !text.contains("//cdn") && !text.contains("fonts."),
                "{}",
                a.path
            );
        }
    }
    // No inline script or style in the page (the policy would block it).
    let page = String::from_utf8_lossy(INDEX.body);
    assert!(!page.contains("<script>") && !page.contains("style=") && !page.contains("<style"));
    assert!(!page.contains("onclick") && !page.contains("onload"));
}

#[test]
fn both_languages_have_every_key() {
    let en: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(ASSETS[2].body).unwrap();
    let fr: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(ASSETS[3].body).unwrap();
    let keys = |m: &serde_json::Map<String, serde_json::Value>| {
        m.keys().cloned().collect::<std::collections::BTreeSet<_>>()
    };
    assert_eq!(keys(&en), keys(&fr));
    assert!(en
        .values()
        .chain(fr.values())
        .all(|v| v.as_str().is_some_and(|s| !s.is_empty())));
    // Every key the page and the script use is in the tables.
    // Keys written out after `marker` (not preceded by a name character:
    // `createElement("div")` is not `t("div")`); a key ending in `.` is a
    // family completed at run time, checked below.
    let used = |text: &str, marker: &str| -> Vec<String> {
        let mut out = Vec::new();
        let mut rest = text;
        while let Some(i) = rest.find(marker) {
            let before = rest[..i].chars().next_back();
            let after = &rest[i + marker.len()..];
            if !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.') {
                if let Some(k) = after.split(['"', '\'']).next() {
                    if !k.ends_with('.') {
                        out.push(k.to_string());
                    }
                }
            }
            rest = after;
        }
        out
    };
    let page = String::from_utf8_lossy(INDEX.body);
    let script = String::from_utf8_lossy(ASSETS[0].body);
    let mut all = used(&page, "data-i18n=\"");
    all.extend(used(&page, "data-i18n-title=\""));
    all.extend(used(&page, "data-i18n-placeholder=\""));
    all.extend(used(&script, "t(\""));
    assert!(all.len() > 20, "{all:?}");
    for family in [
        "layer.incidents, sightings, patrols, bases, sites, hotspots, moran, presence, risk, blindspots, heat, joint",
        "gi.hot-99, hot-95, hot-90, not-significant, cold-90, cold-95, cold-99, untested",
        "moran.HH, LL, HL, LH, none",
        "presence.0, 1, 2, 3",
        "risk.low, medium, high, extreme",
        "blind.threat, information",
    ] {
        let (prefix, names) = family.split_once('.').unwrap();
        all.extend(names.split(", ").map(|n| format!("{prefix}.{n}")));
    }
    for k in all {
        assert!(en.contains_key(&k), "missing i18n key {k:?}");
    }
}

/// The legend's colours are the rendered tiles' colours.
#[test]
fn the_legend_names_the_colours_of_the_rendered_overlays() {
    use crate::render::tiles::classes;
    let script = String::from_utf8_lossy(ASSETS[0].body);
    let hex =
        |c: crate::render::tiles::palette::Rgba| format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2);
    for (name, c) in classes::HOTSPOT {
        let want = format!("\"{name}\": \"{}\"", hex(c));
        assert!(script.contains(&want), "{want}");
    }
    for (name, c) in classes::MORAN.iter().chain(&classes::RISK) {
        let want = format!("{name}: \"{}\"", hex(*c));
        assert!(script.contains(&want), "{want}");
    }
    for (lo, c) in classes::PRESENCE {
        let want = format!("[{lo}, \"{}\"]", hex(c));
        assert!(script.contains(&want), "{want}");
    }
    let css = String::from_utf8_lossy(ASSETS[1].body);
    assert!(css.contains(&format!(
        ".c-threat {{ background: {}; }}",
        hex(classes::THREAT)
    )));
    assert!(css.contains(&format!(
        ".c-information {{ background: {}; }}",
        hex(classes::INFORMATION)
    )));
}

#[test]
fn the_basemap_is_simplified_to_names_and_closed_rings() {
    // A square with a dense edge and a sliver hole: the edge collapses to
    // its corners, the hole to nothing, the properties to name and code.
    let mut edge: Vec<[f64; 2]> = (0..=100).map(|i| [i as f64 / 100.0, 0.0]).collect();
    edge.extend([[1.0, 1.0], [0.0, 1.0], [0.0, 0.0]]);
    let doc = serde_json::json!({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"NAME": "Centrafrique", "ISO_A3": "CAF", "POP_EST": 5},
         "geometry": {"type": "Polygon", "coordinates": [edge,
            [[0.5, 0.5], [0.5001, 0.5], [0.5, 0.5001], [0.5, 0.5]]]}},
        {"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": [0, 0]}},
        {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon",
            "coordinates": [[[0, 0], [0.001, 0], [0, 0.001], [0, 0]]]}},
        {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [["x"]]}},
        {"type": "Feature", "properties": {}, "geometry": null}
    ]});
    let out = basemap::simplify_collection(&doc).unwrap();
    let fs = out["features"].as_array().unwrap();
    assert_eq!(fs.len(), 1, "{out}");
    assert_eq!(
        fs[0]["properties"],
        serde_json::json!({"name": "Centrafrique", "iso_a3": "CAF"})
    );
    assert_eq!(
        fs[0]["geometry"],
        serde_json::json!({"type": "MultiPolygon", "coordinates":
            [[[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.0, 0.0]]]]})
    );
    assert!(basemap::simplify_collection(&serde_json::json!({"type": "Feature"})).is_err());
}
