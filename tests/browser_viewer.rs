//! The joint map viewer in a real browser: Debian's headless chromium,
//! driven over the DevTools protocol (tests/cdp), against the real binary
//! on a seeded demo store with canary records.
//!
//! Checked: the page and everything it loads come from the server (every
//! request the browser makes is recorded; none may leave it); signing in
//! with a token lists the layers that role may see and not the others; a
//! canary no partner may see never enters the page's DOM, although the same
//! clicks show it to the hr role; the time window changes what is drawn;
//! clicking a feature shows exactly the attributes the server gives that
//! role; French is chosen from the browser's language and can be switched.
//! jointmap's raster tiles are waited for (every tile image decoded) before
//! a layer is toggled, and the slider changes the tiles' pixels.
//! Screenshots go to target/browser-viewer/.

mod cdp;
mod server_common;

use cdp::{Browser, Page};
use serde_json::{json, Value};
use server_common::*;
use std::path::{Path, PathBuf};

/// The hr-only canary incident: its narrative and id must never reach a
/// partner. Placed outside the demo's area so that nothing covers it.
const CANARY_INC: &str = "CANARY-INC-0001";
const CANARY_TEXT: &str = "CANARY-NARRATIVE-VIEWER";
const CANARY_POS: [f64; 2] = [21.3, 4.0];
/// A military patrol: partners see no patrols layer at all.
const CANARY_PATROL: &str = "CANARY-PATROL-0001";

fn canaries(dir: &Path, store: &Path) {
    let incident = json!({"type": "Feature", "id": CANARY_INC,
        "geometry": {"type": "Point", "coordinates": CANARY_POS},
        "properties": {"time_start": "2025-06-01T10:00:00Z", "owner": "hr",
            "classification": "restricted", "category": "killing",
            "perpetrator": "CANARY-PERPETRATOR", "perpetrator_category": "non-state-armed-group",
            "killed_men": 1, "verification": "verified", "source_type": "witness",
            "source_reliability": "A", "location_precision": "exact", "consent": "hr-only",
            "narrative": CANARY_TEXT}});
    let patrol = json!({"type": "Feature", "id": CANARY_PATROL,
        "geometry": {"type": "LineString", "coordinates": [[17.0, 5.25], [17.3, 5.3], [17.6, 5.35]]},
        "properties": {"time_start": "2025-03-04T06:00:00Z", "time_end": "2025-03-04T10:00:00Z",
            "owner": "military", "classification": "mission", "unit": "CANARY-UNIT",
            "mode": "vehicle", "kind": "routine"}});
    for (layer, f) in [("incidents", incident), ("patrols", patrol)] {
        let path = dir.join(format!("{layer}.geojson"));
        std::fs::write(&path, f.to_string()).unwrap();
        cli(store, &["ingest", layer, path.to_str().unwrap()]);
    }
}

fn shots() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-viewer");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Signs in through the form, as a person would, and waits until the
/// layers are listed and nothing is loading.
fn sign_in(b: &mut Browser, p: &Page, token: &str) {
    b.wait_for(p, "document.body.dataset.state === 'signin'", 30);
    b.eval(p, "document.getElementById('token').focus()");
    b.type_text(p, token);
    b.eval(p, "document.getElementById('signin-button').click()");
    idle(b, p);
}

fn idle(b: &mut Browser, p: &Page) {
    b.wait_for(
        p,
        "document.body.dataset.state === 'ready' && document.body.dataset.pending === '0'",
        90,
    );
}

