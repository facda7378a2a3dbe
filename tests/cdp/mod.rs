//! A small Chrome DevTools Protocol client for the browser tests: Debian's
//! headless chromium started with a fresh profile, driven over its browser
//! websocket in flat session mode (one session per page), recording every
//! URL any page asks for.
#![allow(dead_code)]

use serde_json::{json, Value};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tungstenite::{Message, WebSocket};

/// The running browser; killed (and its profile removed) when dropped.
pub struct Browser {
    child: Child,
    ws: WebSocket<TcpStream>,
    next_id: u64,
    /// Every URL a page requested (Network.requestWillBeSent), in order.
    pub requests: Vec<String>,
    /// Console errors and uncaught exceptions of the pages.
    pub errors: Vec<String>,
    _profile: tempfile::TempDir,
}

/// One page (a target attached in flat mode).
#[derive(Clone)]
pub struct Page {
    pub session: String,
}

impl Browser {
    /// Starts `/usr/bin/chromium` headless (or `chromium` on PATH) with the
    /// flags that keep it from calling home, and connects.
    pub fn start() -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let exe = if Path::new("/usr/bin/chromium").exists() {
            PathBuf::from("/usr/bin/chromium")
        } else {
            PathBuf::from("chromium")
        };
        let child = Command::new(exe)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-domain-reliability",
                "--disable-client-side-phishing-detection",
                "--metrics-recording-only",
                "--window-size=1280,900",
                "--remote-debugging-port=0",
                "about:blank",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromium");
        // Chromium writes its port and browser path once listening.
        let port_file = profile.path().join("DevToolsActivePort");
        let t = Instant::now();
        let (port, path) = loop {
            if let Ok(text) = std::fs::read_to_string(&port_file) {
                let mut lines = text.lines();
                if let (Some(p), Some(path)) = (lines.next(), lines.next()) {
                    break (p.trim().to_string(), path.trim().to_string());
                }
            }
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "chromium did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let stream = TcpStream::connect(format!("127.0.0.1:{port}")).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let (ws, _) = tungstenite::client(format!("ws://127.0.0.1:{port}{path}"), stream)
            .expect("devtools websocket");
        Browser {
            child,
            ws,
            next_id: 0,
            requests: Vec::new(),
            errors: Vec::new(),
            _profile: profile,
        }
    }

    /// Sends a command (to the browser, or to a page's session) and waits
    /// for its result; events that arrive meanwhile are recorded.
    pub fn call(&mut self, page: Option<&Page>, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(p) = page {
            msg["sessionId"] = json!(p.session);
        }
        self.ws
            .send(Message::Text(msg.to_string().into()))
            .expect("send to chromium");
        loop {
            let m = self.ws.read().expect("read from chromium");
            let Message::Text(text) = m else { continue };
            let v: Value = serde_json::from_str(text.as_str()).unwrap();
            if v["id"] == json!(id) {
                assert!(v.get("error").is_none(), "{method}: {}", v["error"]);
                return v["result"].clone();
            }
            self.record(&v);
        }
    }

    fn record(&mut self, v: &Value) {
        match v["method"].as_str() {
            Some("Network.requestWillBeSent") => {
                if let Some(u) = v["params"]["request"]["url"].as_str() {
                    self.requests.push(u.to_string());
                }
            }
            Some("Runtime.exceptionThrown") => {
                self.errors
                    .push(v["params"]["exceptionDetails"].to_string());
            }
            Some("Runtime.consoleAPICalled") if v["params"]["type"] == "error" => {
                self.errors.push(v["params"]["args"].to_string());
            }
            // Network errors (the 404 of a tile layer the server lacks,
            // the 401 of a wrong token) are expected answers, not faults.
            Some("Log.entryAdded")
                if v["params"]["entry"]["level"] == "error"
                    && v["params"]["entry"]["source"] != "network" =>
            {
                self.errors.push(v["params"]["entry"]["text"].to_string());
            }
            _ => {}
        }
    }

    /// A new page in a fresh browser context (its own storage), with the
    /// given locale (navigator.language and Accept-Language), its network
    /// recorded.
    pub fn page(&mut self, locale: &str) -> Page {
        let ctx = self.call(None, "Target.createBrowserContext", json!({}));
        let target = self.call(
            None,
            "Target.createTarget",
            json!({"url": "about:blank", "browserContextId": ctx["browserContextId"]}),
        );
        let s = self.call(
            None,
            "Target.attachToTarget",
            json!({"targetId": target["targetId"], "flatten": true}),
        );
        let page = Page {
            session: s["sessionId"].as_str().unwrap().to_string(),
        };
        for m in [
            "Network.enable",
            "Runtime.enable",
            "Page.enable",
            "Log.enable",
        ] {
            self.call(Some(&page), m, json!({}));
        }
        self.call(
            Some(&page),
            "Emulation.setLocaleOverride",
            json!({"locale": locale}),
        );
        let ua = self.call(None, "Browser.getVersion", json!({}));
        self.call(
            Some(&page),
            "Emulation.setUserAgentOverride",
            json!({"userAgent": ua["userAgent"], "acceptLanguage": locale}),
        );
        self.call(
            Some(&page),
            "Emulation.setDeviceMetricsOverride",
            json!({"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": false}),
        );
        page
    }

    /// Loads `url` in `page`.
    pub fn goto(&mut self, page: &Page, url: &str) {
        self.call(Some(page), "Page.navigate", json!({"url": url}));
    }

    /// Evaluates `js` (awaiting a promise) and returns its value.
    pub fn eval(&mut self, page: &Page, js: &str) -> Value {
        let r = self.call(
            Some(page),
            "Runtime.evaluate",
            json!({"expression": js, "returnByValue": true, "awaitPromise": true}),
        );
        assert!(
            r.get("exceptionDetails").is_none(),
            "{js}: {}",
            r["exceptionDetails"]
        );
        r["result"]["value"].clone()
    }

    /// Waits until `js` is true (at most `secs`).
    pub fn wait_for(&mut self, page: &Page, js: &str, secs: u64) {
        let t = Instant::now();
        loop {
            // The page may still be loading (no body yet): false until it
            // evaluates.
            let probe =
                format!("(() => {{ try {{ return !!({js}); }} catch (e) {{ return false; }} }})()");
            if self.eval(page, &probe) == json!(true) {
                return;
            }
            assert!(
                t.elapsed() < Duration::from_secs(secs),
                "timed out waiting for {js}; page errors: {:?}",
                self.errors
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A real mouse click at viewport coordinates.
    pub fn click(&mut self, page: &Page, x: f64, y: f64) {
        for (kind, count) in [("mouseMoved", 0), ("mousePressed", 1), ("mouseReleased", 1)] {
            self.call(
                Some(page),
                "Input.dispatchMouseEvent",
                json!({"type": kind, "x": x, "y": y, "button": "left", "clickCount": count}),
            );
        }
    }

    /// Typing, as a keyboard would insert it into the focused element.
    pub fn type_text(&mut self, page: &Page, text: &str) {
        self.call(Some(page), "Input.insertText", json!({"text": text}));
    }

    /// A PNG screenshot of the page, written to `path`.
    pub fn screenshot(&mut self, page: &Page, path: &Path) {
        use base64_decode as b64;
        let r = self.call(
            Some(page),
            "Page.captureScreenshot",
            json!({"format": "png"}),
        );
        let data = b64(r["data"].as_str().unwrap());
        std::fs::write(path, data).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Standard base64 (the screenshot's encoding).
fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for v in s.bytes().filter_map(val) {
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}
