//! Server configuration: a TOML file, then environment overrides, then
//! command-line flags (each later source wins).
//!
//! ```toml
//! listen = "127.0.0.1:8080"
//! store = "jointmap.gpkg"
//! audit_log = "jointmap-audit.ndjson"   # default: beside the store (<store>.audit.jsonl); "" turns it off
//! # [audit_database]            # instead of audit_log, with a PostGIS store: its jointmap_audit table
//! # url = "postgresql://jointmap_audit@db/jointmap"   # an insert-only role; default the store's URL
//! # server = "hq-1"             # this server's name in the records; default "<listen> pid <pid>"
//! # public_url = "https://jointmap.example.org"   # base of links; required unless listen is loopback
//! # basemap = "../shared/data/ne_50m_admin_0_countries.geojson"   # country outlines for the viewer
//!
//! [limits]
//! body_bytes = 65536            # any request but ingest
//! ingest_body_bytes = 67108864  # POST /collections/{id}/items
//! header_bytes = 16384          # request line and headers
//! max_headers = 64
//! request_timeout_s = 30        # 503 after this
//! analysis_timeout_s = 120      # analysis endpoints
//! concurrency = 256             # requests in flight; more wait
//! analysis_concurrency = 2      # analyses computed at once
//! max_permutations = 999
//! min_cell_km = 0.5
//! max_h3_resolution = 9
//! max_cells = 400000            # cells of one analysis grid (estimated before it is built)
//! max_output_cells = 50000      # the same with all-cells=true (every cell written)
//! ingest_body_timeout_s = 30    # an ingest body must arrive within this
//! ingest_concurrency = 4        # ingest bodies read at once (more: 503)
//!
//! [paging]
//! default_limit = 100
//! max_limit = 10000
//!
//! [cache]
//! entries = 256                 # cached analysis responses
//! bytes = 268435456
//! view_max_features = 200000    # larger layers are paged from the store per request
//!
//! [[tokens]]
//! name = "hr-desk"
//! role = "hr"
//! sha256 = "<hex of the secret; `jointmap token` prints one>"
//! ingest = ["incidents"]
//!
//! [access]   # the access policy; absent: the default matrix
//!
//! [briefs]
//! calendar = "triggers.toml"    # the quarterly outlook's trigger calendar (docs/briefs.md)
//! ```

use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// A configuration problem, named.
#[derive(Debug, thiserror::Error)]
#[error("server configuration: {0}")]
pub struct ConfigError(pub String);

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address to listen on.
    pub listen: String,
    /// The store's location ([`crate::store::Location`]): a GeoPackage
    /// file's path or a `postgresql://` URL (PostGIS).
    pub store: crate::store::Location,
    /// Append-only audit log (JSON lines). Not given: beside the store, see
    /// [`Config::audit_path`]; an empty path turns it off (audit records then
    /// go to the log only).
    pub audit_log: Option<PathBuf>,
    /// `[audit_database]`: audit records into the PostGIS store's append-only
    /// table instead of `audit_log` ([`super::audit_db`]).
    pub audit_database: Option<super::audit_db::AuditDatabase>,
    /// Base URL for links (`https://host/prefix`). Required when `listen`
    /// is not a loopback address; default `http://<listen address>`. Links
    /// never come from the request's `Host` header, which the client picks.
    pub public_url: Option<String>,
    /// Request limits.
    pub limits: Limits,
    /// Paging of items.
    pub paging: Paging,
    /// Caches.
    pub cache: Cache,
    /// Bearer tokens.
    pub tokens: Vec<TokenConfig>,
    /// The access policy (`[access]`); absent: the default matrix.
    pub access: Option<crate::access::Policy>,
    /// A GeoJSON FeatureCollection of country outlines (e.g. Natural
    /// Earth's admin 0 countries), read when first asked for and served
    /// simplified to the viewer at `/basemap/countries.geojson`; absent:
    /// no basemap.
    pub basemap: Option<PathBuf>,
    /// The briefs' files (`[briefs]`).
    pub briefs: Briefs,
}

