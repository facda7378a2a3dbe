//! Secrets kept out of the audit log even when a client puts them in the
//! URL: credential-named query parameters, and any value, word of a value
//! or path segment equal to a configured token's secret, become `REDACTED`.

/// Parameter names that carry credentials by convention; their values are
/// never written to the audit log.
pub const SECRET_PARAMS: &[&str] = &[
    "token",
    "access_token",
    "api_key",
    "apikey",
    "key",
    "secret",
    "password",
    "auth",
    "authorization",
    "bearer",
];

/// The query string for the audit log: unchanged unless a parameter is a
/// credential by name, or its value (or a word of it) is a configured
/// token's secret; those values become `REDACTED`.
pub fn query(query: &str, is_secret: &dyn Fn(&str) -> bool) -> String {
    let pairs = super::params::pairs(Some(query));
    let secret = |k: &str, v: &str| {
        SECRET_PARAMS.iter().any(|n| k.eq_ignore_ascii_case(n))
            || is_secret(v)
            || v.split(|c: char| c.is_whitespace() || c == ',' || c == ':')
                .any(|w| !w.is_empty() && is_secret(w))
    };
    if !pairs.iter().any(|(k, v)| secret(k, v) || is_secret(k)) {
        return query.to_string();
    }
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (k, v) in &pairs {
        let k = if is_secret(k) { "REDACTED" } else { k.as_str() };
        let v = if secret(k, v) { "REDACTED" } else { v.as_str() };
        out.append_pair(k, v);
    }
    out.finish()
}

/// The path for the audit log, with any segment that is a token's secret
/// replaced.
pub fn path(path: &str, is_secret: &dyn Fn(&str) -> bool) -> String {
    if !path.split('/').any(|s| !s.is_empty() && is_secret(s)) {
        return path.to_string();
    }
    path.split('/')
        .map(|s| {
            if !s.is_empty() && is_secret(s) {
                "REDACTED"
            } else {
                s
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_from_audited_urls() {
        let is_secret = |v: &str| v == "s3cret-value";
        assert_eq!(
            query("bbox=1,2,3,4&limit=5", &is_secret),
            "bbox=1,2,3,4&limit=5"
        );
        for q in [
            "access_token=anything&x=1",
            "TOKEN=anything&x=1",
            "x=1&api_key=anything",
            "q=s3cret-value&x=1",
            "q=Bearer%20s3cret-value&x=1",
            "s3cret-value=1&x=1",
        ] {
            let r = query(q, &is_secret);
            assert!(!r.contains("anything") && !r.contains("s3cret"), "{q}: {r}");
            assert!(r.contains("REDACTED") && r.contains("x=1"), "{q}: {r}");
        }
        assert_eq!(
            path("/collections/s3cret-value/items", &is_secret),
            "/collections/REDACTED/items"
        );
        assert_eq!(
            path("/collections/a/items", &is_secret),
            "/collections/a/items"
        );
    }
}
