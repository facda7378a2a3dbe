//! The audit log: one JSON line per request, appended to a file that is never
//! truncated.

use super::{AccessError, Role};
use chrono::{DateTime, Utc};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;

/// One audited request. `token` is the token's name from the configuration,
/// never its secret.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord<'a> {
    /// When the request was answered.
    pub time: DateTime<Utc>,
    /// The token's name; `None` (written as null) when the request had no
    /// valid token.
    pub token: Option<&'a str>,
    /// The token's role, when known.
    pub role: Option<Role>,
    /// Why a request without a valid token was refused (`missing token`,
    /// `unknown token`); written only when given.
    pub reason: Option<&'a str>,
    /// The endpoint (path), e.g. `/collections/incidents/items`.
    pub endpoint: &'a str,
    /// The request's parameters (query string or a summary of them).
    pub params: &'a str,
    /// HTTP status of the answer.
    pub status: u16,
    /// Number of features returned.
    pub returned: usize,
}

impl AuditRecord<'_> {
    /// The record as one JSON line, with its newline.
    pub fn to_line(&self) -> String {
        let mut v = serde_json::json!({
            "time": crate::model::time::format_time(&self.time),
            "token": self.token,
            "role": self.role.map(Role::as_str),
            "endpoint": self.endpoint,
            "params": self.params,
            "status": self.status,
            "returned": self.returned,
        });
        if let Some(r) = self.reason {
            v["reason"] = serde_json::Value::from(r);
        }
        // serde_json escapes control characters, so the line has no newline inside.
        let mut line = v.to_string();
        line.push('\n');
        line
    }
}

/// Opens (creating when missing, readable by its owner only) the log for appending.
pub(super) fn open(path: &Path) -> Result<File, AccessError> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(path)
        .map_err(|e| AccessError::Audit(format!("cannot open {}: {e}", path.display())))
}

/// Appends one record: a single write of the whole line under the lock, then a
/// flush, so concurrent callers never interleave.
pub(super) fn write(file: &Mutex<File>, rec: &AuditRecord) -> Result<(), AccessError> {
    let line = rec.to_line();
    let mut f = file.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    f.write_all(line.as_bytes())
        .and_then(|()| f.flush())
        .map_err(|e| AccessError::Audit(format!("cannot write: {e}")))
}

#[cfg(test)]
mod tests {
    use super::super::{Gate, Policy};
    use super::*;
    use chrono::TimeZone;
    use serde_json::Value;
    use std::sync::Arc;

    fn record<'a>(token: &'a str, params: &'a str, returned: usize) -> AuditRecord<'a> {
        AuditRecord {
            time: Utc.with_ymd_and_hms(2025, 3, 10, 12, 0, 0).unwrap(),
            token: Some(token),
            role: Some(Role::Military),
            reason: None,
            endpoint: "/collections/incidents/items",
            params,
            status: 200,
            returned,
        }
    }

    fn lines(path: &Path) -> Vec<Value> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).expect("every line is JSON"))
            .collect()
    }

    #[test]
    fn lines_parse_and_append_never_truncates() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("audit.jsonl");
        let gate = Gate::new(Policy::default(), Some(&path)).unwrap();
        gate.audit(&record("force-hq", "bbox=1,2,3,4&limit=10", 7))
            .unwrap();
        // Awkward parameters stay on one line.
        gate.audit(&record("force-hq", "q=a\nb\"c\u{0}", 0))
            .unwrap();
        drop(gate);
        // A new gate on the same file appends.
        let gate = Gate::new(Policy::default(), Some(&path)).unwrap();
        gate.audit(&record("jmac-1", "", 3)).unwrap();
        let got = lines(&path);
        assert_eq!(got.len(), 3);
        assert_eq!(
            got[0],
            serde_json::json!({"time": "2025-03-10T12:00:00Z", "token": "force-hq",
                "role": "military", "endpoint": "/collections/incidents/items",
                "params": "bbox=1,2,3,4&limit=10", "status": 200, "returned": 7})
        );
        assert_eq!(got[1]["params"], "q=a\nb\"c\u{0}");
        assert_eq!(got[2]["token"], "jmac-1");
        assert!(got[0].get("reason").is_none());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "audit log readable by others: {mode:o}");
        }
    }

    #[test]
    fn refusals_without_a_token_have_null_token_and_a_reason() {
        let rec = AuditRecord {
            token: None,
            role: None,
            reason: Some("unknown token"),
            status: 401,
            ..record("x", "", 0)
        };
        let v: Value = serde_json::from_str(&rec.to_line()).unwrap();
        assert_eq!(v["token"], Value::Null);
        assert_eq!(v["role"], Value::Null);
        assert_eq!(
            (v["reason"].as_str(), v["status"].as_u64()),
            (Some("unknown token"), Some(401))
        );
    }

    #[test]
    fn concurrent_writes_give_whole_lines() {
        const THREADS: usize = 8;
        const N: usize = 500;
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("audit.jsonl");
        let gate = Arc::new(Gate::new(Policy::default(), Some(&path)).unwrap());
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let gate = Arc::clone(&gate);
                std::thread::spawn(move || {
                    let token = format!("token-{t}");
                    // Long parameters make torn writes likely if they could happen.
                    let params = format!("{t}").repeat(2000);
                    for i in 0..N {
                        gate.audit(&record(&token, &params, i)).unwrap();
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let got = lines(&path);
        assert_eq!(got.len(), THREADS * N);
        for t in 0..THREADS {
            let mine: Vec<u64> = got
                .iter()
                .filter(|v| v["token"] == format!("token-{t}"))
                .map(|v| {
                    assert_eq!(v["params"].as_str().unwrap(), format!("{t}").repeat(2000));
                    v["returned"].as_u64().unwrap()
                })
                .collect();
            assert_eq!(mine, (0..N as u64).collect::<Vec<_>>(), "token-{t}");
        }
    }

    #[test]
    fn unopenable_log_is_an_audit_error() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("missing-dir").join("audit.jsonl");
        let e = Gate::new(Policy::default(), Some(&path)).unwrap_err();
        assert!(
            matches!(&e, AccessError::Audit(m) if m.contains("missing-dir")),
            "{e}"
        );
        // Without a log, auditing is a no-op.
        let gate = Gate::new(Policy::default(), None).unwrap();
        gate.audit(&record("x", "", 0)).unwrap();
    }
}