/// The files the briefs read (`[briefs]`): paths of the server's
/// configuration, never of a request.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Briefs {
    /// The trigger calendar of the quarterly outlook; absent: the outlook
    /// says no calendar was given. Read for each outlook (so edits take
    /// effect without a restart) and checked at start-up.
    pub calendar: Option<PathBuf>,
}

/// Request limits.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Body limit of every request but ingest.
    pub body_bytes: usize,
    /// Body limit of `POST /collections/{id}/items`.
    pub ingest_body_bytes: usize,
    /// Buffer for the request line and headers (at least 8192).
    pub header_bytes: usize,
    /// Number of headers.
    pub max_headers: usize,
    /// Timeout of a request, seconds.
    pub request_timeout_s: u64,
    /// Timeout of an analysis request, seconds.
    pub analysis_timeout_s: u64,
    /// Requests handled at once (more wait).
    pub concurrency: usize,
    /// Analyses computed at once.
    pub analysis_concurrency: usize,
    /// Largest `permutations` an analysis request may ask for.
    pub max_permutations: usize,
    /// Smallest `cell-km` an analysis request may ask for.
    pub min_cell_km: f64,
    /// Finest `h3-resolution` an analysis request may ask for.
    pub max_h3_resolution: u8,
    /// Most cells of one analysis grid, for every role: estimated from the
    /// analysis area before the grid is built (400 beyond).
    pub max_cells: usize,
    /// The same when every cell is written (`all-cells=true`; the smaller
    /// of the two applies): a written cell costs about 15 times the memory
    /// of a computed one.
    pub max_output_cells: usize,
    /// Seconds an ingest body may take to arrive (408 beyond).
    pub ingest_body_timeout_s: u64,
    /// Ingest bodies read at once; more are refused at once (503), so that
    /// slow uploads cannot take every request slot.
    pub ingest_concurrency: usize,
    /// Times more than this many days after now are refused, by HTTP ingest
    /// and by the start-up check of the store (ingest's `--future-days`).
    pub future_days: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            body_bytes: 64 * 1024,
            ingest_body_bytes: 64 * 1024 * 1024,
            header_bytes: 16 * 1024,
            max_headers: 64,
            request_timeout_s: 30,
            analysis_timeout_s: 120,
            concurrency: 256,
            analysis_concurrency: 2,
            max_permutations: 999,
            min_cell_km: 0.5,
            max_h3_resolution: 9,
            max_cells: 400_000,
            max_output_cells: 50_000,
            ingest_body_timeout_s: 30,
            ingest_concurrency: 4,
            future_days: crate::model::bounds::FUTURE_DAYS,
        }
    }
}

/// Paging of items.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Paging {
    /// `limit` when the request gives none.
    pub default_limit: usize,
    /// Largest `limit` accepted (larger: 400).
    pub max_limit: usize,
}

impl Default for Paging {
    fn default() -> Self {
        Paging {
            default_limit: 100,
            max_limit: 10_000,
        }
    }
}

/// Caches.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Cache {
    /// Cached analysis responses (0 disables the cache).
    pub entries: usize,
    /// Total size of cached analysis responses.
    pub bytes: usize,
    /// Layers up to this many features are held in memory per role view
    /// (sorted by id); larger ones are paged from the store per request
    /// (keyset on the id; their pages give no `numberMatched`).
    pub view_max_features: u64,
}

impl Default for Cache {
    fn default() -> Self {
        Cache {
            entries: 256,
            bytes: 256 * 1024 * 1024,
            view_max_features: 200_000,
        }
    }
}

/// One bearer token.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// Name written in the audit log.
    pub name: String,
    /// `hr`, `military`, `jmac` or `partner`.
    pub role: String,
    /// Lowercase hex SHA-256 of the secret (never the secret itself).
    pub sha256: String,
    /// Layers this token may write through `POST /collections/{id}/items`.
    #[serde(default)]
    pub ingest: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".into(),
            store: crate::store::Location::default(),
            audit_log: None,
            audit_database: None,
            public_url: None,
            limits: Limits::default(),
            paging: Paging::default(),
            cache: Cache::default(),
            tokens: Vec::new(),
            access: None,
            basemap: None,
            briefs: Briefs::default(),
        }
    }
}

