//! The viewer's routes over HTTP against the real binary: `/` negotiated
//! between the viewer and the OGC landing page, the static assets and the
//! basemap public, everything with data still behind the token, and the
//! audit log untouched by the public files.

mod server_common;

use server_common::*;

const BROWSER: &str = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";

fn get(s: &Server, path: &str, token: Option<&str>, headers: &[(&str, &str)]) -> Resp {
    request(&s.addr, "GET", path, token, headers, None)
}

fn audit_lines(dir: &std::path::Path) -> usize {
    std::fs::read_to_string(dir.join("audit.ndjson"))
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

#[test]
fn browsers_get_the_viewer_without_a_token_and_clients_the_landing_page_with_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.gpkg");
    cli(&store, &["demo", "--incidents", "50"]);
    let s = Server::start(&config(dir.path(), &store, ""));

    // The page: no token needed, typed, cached by ETag, locked down by CSP.
    let page = get(&s, "/", None, &[("Accept", BROWSER)]);
    assert_eq!(page.status, 200, "{}", page.text());
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert!(page.text().contains("/viewer/viewer.js"));
    assert_eq!(page.header("cache-control"), Some("no-cache"));
    assert_eq!(page.header("vary"), Some("Accept"));
    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("connect-src 'self'"));
    let tag = page.header("etag").unwrap().to_string();
    let again = get(
        &s,
        "/",
        None,
        &[("Accept", BROWSER), ("If-None-Match", tag.as_str())],
    );
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    // The same page with a token, and with `f=html` whatever Accept says.
    assert_eq!(
        get(&s, "/", Some(HR), &[("Accept", BROWSER)]).body,
        page.body
    );
    assert_eq!(
        get(&s, "/?f=html", None, &[("Accept", "application/json")]).body,
        page.body
    );

    // OGC clients: the JSON landing page, behind the token as before.
    for (path, accept) in [
        ("/", "application/json"),
        ("/", "*/*"),
        ("/?f=json", BROWSER),
        ("/", ""),
    ] {
        let headers: &[(&str, &str)] = if accept.is_empty() {
            &[]
        } else {
            &[("Accept", accept)]
        };
        get(&s, path, None, headers).problem(401, None);
        let r = get(&s, path, Some(PARTNER), headers);
        assert_eq!(r.status, 200, "{path} {accept}: {}", r.text());
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert_eq!(r.header("cache-control"), Some("no-store"));
        assert!(r.json()["links"].is_array());
    }
    get(&s, "/?f=xml", Some(HR), &[("Accept", BROWSER)]).problem(400, Some("f"));

    // Assets: public, typed, revalidated.
    for (path, ty) in [
        ("/viewer/viewer.js", "text/javascript; charset=utf-8"),
        ("/viewer/viewer.css", "text/css; charset=utf-8"),
        ("/viewer/i18n/fr.json", "application/json; charset=utf-8"),
        (
            "/viewer/leaflet/leaflet.js",
            "text/javascript; charset=utf-8",
        ),
        ("/viewer/leaflet/LICENSE", "text/plain; charset=utf-8"),
    ] {
        let r = get(&s, path, None, &[]);
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.header("content-type"), Some(ty), "{path}");
        assert_eq!(r.header("cache-control"), Some("no-cache"), "{path}");
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        let tag = r.header("etag").unwrap().to_string();
        assert_eq!(
            get(&s, path, None, &[("If-None-Match", tag.as_str())]).status,
            304
        );
    }
    let before = audit_lines(dir.path());

    // Nothing with data became public, whatever the request looks like.
    for path in [
        "/collections",
        "/collections/incidents/items",
        "/collections/incidents/items?f=html",
        "/analysis/hotspots",
        "/conformance",
        "/api",
        "/viewer/../collections",
        "/viewer/%2e%2e/collections",
        "/viewer/viewer.js/../../collections",
        "/tiles/incidents.json",
        "/basemap/countries.geojson",
    ] {
        let r = get(&s, path, None, &[("Accept", BROWSER)]);
        assert!(
            r.status == 401 || r.status == 404,
            "{path}: {} {}",
            r.status,
            r.text()
        );
        assert!(!r.text().contains("inc-0"), "{path}");
    }
    // A write to the viewer's paths is not public either.
    let r = request(
        &s.addr,
        "POST",
        "/",
        None,
        &[("Accept", BROWSER)],
        Some(b"{}"),
    );
    assert_eq!(r.status, 401);
    // The public files are not audited; the refusals are.
    assert!(audit_lines(dir.path()) > before);
}

#[test]
fn the_basemap_is_served_simplified_when_configured() {
    let countries = std::path::Path::new("../shared/data/ne_50m_admin_0_countries.geojson");
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.gpkg");
    cli(&store, &["demo", "--incidents", "20"]);
    // A small file of our own: one dense square, one point.
    let mut edge: Vec<[f64; 2]> = (0..=200).map(|i| [16.0 + i as f64 / 100.0, 4.0]).collect();
    edge.extend([[18.0, 6.0], [16.0, 6.0], [16.0, 4.0]]);
    let file = dir.path().join("countries.geojson");
    std::fs::write(
        &file,
        serde_json::json!({"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {"NAME": "Testland", "ISO_A3": "TST", "POP": 1},
             "geometry": {"type": "Polygon", "coordinates": [edge]}}]})
        .to_string(),
    )
    .unwrap();
    let cfg = config(dir.path(), &store, "");
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(
        &cfg,
        format!("basemap = {:?}\n{text}", file.display().to_string()),
    )
    .unwrap();
    let s = Server::start(&cfg);
    let r = get(&s, "/basemap/countries.geojson", None, &[]);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/geo+json"));
    let doc = r.json();
    assert_eq!(
        doc["features"][0]["properties"],
        serde_json::json!({"name": "Testland", "iso_a3": "TST"})
    );
    assert_eq!(
        doc["features"][0]["geometry"]["coordinates"][0][0]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    let tag = r.header("etag").unwrap().to_string();
    assert_eq!(
        get(
            &s,
            "/basemap/countries.geojson",
            None,
            &[("If-None-Match", tag.as_str())]
        )
        .status,
        304
    );
    drop(s);

    // A configured file that cannot be read: 503, and the path stays
    // private to the log.
    std::fs::remove_file(&file).unwrap();
    let s = Server::start(&cfg);
    let r = get(&s, "/basemap/countries.geojson", None, &[]);
    r.problem(503, None);
    assert!(!r.text().contains(dir.path().to_str().unwrap()));
    drop(s);

    // Natural Earth's countries, when ../shared is there: far smaller.
    if countries.exists() {
        std::fs::write(
            &cfg,
            format!(
                "basemap = {:?}\n{text}",
                std::fs::canonicalize(countries).unwrap()
            ),
        )
        .unwrap();
        let s = Server::start(&cfg);
        let r = get(&s, "/basemap/countries.geojson", None, &[]);
        assert_eq!(r.status, 200);
        let n = r.json()["features"].as_array().unwrap().len();
        assert!(n > 200, "{n} countries");
        let full = std::fs::metadata(countries).unwrap().len() as usize;
        assert!(r.body.len() * 2 < full, "{} of {full} bytes", r.body.len());
    }
}
