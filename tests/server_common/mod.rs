//! Shared helpers of the server tests: a store, a configuration with one
//! token per role, the real binary on a free port, and a small HTTP client.
#![allow(dead_code)]

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Secrets of the test tokens, one per role (the config stores their hashes).
pub const HR: &str = "hr-secret-for-tests-0001";
/// Military token.
pub const MIL: &str = "military-secret-for-tests-0001";
/// JMAC token.
pub const JMAC: &str = "jmac-secret-for-tests-0001";
/// Partner token.
pub const PARTNER: &str = "partner-secret-for-tests-0001";
/// An hr token without ingest rights.
pub const HR_READER: &str = "hr-reader-secret-for-tests-0001";

/// Every role's token with its role name.
pub const ROLES: [(&str, &str); 4] = [
    ("hr", HR),
    ("military", MIL),
    ("jmac", JMAC),
    ("partner", PARTNER),
];

/// The binary under test.
pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_jointmap"));
    for v in [
        "JOINTMAP_STORE",
        "JOINTMAP_LISTEN",
        "JOINTMAP_AUDIT_LOG",
        "JOINTMAP_CONFIG",
        "JOINTMAP_PUBLIC_URL",
    ] {
        c.env_remove(v);
    }
    c
}

/// Runs `jointmap --store <store> --quiet <args>`, asserting success.
pub fn cli(store: &Path, args: &[&str]) -> std::process::Output {
    let o = bin()
        .arg("--store")
        .arg(store)
        .arg("--quiet")
        .args(args)
        .output()
        .expect("run jointmap");
    assert!(
        o.status.success(),
        "jointmap {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn sha256_hex(secret: &str) -> String {
    // The binary prints the hash of a secret given on stdin.
    let mut child = bin()
        .args(["token", "--stdin", "--name", "x", "--role", "hr"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("jointmap token");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(secret.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("sha256 = \""))
        .map(|h| h.trim_end_matches('"').to_string())
        .expect("a sha256 line")
}

/// One more `[[tokens]]` entry, for `config`'s `extra`.
pub fn token_toml(name: &str, role: &str, secret: &str, ingest: &[&str]) -> String {
    format!(
        "[[tokens]]\nname = {name:?}\nrole = {role:?}\nsha256 = {:?}\ningest = {ingest:?}\n",
        sha256_hex(secret)
    )
}

/// A configuration with the four role tokens (hr may ingest incidents and
/// sites) plus `extra` TOML appended.
pub fn config(dir: &Path, store: &Path, extra: &str) -> PathBuf {
    let mut text = format!(
        "listen = \"127.0.0.1:0\"\nstore = {:?}\naudit_log = {:?}\n",
        store.display().to_string(),
        dir.join("audit.ndjson").display().to_string()
    );
    for (name, role, secret, ingest) in [
        ("hr-desk", "hr", HR, "[\"incidents\", \"sites\"]"),
        ("force-hq", "military", MIL, "[\"sightings\"]"),
        ("jmac", "jmac", JMAC, "[]"),
        ("ocha", "partner", PARTNER, "[]"),
        ("hr-reader", "hr", HR_READER, "[]"),
    ] {
        text.push_str(&format!(
            "[[tokens]]\nname = {name:?}\nrole = {role:?}\nsha256 = {:?}\ningest = {ingest}\n",
            sha256_hex(secret)
        ));
    }
    text.push_str(extra);
    let path = dir.join("jointmap.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// A running server; stopped (SIGTERM, then kill) when dropped.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// `127.0.0.1:PORT`
    pub addr: String,
    /// Lines the server wrote to stderr so far (collected by a thread).
    pub log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Server {
    /// Starts `jointmap serve --config <config>` and waits for its address.
    pub fn start(config: &Path) -> Server {
        Server::start_with(config, &[])
    }

    /// Same, with environment variables.
    pub fn start_with(config: &Path, env: &[(&str, &str)]) -> Server {
        let mut cmd = bin();
        cmd.args(["serve", "--config"])
            .arg(config)
            .env("JOINTMAP_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start jointmap serve");
        let stderr = child.stderr.take().unwrap();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let log2 = log.clone();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    if let Some(t) = tx.take() {
                        let _ = t.send(rest.trim().to_string());
                    }
                }
                log2.lock().unwrap().push(line);
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(a) => a,
            Err(_) => {
                let _ = child.kill();
                panic!("server did not start: {:?}", log.lock().unwrap());
            }
        };
        Server {
            child,
            base: format!("http://{addr}"),
            addr,
            log,
        }
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        #[cfg(unix)]
        unsafe_kill(self.child.id());
        let t = Instant::now();
        loop {
            if let Ok(Some(s)) = self.child.try_wait() {
                return s;
            }
            if t.elapsed() > Duration::from_secs(20) {
                let _ = self.child.kill();
                return self.child.wait().unwrap();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL, and waits for it: the server ends at once, in the middle of
    /// whatever it was answering.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// GET with a token (or none).
    pub fn get(&self, path: &str, token: Option<&str>) -> Resp {
        request(&self.addr, "GET", path, token, &[], None)
    }

    /// GET, asserting 200, parsed as JSON.
    pub fn json(&self, path: &str, token: &str) -> Value {
        let r = self.get(path, Some(token));
        assert_eq!(r.status, 200, "GET {path}: {}", r.text());
        r.json()
    }

    /// POST a body with a content type.
    pub fn post(&self, path: &str, token: Option<&str>, content_type: &str, body: &[u8]) -> Resp {
        request(
            &self.addr,
            "POST",
            path,
            token,
            &[("Content-Type", content_type)],
            Some(body),
        )
    }
}

#[cfg(unix)]
fn unsafe_kill(pid: u32) {
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A response.
#[derive(Debug, Clone)]
pub struct Resp {
    /// Status code.
    pub status: u16,
    /// Headers, names lowercased.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl Resp {
    /// A header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    /// Body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    /// Body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
    /// Asserts a problem document with this status, naming `param` when given.
    pub fn problem(&self, status: u16, param: Option<&str>) -> Value {
        assert_eq!(self.status, status, "{}", self.text());
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{}",
            self.text()
        );
        let v = self.json();
        assert_eq!(v["status"], status);
        assert!(v["type"].is_string() && v["title"].is_string() && v["detail"].is_string());
        if let Some(p) = param {
            assert_eq!(v["parameter"], p, "{v}");
        }
        v
    }
}

/// One HTTP/1.1 request over a fresh connection (`Connection: close`).
pub fn request(
    addr: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> Resp {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!("Content-Length: {}\r\n", b.len()));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    if let Some(b) = body {
        // The server may answer (413) before reading everything.
        let _ = s.write_all(b);
    }
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    parse_response(&raw)
}

/// Parses a raw HTTP/1.1 response.
pub fn parse_response(raw: &[u8]) -> Resp {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let rest = &raw[split + 4..];
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked {
        let mut out = Vec::new();
        let mut i = 0;
        loop {
            let end = i + rest[i..].windows(2).position(|w| w == b"\r\n").unwrap();
            let size = usize::from_str_radix(
                String::from_utf8_lossy(&rest[i..end])
                    .split(';')
                    .next()
                    .unwrap()
                    .trim(),
                16,
            )
            .unwrap();
            if size == 0 {
                break;
            }
            out.extend_from_slice(&rest[end + 2..end + 2 + size]);
            i = end + 2 + size + 2;
        }
        out
    } else {
        rest.to_vec()
    };
    Resp {
        status,
        headers,
        body,
    }
}

/// Percent-encodes a query value.
pub fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The path and query of an absolute link.
pub fn path_of(href: &str) -> String {
    let rest = href.split("://").nth(1).unwrap_or(href);
    match rest.find('/') {
        Some(i) => rest[i..].to_string(),
        None => "/".into(),
    }
}

/// The link with `rel` in a document's `links`.
pub fn link<'a>(doc: &'a Value, rel: &str) -> Option<&'a str> {
    doc["links"]
        .as_array()?
        .iter()
        .find(|l| l["rel"] == rel)
        .and_then(|l| l["href"].as_str())
}

/// Walks `next` links from `path` and returns every feature id in order.
pub fn walk(server: &Server, path: &str, token: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut next = Some(path.to_string());
    let mut pages = 0;
    while let Some(p) = next {
        let doc = server.json(&p, token);
        ids.extend(
            doc["features"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["id"].as_str().unwrap().to_string()),
        );
        next = link(&doc, "next").map(path_of);
        pages += 1;
        assert!(pages < 100_000, "endless paging");
    }
    ids
}