impl Config {
    /// Reads a TOML file (`None`: defaults), then applies the `JOINTMAP_*`
    /// environment overrides.
    pub fn load(path: Option<&Path>) -> Result<Config, ConfigError> {
        let mut cfg = match path {
            None => Config::default(),
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .map_err(|e| ConfigError(format!("{}: {e}", p.display())))?;
                Config::from_toml(&text)
                    .map_err(|e| ConfigError(format!("{}: {}", p.display(), e.0)))?
            }
        };
        cfg.apply_env(|k| std::env::var(k).ok())?;
        Ok(cfg)
    }

    /// Parses a configuration text.
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError(e.to_string()))
    }

    /// Applies environment overrides read through `get`.
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        fn num<T: std::str::FromStr>(name: &str, v: &str) -> Result<T, ConfigError> {
            v.trim()
                .parse()
                .map_err(|_| ConfigError(format!("{name}={v:?} is not a valid number")))
        }
        if let Some(v) = get("JOINTMAP_LISTEN") {
            self.listen = v;
        }
        if let Some(v) = get("JOINTMAP_STORE") {
            self.store = v
                .parse()
                .map_err(|e| ConfigError(format!("JOINTMAP_STORE: {e}")))?;
        }
        if let Some(v) = get("JOINTMAP_AUDIT_LOG") {
            // Empty: off, as `audit_log = ""` in the file.
            self.audit_log = Some(PathBuf::from(v));
        }
        if let Some(v) = get("JOINTMAP_PUBLIC_URL") {
            self.public_url = (!v.is_empty()).then_some(v);
        }
        let l = &mut self.limits;
        for (name, slot) in [
            ("JOINTMAP_MAX_BODY", &mut l.body_bytes),
            ("JOINTMAP_MAX_INGEST_BODY", &mut l.ingest_body_bytes),
            ("JOINTMAP_CONCURRENCY", &mut l.concurrency),
            ("JOINTMAP_MAX_CELLS", &mut l.max_cells),
            ("JOINTMAP_ANALYSIS_CONCURRENCY", &mut l.analysis_concurrency),
            ("JOINTMAP_CACHE_ENTRIES", &mut self.cache.entries),
            ("JOINTMAP_PAGE_LIMIT", &mut self.paging.default_limit),
            ("JOINTMAP_PAGE_MAX", &mut self.paging.max_limit),
        ] {
            if let Some(v) = get(name) {
                *slot = num(name, &v)?;
            }
        }
        if let Some(v) = get("JOINTMAP_REQUEST_TIMEOUT") {
            l.request_timeout_s = num("JOINTMAP_REQUEST_TIMEOUT", &v)?;
        }
        if let Some(v) = get("JOINTMAP_ANALYSIS_TIMEOUT") {
            l.analysis_timeout_s = num("JOINTMAP_ANALYSIS_TIMEOUT", &v)?;
        }
        Ok(())
    }

    /// Where the audit log goes: the configured path; by default the store's
    /// path with the extension `audit.jsonl` (`jointmap.gpkg` ->
    /// `jointmap.audit.jsonl`; `jointmap.audit.jsonl` in the working
    /// directory for a store that is no file); `None` when turned off with an
    /// empty path.
    pub fn audit_path(&self) -> Option<PathBuf> {
        if self.audit_database.is_some() {
            return None;
        }
        match &self.audit_log {
            None => Some(match self.store.path() {
                Some(p) => p.with_extension("audit.jsonl"),
                // A store that is no file has nothing to be beside.
                None => PathBuf::from("jointmap.audit.jsonl"),
            }),
            Some(p) if p.as_os_str().is_empty() => None,
            Some(p) => Some(p.clone()),
        }
    }

    /// Checks values that serde cannot.
    pub fn validate(&self) -> Result<SocketAddr, ConfigError> {
        let addr: SocketAddr = self.listen.parse().map_err(|_| {
            ConfigError(format!(
                "listen {:?} is not an address such as 127.0.0.1:8080",
                self.listen
            ))
        })?;
        if self.audit_database.is_some()
            && self
                .audit_log
                .as_ref()
                .is_some_and(|p| !p.as_os_str().is_empty())
        {
            return Err(ConfigError(
                "audit_log and [audit_database] both given: the records go to one of them".into(),
            ));
        }
        let p = &self.paging;
        if p.max_limit == 0 || p.default_limit == 0 || p.default_limit > p.max_limit {
            return Err(ConfigError(
                "paging: need 1 <= default_limit <= max_limit".into(),
            ));
        }
        let l = &self.limits;
        if l.concurrency == 0 || l.analysis_concurrency == 0 {
            return Err(ConfigError(
                "limits: concurrency and analysis_concurrency must be at least 1".into(),
            ));
        }
        if l.request_timeout_s == 0 || l.analysis_timeout_s == 0 || l.ingest_body_timeout_s == 0 {
            return Err(ConfigError("limits: timeouts must be at least 1 s".into()));
        }
        if l.ingest_concurrency == 0 {
            return Err(ConfigError(
                "limits: ingest_concurrency must be at least 1".into(),
            ));
        }
        if !(1..=crate::grid::MAX_CELLS).contains(&l.max_cells) || l.max_output_cells == 0 {
            return Err(ConfigError(format!(
                "limits: max_cells must be in 1..={} and max_output_cells at least 1",
                crate::grid::MAX_CELLS
            )));
        }
        if !(l.min_cell_km.is_finite() && l.min_cell_km > 0.0) {
            return Err(ConfigError("limits: min_cell_km must be positive".into()));
        }
        if let Some(p) = &self.briefs.calendar {
            crate::request::brief::calendar::Calendar::read(p)
                .map_err(|e| ConfigError(format!("briefs.calendar {}: {e}", p.display())))?;
        }
        match &self.public_url {
            Some(u) => check_public_url(u)?,
            None if !addr.ip().is_loopback() => {
                return Err(ConfigError(format!(
                    "public_url is required when listening on {addr}, a non-loopback address: \
                     links are built from it, never from the client's Host header \
                     (set public_url or JOINTMAP_PUBLIC_URL, e.g. https://map.example.org)"
                )))
            }
            None => {}
        }
        let mut names = std::collections::HashSet::new();
        let mut hashes = std::collections::HashSet::new();
        for t in &self.tokens {
            if t.name.trim().is_empty() {
                return Err(ConfigError("tokens: a token has an empty name".into()));
            }
            if !names.insert(t.name.as_str()) {
                return Err(ConfigError(format!("tokens: name {:?} used twice", t.name)));
            }
            if parse_sha256(&t.sha256).is_none() {
                return Err(ConfigError(format!(
                    "tokens: {:?}: sha256 must be 64 hex digits (the hash of the secret, see `jointmap token`)",
                    t.name
                )));
            }
            if !hashes.insert(t.sha256.to_ascii_lowercase()) {
                return Err(ConfigError(format!(
                    "tokens: {:?}: the same secret is used by another token",
                    t.name
                )));
            }
            for layer in &t.ingest {
                layer
                    .parse::<crate::model::Layer>()
                    .map_err(|e| ConfigError(format!("tokens: {:?}: ingest: {e}", t.name)))?;
            }
        }
        Ok(addr)
    }
}

