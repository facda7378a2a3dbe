//! The headquarters setup of docs/deploy.md, run for real: Debian's nginx with
//! the configuration the repository ships (deploy/nginx/jointmap.conf, only its
//! ports changed) in front of two jointmap servers on one PostGIS store.
//! Several clients read through the proxy while one server is killed with
//! SIGKILL: every request is answered, or a single retry by the client is; and
//! once the killed server is back, nginx sends it requests again.
//!
//! Runs when `JOINTMAP_TEST_PG` names a PostgreSQL server and nginx is
//! installed (build.rs).

mod common;
mod server_common;

use serde_json::{json, Value};
use server_common::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tempfile::TempDir;

/// The configuration the repository ships, read when the test is built.
const SHIPPED: &str = include_str!("../deploy/nginx/jointmap.conf");

/// Client threads reading through the proxy.
const CLIENTS: usize = 4;

/// The shipped configuration with its upstream servers and listen address
/// replaced, and nothing else: the directives under test are the file's own.
/// Fails when the file no longer has exactly `upstreams.len()` `server ADDR`
/// lines and one `listen` line, so the test cannot drift from it silently.
fn shipped_config(upstreams: &[&str], listen: &str) -> String {
    let mut next = upstreams.iter();
    let mut listens = 0;
    let mut out = String::new();
    for line in SHIPPED.lines() {
        let t = line.trim_start();
        let indent = &line[..line.len() - t.len()];
        let words: Vec<&str> = t.split_whitespace().collect();
        let line = match words.as_slice() {
            // `server 127.0.0.1:8081 max_fails=...;` in the upstream block (not
            // the `server {` block, nor `server_name`).
            ["server", addr, ..] if addr.contains(':') => {
                let to = next
                    .next()
                    .unwrap_or_else(|| panic!("more `server` lines than upstreams: {line}"));
                format!("{indent}{}", t.replacen(addr.trim_end_matches(';'), to, 1))
            }
            ["listen", ..] => {
                listens += 1;
                format!("{indent}listen {listen};")
            }
            _ => line.to_string(),
        };
        out.push_str(&line);
        out.push('\n');
    }
    assert!(next.next().is_none(), "fewer `server` lines than upstreams");
    assert_eq!(listens, 1, "the shipped file should have one `listen` line");
    out
}

/// A free port on 127.0.0.1.
fn free_addr() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// nginx in the foreground with everything (config, logs, temp files, pid)
/// in a temp dir; stopped when dropped.
struct Nginx {
    child: Child,
    addr: String,
    dir: TempDir,
}