/// Waits until the map's jointmap tiles are in: at least one tile image,
/// and every tile image of every tile layer decoded (complete, with a
/// width), nothing loading.
fn tiles_loaded(b: &mut Browser, p: &Page) {
    idle(b, p);
    let t = std::time::Instant::now();
    loop {
        let state = b.eval(
            p,
            "(() => { const imgs = [...document.querySelectorAll('.tile-layer img')];
               return [imgs.length, imgs.filter(i => i.complete && i.naturalWidth > 0).length,
                       document.body.dataset.pending]; })()",
        );
        if state[0].as_u64() > Some(0) && state[0] == state[1] && state[2] == json!("0") {
            return;
        }
        if t.elapsed() > std::time::Duration::from_secs(120) {
            let asked: Vec<&String> = b
                .requests
                .iter()
                .filter(|u| u.contains("/tiles/"))
                .collect();
            panic!(
                "tiles not loaded: [images, decoded, pending] = {state}; tile requests {asked:?}; errors {:?}",
                b.errors
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

/// What the tile layers show: a digest of every tile image's pixels (read
/// back through a canvas), in the order of their map positions, and how
/// many of their pixels are not transparent.
fn tile_pixels(b: &mut Browser, p: &Page) -> (String, u64) {
    let v = b.eval(
        p,
        "(() => {
           const imgs = [...document.querySelectorAll('.tile-layer img')]
             .sort((a, b) => (a.style.transform + a.style.left + a.style.top)
               .localeCompare(b.style.transform + b.style.left + b.style.top));
           let h = 2166136261 >>> 0, opaque = 0;
           const c = document.createElement('canvas');
           const g = c.getContext('2d', { willReadFrequently: true });
           for (const img of imgs) {
             c.width = img.naturalWidth; c.height = img.naturalHeight;
             g.clearRect(0, 0, c.width, c.height);
             g.drawImage(img, 0, 0);
             const d = g.getImageData(0, 0, c.width, c.height).data;
             for (let i = 0; i < d.length; i++) h = Math.imul(h ^ d[i], 16777619) >>> 0;
             for (let i = 3; i < d.length; i += 4) if (d[i] > 0) opaque++;
           }
           return [imgs.length + ':' + h.toString(16), opaque];
         })()",
    );
    (
        v[0].as_str().unwrap_or("").to_string(),
        v[1].as_u64().unwrap_or(0),
    )
}

/// The tile URLs of `layer` the browser asked for so far.
fn tile_requests(b: &Browser, layer: &str) -> Vec<String> {
    let part = format!("/tiles/{layer}/");
    b.requests
        .iter()
        .filter(|u| u.contains(&part))
        .cloned()
        .collect()
}

/// The layer keys the switcher offers.
fn offered(b: &mut Browser, p: &Page) -> Vec<String> {
    let v = b.eval(
        p,
        "[...document.querySelectorAll('input[data-layer]')].map(e => e.dataset.layer)",
    );
    serde_json::from_value(v).unwrap()
}

fn toggle(b: &mut Browser, p: &Page, key: &str) {
    b.eval(
        p,
        &format!("document.querySelector('input[data-layer=\"{key}\"]').click()"),
    );
    idle(b, p);
}

/// The number of features a layer's status shows.
fn count(b: &mut Browser, p: &Page, key: &str) -> u64 {
    let s = status(b, p, key);
    s.parse()
        .unwrap_or_else(|_| panic!("{key}: status {s:?}, errors {:?}", b.errors))
}

fn status(b: &mut Browser, p: &Page, key: &str) -> String {
    let id = format!("toggle-{}-status", key.replace(':', "-"));
    b.eval(p, &format!("document.getElementById('{id}').textContent"))
        .as_str()
        .unwrap_or("")
        .to_string()
}

/// Clicks the drawn feature with this id with a real mouse event (checking
/// it is the topmost element there) and returns the attribute table.
fn click_feature(b: &mut Browser, p: &Page, fid: &str) -> Vec<(String, String)> {
    let sel = format!("[data-fid=\"{fid}\"]");
    let at = b.eval(
        p,
        &format!(
            "(() => {{ const el = document.querySelector('{sel}'); if (!el) return null;
               const r = el.getBoundingClientRect();
               const x = r.left + r.width / 2, y = r.top + r.height / 2;
               return [x, y, document.elementFromPoint(x, y) === el]; }})()"
        ),
    );
    assert!(at.is_array(), "feature {fid} is not drawn");
    assert_eq!(at[2], json!(true), "feature {fid} is covered: {at}");
    b.click(p, at[0].as_f64().unwrap(), at[1].as_f64().unwrap());
    // The heading names the clicked feature once its attributes are shown.
    b.wait_for(
        p,
        &format!("document.getElementById('attributes-heading').textContent.endsWith(' · {fid}')"),
        10,
    );
    let rows = b.eval(
        p,
        "[...document.querySelectorAll('#attributes tbody tr')].map(r => [r.cells[0].textContent, r.cells[1].textContent])",
    );
    serde_json::from_value(rows).unwrap()
}

/// What the attribute table should show for these properties.
fn shown(props: &Value) -> Vec<(String, String)> {
    props
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            let text = match v {
                Value::Null => "—".to_string(),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), text)
        })
        .collect()
}

