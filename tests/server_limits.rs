//! Availability of `jointmap serve` (issue 13, "no request takes the server
//! down"): each test replays an attack on the real binary and checks the
//! server refuses it quickly, stays small and keeps answering everyone else.

mod server_common;

use serde_json::Value;
use server_common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// A demo store (western CAR, about 600 by 400 km) and a server on it.
fn setup(extra: &str) -> (TempDir, Server) {
    let dir = TempDir::new().unwrap();
    let store = dir.path().join("demo.gpkg");
    cli(&store, &["demo", "--incidents", "400"]);
    let cfg = config(dir.path(), &store, extra);
    let server = Server::start(&cfg);
    (dir, server)
}

/// A field of `/proc/<pid>/status` in kB (Linux).
fn status_kb(pid: u32, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// CPU seconds (user + system) the process has used so far.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 of stat (utime, stime) are 12 and 13 after the name.
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    ticks / 100.0
}

fn audit_lines(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("audit.ndjson"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The exact attack (H3 resolution 9 over the events' extent, about 2.3
/// million cells) and a fine square grid over a large box are refused from
/// the cell estimate, fast, naming the parameter and the limit, for a role
/// with full access; the server's peak memory stays small.
#[test]
fn cell_budget_refuses_huge_grids_before_building_them() {
    let (_dir, s) = setup("[limits]\nanalysis_timeout_s = 60\n");
    let t = Instant::now();
    let v = s
        .get("/analysis/hotspots?grid=h3&h3-resolution=9", Some(HR))
        .problem(400, Some("h3-resolution"));
    assert_eq!(v["limit"], "max_cells", "{v}");
    assert_eq!(v["max_cells"], 400_000);
    assert!(v["detail"].as_str().unwrap().contains("max_cells"), "{v}");
    for q in [
        "bbox=14,0,24,10&cell-km=0.5",
        "bbox=-180,-90,180,90&cell-km=0.5",
        "bbox=-180,-90,180,90&grid=h3&h3-resolution=9",
    ] {
        let v = s.get(&format!("/analysis/hotspots?{q}"), Some(HR)).json();
        assert_eq!(
            (v["status"].as_u64(), v["limit"].as_str()),
            (Some(400), Some("max_cells")),
            "{q}: {v}"
        );
    }
    // Coverage is coarsened to 10 km for every role, but a box around the
    // globe still makes millions of cells.
    for ep in ["coverage", "blindspots", "impact"] {
        let v = s
            .get(&format!("/analysis/{ep}?bbox=-179,-80,179,80"), Some(MIL))
            .problem(400, Some("cell-km"));
        assert_eq!(v["limit"], "max_cells", "{ep}: {v}");
    }
    // Every cell written: the smaller budget (57,000 cells of 2 km).
    let v = s
        .get("/analysis/hotspots?cell-km=2&all-cells=true", Some(HR))
        .problem(400, Some("cell-km"));
    assert_eq!(v["max_cells"], 50_000, "{v}");
    assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());
    // A grid within the budget is computed as before.
    let r = s.get("/analysis/hotspots?cell-km=10&permutations=0", Some(HR));
    assert_eq!(r.status, 200, "{}", r.text());
    let peak = status_kb(s.pid(), "VmHWM:");
    assert!(peak < 1_000_000, "peak memory {peak} kB");
}

/// A request that runs past its timeout answers 503, and its computation
/// stops instead of going on for nobody: the server's CPU use falls back
/// to nothing soon after. The 503 is audited under the token's name.
#[test]
fn timed_out_analysis_is_cancelled() {
    let (dir, s) = setup("[limits]\nanalysis_timeout_s = 1\n");
    // About 220,000 cells of 1 km and 999 permutations: minutes of work.
    let path = "/analysis/hotspots?cell-km=1&permutations=999";
    let t = Instant::now();
    s.get(path, Some(HR)).problem(503, None);
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    // Within 10 s the server goes quiet for a whole second.
    let pid = s.pid();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut quiet = false;
    while Instant::now() < deadline {
        let a = cpu_seconds(pid);
        std::thread::sleep(Duration::from_secs(1));
        let used = cpu_seconds(pid) - a;
        if used < 0.2 {
            quiet = true;
            break;
        }
    }
    assert!(quiet, "the timed-out analysis kept computing");
    // The server still answers, and the 503 was audited.
    assert_eq!(s.get("/collections", Some(HR)).status, 200);
    let audit = audit_lines(dir.path());
    assert!(
        audit.iter().any(|l| l["status"] == 503
            && l["token"] == "hr-desk"
            && l["endpoint"] == "GET /analysis/hotspots"),
        "{audit:?}"
    );
}

/// Sends the headers of an ingest with a large body, then stalls.
fn stalled_upload(addr: &str, token: &str) -> TcpStream {
    let mut c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let head = format!(
        "POST /collections/incidents/items HTTP/1.1\r\nHost: {addr}\r\n\
         Authorization: Bearer {token}\r\nContent-Type: application/geo+json\r\n\
         Content-Length: 50000000\r\n\r\n{{\"type\":"
    );
    c.write_all(head.as_bytes()).unwrap();
    c
}

/// Status of the response on `c`, 0 when none came within `wait`.
fn status_within(c: &mut TcpStream, wait: Duration) -> u16 {
    c.set_read_timeout(Some(wait)).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match c.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    String::from_utf8_lossy(&buf)
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// Slow uploads from a token without the ingest right cannot block
/// everyone: each is refused (403) before its body is read, so three times
/// more of them than request slots leave the server answering others.
#[test]
fn uploads_without_the_right_are_refused_before_the_body() {
    let (dir, s) = setup("[limits]\nconcurrency = 8\n");
    let mut held = Vec::new();
    for _ in 0..24 {
        let mut c = stalled_upload(&s.addr, HR_READER);
        assert_eq!(status_within(&mut c, Duration::from_secs(5)), 403);
        held.push(c);
    }
    let t = Instant::now();
    let r = s.get("/collections/incidents/items?limit=1", Some(JMAC));
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    drop(held);
    let audit = audit_lines(dir.path());
    let refused = audit
        .iter()
        .filter(|l| l["token"] == "hr-reader" && l["status"] == 403)
        .count();
    assert_eq!(refused, 24);
}

/// Tokens with the ingest right get a few body slots of their own: beyond
/// them an upload is refused at once (503), a body too slow runs out of
/// time (408), and reads answer throughout.
#[test]
fn slow_uploads_with_the_right_get_bounded_slots_and_time() {
    let (dir, s) =
        setup("[limits]\nconcurrency = 8\ningest_concurrency = 2\ningest_body_timeout_s = 2\n");
    let mut slow: Vec<TcpStream> = (0..2).map(|_| stalled_upload(&s.addr, HR)).collect();
    std::thread::sleep(Duration::from_millis(500));
    let mut third = stalled_upload(&s.addr, HR);
    assert_eq!(status_within(&mut third, Duration::from_secs(5)), 503);
    let t = Instant::now();
    let r = s.get("/collections/incidents/items?limit=1", Some(JMAC));
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    for c in &mut slow {
        assert_eq!(status_within(c, Duration::from_secs(10)), 408);
    }
    let audit = audit_lines(dir.path());
    let count = |status: u16| {
        audit
            .iter()
            .filter(|l| l["token"] == "hr-desk" && l["status"] == status)
            .count()
    };
    assert_eq!((count(503), count(408)), (1, 2));
}

/// Requests without a valid token are audited (token null, with a reason);
/// a 413 under the token's name; secrets never reach the audit log or the
/// server's own log, even in a URL.
#[test]
fn refusals_are_audited_and_secrets_never_logged() {
    let dir = TempDir::new().unwrap();
    let store = dir.path().join("demo.gpkg");
    cli(&store, &["demo", "--incidents", "50"]);
    let cfg = config(dir.path(), &store, "[limits]\ningest_body_bytes = 1000\n");
    let s = Server::start_with(&cfg, &[("JOINTMAP_LOG", "trace")]);
    s.get("/collections", None).problem(401, None);
    s.get("/collections", Some("not-a-token"))
        .problem(401, None);
    let big = vec![b' '; 5000];
    s.post(
        "/collections/incidents/items",
        Some(HR),
        "application/geo+json",
        &big,
    )
    .problem(413, None);
    // Secrets in the query and the path: the request is answered (400,
    // 404) and audited, the secret is not.
    let q = format!("/collections/incidents/items?access_token={HR}&x=1");
    s.get(&q, Some(HR)).problem(400, Some("access_token"));
    let q = format!("/collections/incidents/items?category={MIL}");
    assert_eq!(s.get(&q, Some(HR)).status, 200);
    s.get(&format!("/collections/{JMAC}/items"), Some(HR))
        .problem(404, None);
    let audit = std::fs::read_to_string(dir.path().join("audit.ndjson")).unwrap();
    for secret in [HR, MIL, JMAC, "not-a-token"] {
        assert!(
            !audit.contains(secret),
            "{secret} in the audit log:\n{audit}"
        );
    }
    let lines = audit_lines(dir.path());
    let unauthorised: Vec<&Value> = lines.iter().filter(|l| l["status"] == 401).collect();
    assert_eq!(unauthorised.len(), 2, "{lines:?}");
    assert!(unauthorised
        .iter()
        .all(|l| l["token"].is_null() && l["role"].is_null()));
    assert_eq!(unauthorised[0]["reason"], "missing token");
    assert_eq!(unauthorised[1]["reason"], "unknown token");
    assert!(lines
        .iter()
        .any(|l| l["status"] == 413 && l["token"] == "hr-desk"));
    assert_eq!(
        lines
            .iter()
            .filter(|l| l["params"].as_str().unwrap_or("").contains("REDACTED"))
            .count(),
        2
    );
    assert!(lines
        .iter()
        .any(|l| l["endpoint"] == "GET /collections/REDACTED/items"));
    // The server's log (tracing at its most verbose) has no secret either.
    std::thread::sleep(Duration::from_millis(200));
    let log = s.log.lock().unwrap().join("\n");
    for secret in [HR, MIL, JMAC, "not-a-token"] {
        assert!(!log.contains(secret), "{secret} in the server log");
    }
}

/// One request with a chosen `Host` header.
fn get_with_host(addr: &str, path: &str, host: &str) -> Resp {
    let mut c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {HR}\r\nConnection: close\r\n\r\n"
    );
    c.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    let _ = c.read_to_end(&mut raw);
    parse_response(&raw)
}

fn hrefs(doc: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(links) = doc["links"].as_array() {
        out.extend(
            links
                .iter()
                .filter_map(|l| l["href"].as_str().map(String::from)),
        );
    }
    out
}

/// Links come from the configured public URL, else from the address the
/// server listens on, never from the client's `Host` header; a server on a
/// non-loopback address refuses to start without a public URL.
#[test]
fn links_never_come_from_the_host_header() {
    let dir = TempDir::new().unwrap();
    let store = dir.path().join("demo.gpkg");
    cli(&store, &["demo", "--incidents", "50"]);
    let plain = config(dir.path(), &store, "");
    let s = Server::start_with(
        &plain,
        &[("JOINTMAP_PUBLIC_URL", "https://map.example.org/jm/")],
    );
    for path in ["/", "/collections", "/collections/incidents/items?limit=2"] {
        let r = get_with_host(&s.addr, path, "evil.example");
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        let links = hrefs(&r.json());
        assert!(!links.is_empty(), "{path}");
        for h in &links {
            assert!(h.starts_with("https://map.example.org/jm/"), "{path}: {h}");
        }
    }
    let api = get_with_host(&s.addr, "/api", "evil.example").text();
    assert!(!api.contains("evil.example"));
    // Without a public URL (loopback only): the bound address.
    let s2 = Server::start(&plain);
    let r = get_with_host(
        &s2.addr,
        "/collections/incidents/items?limit=2",
        "evil.example",
    );
    for h in hrefs(&r.json()) {
        assert!(h.starts_with(&format!("http://{}/", s2.addr)), "{h}");
    }
    // Listening beyond loopback needs a public URL.
    let o = bin()
        .args(["serve", "--listen", "0.0.0.0:0", "--config"])
        .arg(&plain)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("public_url"));
}

/// Absurd numbers are 400s naming the parameter, for items and analyses.
#[test]
fn absurd_numbers_are_named_400s() {
    let (_dir, s) = setup("");
    for (q, name) in [
        ("bbox=1e308,0,1,1", "bbox"),
        ("bbox=0,0,1e308,1", "bbox"),
        ("limit=99999999999999999999999", "limit"),
        ("datetime=99999-01-01", "datetime"),
    ] {
        s.get(&format!("/collections/incidents/items?{q}"), Some(HR))
            .problem(400, Some(name));
    }
    for (ep, q, name) in [
        ("hotspots", "bbox=1e308,0,1,1", "bbox"),
        ("hotspots", "bbox=nan,0,1,1", "bbox"),
        ("hotspots", "cell-km=NaN", "cell-km"),
        ("hotspots", "cell-km=1e-300", "cell-km"),
        ("hotspots", "bandwidth-km=1e308", "bandwidth-km"),
        ("hotspots", "knn=99999999999999999999", "knn"),
        ("clusters", "eps-days=inf", "eps-days"),
        ("coverage", "corridor-foot-km=1e300", "corridor-foot-km"),
        ("coverage", "from=99999-01-01", "from"),
        (
            "blindspots",
            "likelihood-breaks=1,2,inf,8",
            "likelihood-breaks",
        ),
        ("impact", "window-days=9223372036854775807", "window-days"),
    ] {
        s.get(&format!("/analysis/{ep}?{q}"), Some(HR))
            .problem(400, Some(name));
    }
}