impl Nginx {
    fn start(upstreams: &[&str]) -> Nginx {
        let dir = TempDir::new().unwrap();
        let d = dir.path().display().to_string();
        let addr = free_addr();
        std::fs::write(
            dir.path().join("jointmap.conf"),
            shipped_config(upstreams, &addr),
        )
        .unwrap();
        // As root, nginx's workers run as nobody (the master only binds and
        // opens the logs), and they must reach the temp dirs below.
        let user = if is_root() {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
                    .unwrap();
            }
            "user nobody nogroup;"
        } else {
            ""
        };
        let main = format!(
            "daemon off;\nmaster_process on;\nworker_processes 2;\n{user}\n\
             pid {d}/nginx.pid;\nlock_file {d}/nginx.lock;\nerror_log {d}/error.log info;\n\
             events {{ worker_connections 512; }}\n\
             http {{\n\
               client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
               fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n\
               scgi_temp_path {d}/scgi;\n\
               log_format upstreams '$msec $status \"$upstream_addr\" \"$upstream_status\" $request_uri';\n\
               access_log {d}/access.log upstreams;\n\
               include {d}/jointmap.conf;\n\
             }}\n"
        );
        let conf = dir.path().join("nginx.conf");
        std::fs::write(&conf, main).unwrap();
        let nginx = option_env!("JOINTMAP_NGINX").unwrap_or("nginx");
        let test = Command::new(nginx)
            .arg("-p")
            .arg(dir.path())
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .arg("-c")
            .arg(&conf)
            .arg("-t")
            .output()
            .expect("run nginx -t");
        assert!(
            test.status.success(),
            "nginx -t refuses the shipped configuration:\n{}",
            String::from_utf8_lossy(&test.stderr)
        );
        let child = Command::new(nginx)
            .arg("-p")
            .arg(dir.path())
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nginx");
        let mut n = Nginx { child, addr, dir };
        let t = Instant::now();
        loop {
            if let Ok(r) = fetch(&n.addr, "/health", None, None) {
                if r.status == 200 {
                    break;
                }
            }
            if let Ok(Some(s)) = n.child.try_wait() {
                panic!("nginx exited ({s}): {}", n.error_log());
            }
            assert!(t.elapsed() < Duration::from_secs(20), "{}", n.error_log());
            std::thread::sleep(Duration::from_millis(50));
        }
        n
    }

    fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }

    /// The access log: (time, status, the upstreams tried in order).
    fn access(&self) -> Vec<(f64, u16, Vec<String>)> {
        let text = std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default();
        text.lines()
            .filter_map(|l| {
                let mut it = l.splitn(3, ' ');
                let t: f64 = it.next()?.parse().ok()?;
                let status: u16 = it.next()?.parse().ok()?;
                let rest = it.next()?;
                let ups = rest.split('"').nth(1)?;
                let ups = ups
                    .split([',', ':'])
                    .map(str::trim)
                    .collect::<Vec<_>>()
                    // "127.0.0.1:8081, 127.0.0.1:8082" split on ',' and ':' gives
                    // host, port pairs.
                    .chunks(2)
                    .map(|hp| hp.join(":"))
                    .collect();
                Some((t, status, ups))
            })
            .collect()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM to the master: it stops its workers (a SIGKILL would orphan them).
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One GET over a fresh connection, as a client sees it: an error instead of
/// a panic when the connection fails or the answer is cut short.
fn fetch(addr: &str, path: &str, token: Option<&str>, etag: Option<&str>) -> Result<Resp, String> {
    let to: SocketAddr = addr.parse().map_err(|e| format!("{e}"))?;
    let mut s =
        TcpStream::connect_timeout(&to, Duration::from_secs(5)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .map_err(|e| e.to_string())?;
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    if let Some(e) = etag {
        req.push_str(&format!("If-None-Match: {e}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).map_err(|e| e.to_string())?;
    if !raw.windows(4).any(|w| w == b"\r\n\r\n") {
        return Err(format!("no complete answer ({} bytes)", raw.len()));
    }
    Ok(parse_response(&raw))
}

/// `n` incidents around (18.0, 5.0), ids `base-<i>`.
fn incidents(n: usize) -> Value {
    let features: Vec<Value> = (0..n)
        .map(|i| {
            let mut f = common::incident(i);
            f["id"] = json!(format!("base-{i}"));
            f["geometry"]["coordinates"] = json!([18.0 + i as f64 * 1e-4, 5.0]);
            f
        })
        .collect();
    json!({"type": "FeatureCollection", "features": features})
}

const N: usize = 300;
const ANALYSIS: &str = "/analysis/hotspots?cell-km=10&permutations=0";
const TILE: &str = "/tiles/incidents/6/35/31.mvt";

/// A request's outcome as the client saw it.
struct Outcome {
    /// Seconds since the Unix epoch when it was sent.
    sent: f64,
    path: String,
    /// The first answer: status, or the connection error.
    first: Result<u16, String>,
    /// The single retry's, when the first was not a success.
    retry: Option<Result<u16, String>>,
}

fn ok(status: u16) -> bool {
    (200..300).contains(&status) || status == 304
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// The answer is what was asked for: the item by its id, a page of items,
/// the analysis (for hr, which sees every event, its count), a tile.
fn check_body(path: &str, token: &str, r: &Resp) {
    if r.status != 200 {
        return;
    }
    if let Some(id) = path.strip_prefix("/collections/incidents/items/") {
        assert_eq!(r.json()["id"], id, "{path}");
    } else if path.starts_with("/collections/incidents/items?") {
        assert_eq!(r.json()["features"].as_array().map(Vec::len), Some(10));
    } else if path == ANALYSIS {
        let v = r.json();
        if token != HR {
            assert!(v["features"].is_array(), "{path}");
            return;
        }
        let total: u64 = v["features"]
            .as_array()
            .expect("features")
            .iter()
            .filter_map(|c| c["properties"]["count"].as_u64())
            .sum();
        assert_eq!(total, N as u64, "{path}");
    } else if path == TILE {
        assert!(!r.body.is_empty(), "an empty tile");
    }
}

/// Client `t`: reads items, analyses and tiles through the proxy until told
/// to stop, retrying once what did not succeed.
fn client(t: usize, proxy: &str, stop: &AtomicBool, out: &Mutex<Vec<Outcome>>) {
    let mut etag: Option<String> = None;
    let mut k = 0usize;
    while !stop.load(Ordering::Relaxed) {
        let token = if t % 2 == 0 { HR } else { MIL };
        let (path, cond) = match (k + t) % 5 {
            0 => ("/collections/incidents/items?limit=10".to_string(), None),
            1 => (
                format!("/collections/incidents/items/base-{}", (k * 7 + t) % N),
                None,
            ),
            2 => (ANALYSIS.to_string(), None),
            3 => (TILE.to_string(), None),
            _ => (TILE.to_string(), etag.clone()),
        };
        // Items as hr, which sees every one of them (the military view of these
        // hr records is empty); analyses and tiles as either role.
        let token = if path.starts_with("/collections/") {
            HR
        } else {
            token
        };
        let sent = now();
        let attempt = || {
            let r = fetch(proxy, &path, Some(token), cond.as_deref())?;
            check_body(&path, token, &r);
            if path == TILE && r.status == 200 && cond.is_none() {
                return Ok((r.status, r.header("etag").map(str::to_string)));
            }
            Ok((r.status, None))
        };
        let first = attempt();
        let retry = match &first {
            Ok((s, _)) if ok(*s) => None,
            _ => Some(attempt().map(|(s, _)| s)),
        };
        if let Ok((_, Some(e))) = &first {
            etag = Some(e.clone());
        }
        out.lock().unwrap().push(Outcome {
            sent,
            path,
            first: first.map(|(s, _)| s),
            retry,
        });
        k += 1;
    }
}

#[test]
#[cfg_attr(
    not(all(jointmap_test_pg, jointmap_nginx)),
    ignore = "needs JOINTMAP_TEST_PG (tools/pg-test-cluster.sh start) and nginx (apt-get install nginx-light)"
)]
fn killing_one_server_behind_the_shipped_nginx_loses_no_request_a_retry_does_not_recover() {
    let store = common::postgis_store("proxy");
    let store = Path::new(&store);
    let dir = TempDir::new().unwrap();
    let data = dir.path().join("incidents.geojson");
    std::fs::write(&data, incidents(N).to_string()).unwrap();
    cli(store, &["ingest", "incidents", data.to_str().unwrap()]);

    // Two servers, one config each (its own audit log), as in docs/deploy.md.
    let config_of = |name: &str, listen: &str| -> PathBuf {
        let d = dir.path().join(name);
        std::fs::create_dir_all(&d).unwrap();
        let cfg = config(&d, store, "");
        let text = std::fs::read_to_string(&cfg).unwrap();
        let text = text.replacen(
            "listen = \"127.0.0.1:0\"",
            &format!("listen = {listen:?}"),
            1,
        );
        std::fs::write(&cfg, text).unwrap();
        cfg
    };
    let mut a = Server::start(&config_of("a", "127.0.0.1:0"));
    let b = Server::start(&config_of("b", "127.0.0.1:0"));
    let a_addr = a.addr.clone();
    let nginx = Nginx::start(&[&a.addr, &b.addr]);

    let stop = AtomicBool::new(false);
    let outcomes = Mutex::new(Vec::new());
    let (killed, restarted, back) = std::thread::scope(|s| {
        for t in 0..CLIENTS {
            let (proxy, stop, out) = (&nginx.addr, &stop, &outcomes);
            s.spawn(move || client(t, proxy, stop, out));
        }
        // A steady stream first: both servers warm and answering.
        let t = Instant::now();
        while [&a_addr, &b.addr].iter().any(|s| {
            let n = nginx.access();
            n.iter()
                .filter(|(_, st, ups)| ok(*st) && ups.last() == Some(s))
                .count()
                < 20
        }) {
            assert!(t.elapsed() < Duration::from_secs(60), "servers not warm");
            std::thread::sleep(Duration::from_millis(100));
        }
        let killed = now();
        a.kill();
        // Served by B alone meanwhile, and nginx tries A again after its
        // fail_timeout (5 s): connection refused, passed on to B.
        std::thread::sleep(Duration::from_secs(6));
        let restarted = now();
        let a2 = Server::start(&config_of("a", &a_addr));
        // nginx sends requests to A again: the first, then ten more.
        let t = Instant::now();
        let mut back = None;
        while t.elapsed() < Duration::from_secs(30) {
            let served: Vec<f64> = nginx
                .access()
                .into_iter()
                .filter(|(at, st, ups)| *at > restarted && ok(*st) && ups.last() == Some(&a_addr))
                .map(|(at, _, _)| at)
                .collect();
            back = served.first().copied();
            if served.len() > 10 {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        stop.store(true, Ordering::Relaxed);
        (killed, restarted, back.map(|at| (at, a2)))
    });
    let outcomes = outcomes.into_inner().unwrap();
    let access = nginx.access();

    // Figures, for the report.
    let phase = |o: &Outcome| {
        if o.sent < killed {
            0
        } else if o.sent < restarted {
            1
        } else {
            2
        }
    };
    let mut sent = [0usize; 3];
    let mut first_failed = [0usize; 3];
    let mut lost = Vec::new();
    for o in &outcomes {
        sent[phase(o)] += 1;
        if o.first.as_ref().is_ok_and(|s| ok(*s)) {
            continue;
        }
        first_failed[phase(o)] += 1;
        if !o
            .retry
            .as_ref()
            .is_some_and(|r| r.as_ref().is_ok_and(|s| ok(*s)))
        {
            lost.push(format!("{} {:?} then {:?}", o.path, o.first, o.retry));
        }
    }
    let served_by = |addr: &str, from: f64, to: f64| {
        access
            .iter()
            .filter(|(at, s, ups)| {
                *at >= from && *at < to && ok(*s) && ups.last().map(String::as_str) == Some(addr)
            })
            .count()
    };
    let passed_on = access.iter().filter(|(_, _, ups)| ups.len() > 1).count();
    eprintln!(
        "proxy failover: requests before the kill {}, while A was down {}, after its restart {}; \
         failed at first {:?}, of them lost after one retry {}; nginx passed {} on to the next server; \
         answered by A/B before the kill {}/{}, while down {}/{}, after restart {}/{}",
        sent[0],
        sent[1],
        sent[2],
        first_failed,
        lost.len(),
        passed_on,
        served_by(&a_addr, 0.0, killed),
        served_by(&b.addr, 0.0, killed),
        served_by(&a_addr, killed, restarted),
        served_by(&b.addr, killed, restarted),
        served_by(&a_addr, restarted, f64::MAX),
        served_by(&b.addr, restarted, f64::MAX),
    );

    assert!(
        lost.is_empty(),
        "{} requests failed twice: {:?}\nnginx: {}",
        lost.len(),
        lost,
        nginx.error_log()
    );
    // And what docs/deploy.md promises of the shipped file: nginx itself
    // passes a read the killed server could not answer on to the other one,
    // so no client even needed its retry.
    assert_eq!(
        first_failed,
        [0, 0, 0],
        "reads failed at the proxy (before the kill, while A was down, after its restart)"
    );
    // The test saw what it is about: both servers in use before the kill,
    // traffic while A was down, A in use again after its restart.
    assert!(served_by(&a_addr, 0.0, killed) > 0, "A never served");
    assert!(served_by(&b.addr, 0.0, killed) > 0, "B never served");
    assert!(sent[1] >= 20, "only {} requests while A was down", sent[1]);
    assert_eq!(
        served_by(&a_addr, killed + 0.1, restarted),
        0,
        "a dead server answered"
    );
    let (back_at, _a2) = back.unwrap_or_else(|| {
        panic!(
            "nginx did not use the restarted server within 20 s: {}",
            nginx.error_log()
        )
    });
    assert!(served_by(&a_addr, restarted, f64::MAX) > 10);
    eprintln!(
        "proxy failover: nginx used the restarted server {:.2} s after its start",
        back_at - restarted
    );
}