fn html(b: &mut Browser, p: &Page) -> String {
    b.eval(p, "document.documentElement.outerHTML")
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
#[cfg_attr(
    not(jointmap_chromium),
    ignore = "chromium is missing (apt-get install chromium)"
)]
fn the_viewer_works_offline_per_role_in_two_languages() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("demo.gpkg");
    cli(&store, &["demo", "--incidents", "300"]);
    canaries(dir.path(), &store);
    let countries = Path::new("../shared/data/ne_50m_admin_0_countries.geojson");
    let cfg = config(dir.path(), &store, "");
    if countries.exists() {
        // A top-level key: before the [[tokens]] tables.
        let text = std::fs::read_to_string(&cfg).unwrap();
        let line = format!(
            "basemap = {:?}\n",
            std::fs::canonicalize(countries).unwrap()
        );
        std::fs::write(&cfg, line + &text).unwrap();
    }
    let server = Server::start(&cfg);
    let mut b = Browser::start();
    let out = shots();

    // --- a partner, in English --------------------------------------------
    let p = b.page("en-US");
    b.goto(&p, &format!("{}/", server.base));
    b.wait_for(&p, "document.body.dataset.state === 'signin'", 30);
    assert_eq!(b.eval(&p, "document.documentElement.lang"), json!("en"));
    assert_eq!(
        b.eval(&p, "document.querySelector('#signin h2').textContent"),
        json!("Sign in")
    );
    // A wrong token is refused and the form stays.
    sign_in_fails(&mut b, &p, "not-a-valid-token-at-all");
    sign_in(&mut b, &p, PARTNER);
    // The token is in this tab's session storage, never in the address.
    assert_eq!(
        b.eval(&p, "sessionStorage.getItem('jointmap.token')"),
        json!(PARTNER)
    );
    let partner_layers = offered(&mut b, &p);
    let expected: Vec<String> = server
        .json("/collections", PARTNER)
        .get("collections")
        .and_then(Value::as_array)
        .unwrap()
        .iter()
        .map(|c| format!("features:{}", c["id"].as_str().unwrap()))
        .collect();
    for key in &expected {
        assert!(
            partner_layers.contains(key),
            "{key} missing from {partner_layers:?}"
        );
    }
    assert!(partner_layers.contains(&"features:sightings".to_string()));
    assert!(
        !partner_layers.contains(&"features:patrols".to_string()),
        "a partner is offered patrols: {partner_layers:?}"
    );
    // Every record layer on, a sighting clicked, then every analysis on.
    for key in partner_layers.iter().filter(|k| k.starts_with("features:")) {
        toggle(&mut b, &p, key);
    }
    let n = status(&mut b, &p, "features:sightings");
    assert!(
        n.parse::<u64>().is_ok_and(|n| n > 0),
        "{n:?} {:?}",
        b.requests
    );
    let sighting = b.eval(
        &p,
        "[...document.querySelectorAll('.jm-sightings[data-fid]')].map(el => {
           const r = el.getBoundingClientRect();
           return document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2) === el
             ? el.getAttribute('data-fid') : null; }).find(x => x)",
    );
    let sighting = sighting.as_str().expect("a sighting on top").to_string();
    let rows = click_feature(&mut b, &p, &sighting);
    let item = server.json(
        &format!("/collections/sightings/items/{}", enc(&sighting)),
        PARTNER,
    );
    assert_eq!(rows, shown(&item["properties"]), "attributes of {sighting}");
    for key in partner_layers
        .iter()
        .filter(|k| !k.starts_with("features:"))
    {
        toggle(&mut b, &p, key);
    }
    b.screenshot(&p, &out.join("partner-en.png"));
    let page = html(&mut b, &p);
    for canary in ["CANARY", CANARY_TEXT, CANARY_INC, CANARY_PATROL] {
        assert!(!page.contains(canary), "{canary} reached a partner's page");
    }
    b.eval(&p, "document.getElementById('signout').click()");
    b.wait_for(&p, "document.body.dataset.state === 'signin'", 10);
    // Signing out leaves nothing of the partner's on the page.
    assert_eq!(
        b.eval(&p, "document.querySelectorAll('#attributes tbody tr, [data-fid], input[data-layer]').length"),
        json!(0)
    );
    assert_eq!(
        b.eval(&p, "sessionStorage.getItem('jointmap.token')"),
        Value::Null
    );

    // --- hr, same clicks: the canary is there (so the check above can fail) -
    sign_in(&mut b, &p, HR);
    // jointmap's heat tiles first: every tile image decoded before anything
    // else is toggled.
    assert!(offered(&mut b, &p).contains(&"tiles:heat".to_string()));
    toggle(&mut b, &p, "tiles:heat");
    tiles_loaded(&mut b, &p);
    let heat_before = tile_requests(&b, "heat");
    let (pixels_before, opaque_before) = tile_pixels(&mut b, &p);
    assert!(!heat_before.is_empty(), "{:?}", b.requests);
    assert!(opaque_before > 0, "the heat tiles show nothing");
    toggle(&mut b, &p, "features:incidents");
    let all = count(&mut b, &p, "features:incidents");
    assert!(all > 1);
    let rows = click_feature(&mut b, &p, CANARY_INC);
    assert!(
        rows.iter()
            .any(|(k, v)| k == "narrative" && v == CANARY_TEXT),
        "{rows:?}"
    );
    let item = server.json(&format!("/collections/incidents/items/{CANARY_INC}"), HR);
    assert_eq!(rows, shown(&item["properties"]));
    // The time window: the first quarter of the span draws fewer incidents.
    b.eval(
        &p,
        "(() => { const e = document.getElementById('time-end');
           e.value = String(Math.floor(Number(e.max) / 4));
           e.dispatchEvent(new Event('input')); })()",
    );
    idle(&mut b, &p);
    let early = count(&mut b, &p, "features:incidents");
    assert!(early < all, "time window: {early} of {all}");
    // The heat tiles were asked for again with the new window, and what
    // they show changed: less heat in a quarter of the time.
    tiles_loaded(&mut b, &p);
    let heat_after: Vec<String> = tile_requests(&b, "heat")
        .into_iter()
        .filter(|u| !heat_before.contains(u))
        .collect();
    assert!(
        !heat_after.is_empty(),
        "no heat tile asked for after the slider moved"
    );
    let (pixels_after, opaque_after) = tile_pixels(&mut b, &p);
    assert_ne!(pixels_after, pixels_before, "the heat tiles did not change");
    assert!(
        opaque_after < opaque_before,
        "heat pixels: {opaque_after} after, {opaque_before} before"
    );
    toggle(&mut b, &p, "analysis:hotspots");
    assert!(
        html(&mut b, &p).contains("Getis-Ord"),
        "the legend explains the Gi* classes"
    );
    b.screenshot(&p, &out.join("hr-en.png"));

    // --- a browser in French ------------------------------------------------
    let fr = b.page("fr-FR");
    b.goto(&fr, &format!("{}/", server.base));
    b.wait_for(&fr, "document.body.dataset.state === 'signin'", 30);
    assert_eq!(b.eval(&fr, "document.documentElement.lang"), json!("fr"));
    assert_eq!(
        b.eval(&fr, "document.querySelector('#signin h2').textContent"),
        json!("Connexion")
    );
    sign_in(&mut b, &fr, MIL);
    assert!(offered(&mut b, &fr).contains(&"features:patrols".to_string()));
    assert_eq!(
        b.eval(
            &fr,
            "document.querySelector('label[for=\"toggle-features-patrols\"]').textContent"
        ),
        json!("Patrouilles")
    );
    toggle(&mut b, &fr, "analysis:blindspots");
    assert!(html(&mut b, &fr).contains("Zone blanche de menace"));
    b.screenshot(&fr, &out.join("military-fr.png"));
    // The switch: English at once, and kept for the next visit.
    b.eval(
        &fr,
        "(() => { const s = document.getElementById('lang'); s.value = 'en';
           s.dispatchEvent(new Event('change')); })()",
    );
    b.wait_for(&fr, "document.documentElement.lang === 'en'", 10);
    assert_eq!(
        b.eval(
            &fr,
            "document.querySelector('label[for=\"toggle-features-patrols\"]').textContent"
        ),
        json!("Patrols")
    );

    // --- nothing left the server ---------------------------------------------
    let outside: Vec<&String> = b
        .requests
        .iter()
        .filter(|u| {
            !(u.starts_with(&format!("{}/", server.base))
                || u.starts_with("blob:")
                || u.starts_with("data:")
                || *u == "about:blank")
        })
        .collect();
    assert!(outside.is_empty(), "requests left the server: {outside:?}");
    assert!(
        b.requests
            .iter()
            .any(|u| u.ends_with("/viewer/leaflet/leaflet.js")),
        "the request log is empty: {:?}",
        b.requests
    );
    // No token in any URL the browser asked for.
    for (_, secret) in ROLES {
        assert!(b.requests.iter().all(|u| !u.contains(secret)));
    }
    assert!(b.errors.is_empty(), "page errors: {:?}", b.errors);
}

fn sign_in_fails(b: &mut Browser, p: &Page, token: &str) {
    b.eval(p, "document.getElementById('token').focus()");
    b.type_text(p, token);
    b.eval(p, "document.getElementById('signin-button').click()");
    b.wait_for(
        p,
        "!document.getElementById('signin-error').classList.contains('hidden') && document.body.dataset.pending === '0'",
        20,
    );
    assert_eq!(
        b.eval(p, "document.getElementById('signin-error').textContent"),
        json!("This token is not valid.")
    );
    assert_eq!(b.eval(p, "document.body.dataset.state"), json!("signin"));
}