/// A base URL for links: `http://` or `https://`, a host, an optional path;
/// no query, fragment, user information, spaces or control characters.
fn check_public_url(u: &str) -> Result<(), ConfigError> {
    let bad = |why: &str| Err(ConfigError(format!("public_url {u:?}: {why}")));
    let Some(rest) = u
        .strip_prefix("https://")
        .or_else(|| u.strip_prefix("http://"))
    else {
        return bad("must start with http:// or https://");
    };
    if u.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("has spaces or control characters");
    }
    if u.contains(['?', '#', '@', '"', '<', '>', '\\']) {
        return bad("must be a plain base URL (no query, fragment or user information)");
    }
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty() {
        return bad("has no host");
    }
    Ok(())
}

/// Parses 64 hex digits.
pub fn parse_sha256(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.trim().as_bytes();
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in hex.chunks(2).enumerate() {
        let s = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

/// SHA-256 of a secret.
pub fn sha256(secret: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(secret).into()
}

/// Lowercase hex.
pub fn to_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// A new random secret: 32 bytes from the OS, as 64 hex digits.
pub fn new_secret() -> Result<String, ConfigError> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| ConfigError(format!("no randomness: {e}")))?;
    Ok(to_hex(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_then_env() {
        let mut c = Config::from_toml(
            r#"listen = "127.0.0.1:9000"
               [paging]
               max_limit = 500
               [[tokens]]
               name = "a"
               role = "hr"
               sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
               ingest = ["incidents"]"#,
        )
        .unwrap();
        assert_eq!(c.paging.max_limit, 500);
        assert_eq!(c.paging.default_limit, 100);
        c.apply_env(|k| (k == "JOINTMAP_LISTEN").then(|| "127.0.0.1:7000".to_string()))
            .unwrap();
        assert_eq!(c.validate().unwrap().port(), 7000);
        assert!(Config::from_toml("listn = 1").is_err());
        let mut bad = Config::default();
        assert!(bad
            .apply_env(|k| (k == "JOINTMAP_CONCURRENCY").then(|| "x".into()))
            .unwrap_err()
            .0
            .contains("JOINTMAP_CONCURRENCY"));
    }

    /// The audit log is on by default, beside the store; an empty path (file
    /// or environment) turns it off.
    #[test]
    fn audit_log_is_on_by_default() {
        let mut c = Config::from_toml("store = \"/data/mission.gpkg\"").unwrap();
        assert_eq!(
            c.audit_path(),
            Some(PathBuf::from("/data/mission.audit.jsonl"))
        );
        c.apply_env(|k| (k == "JOINTMAP_AUDIT_LOG").then(|| "/var/log/a.ndjson".into()))
            .unwrap();
        assert_eq!(c.audit_path(), Some(PathBuf::from("/var/log/a.ndjson")));
        c.apply_env(|k| (k == "JOINTMAP_AUDIT_LOG").then(String::new))
            .unwrap();
        assert_eq!(c.audit_path(), None);
        let off = Config::from_toml("audit_log = \"\"").unwrap();
        assert_eq!(off.audit_path(), None);
    }

    #[test]
    fn public_url_is_required_off_loopback_and_must_be_plain() {
        let mut c = Config {
            listen: "0.0.0.0:8080".into(),
            ..Config::default()
        };
        let e = c.validate().unwrap_err().0;
        assert!(e.contains("public_url") && e.contains("Host"), "{e}");
        c.public_url = Some("https://map.example.org/jointmap/".into());
        assert!(c.validate().is_ok());
        for bad in [
            "ftp://x",
            "https://",
            "https://a b",
            "https://x/?q=1",
            "https://u@evil.example",
            "https://x/#f",
        ] {
            c.public_url = Some(bad.into());
            assert!(c.validate().is_err(), "{bad}");
        }
        for local in ["127.0.0.1:0", "[::1]:8080"] {
            let c = Config {
                listen: local.into(),
                ..Config::default()
            };
            assert!(c.validate().is_ok(), "{local}");
        }
    }

    #[test]
    fn availability_limits_are_checked() {
        let ok = Config::default();
        assert!(ok.validate().is_ok());
        for text in [
            "[limits]\nmax_cells = 0",
            "[limits]\nmax_cells = 100000000",
            "[limits]\nmax_output_cells = 0",
            "[limits]\ningest_concurrency = 0",
            "[limits]\ningest_body_timeout_s = 0",
        ] {
            let c = Config::from_toml(text).unwrap();
            assert!(c.validate().is_err(), "{text}");
        }
        let mut c = Config::default();
        c.apply_env(|k| (k == "JOINTMAP_MAX_CELLS").then(|| "1000".into()))
            .unwrap();
        assert_eq!(c.limits.max_cells, 1000);
    }

    #[test]
    fn hashes() {
        assert_eq!(
            to_hex(&sha256(b"test")),
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
        );
        assert_eq!(
            parse_sha256("9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08"),
            Some(sha256(b"test"))
        );
        assert!(parse_sha256("zz").is_none());
        assert_eq!(new_secret().unwrap().len(), 64);
    }
}
