//! Where a store lives, as commands (`--store`, `JOINTMAP_STORE`) and the
//! server's configuration (`store = ...`) name it, and opening it: no
//! command or configuration names a backend type.
//!
//! - a path (`mission.gpkg`): the GeoPackage file;
//! - `postgresql://...` (or `postgres://...`): PostgreSQL with PostGIS (`postgis/`; the URL's
//!   password is never shown);
//! - `memory:`: an empty in-memory store that lives as long as the process
//!   (tests, trying the server out).

use super::{GpkgStore, MemoryStore, PgStore, Result, SchemaStatus, Store, StoreError};
use std::path::{Path, PathBuf};

/// A store's location.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "String")]
pub enum Location {
    /// A GeoPackage file.
    GeoPackage(PathBuf),
    /// A PostgreSQL database with PostGIS (the connection URL).
    PostGis(String),
    /// A new, empty in-memory store.
    Memory,
}

impl Default for Location {
    /// `jointmap.gpkg` in the working directory.
    fn default() -> Self {
        Location::GeoPackage(PathBuf::from("jointmap.gpkg"))
    }
}

impl std::str::FromStr for Location {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self> {
        if s.is_empty() {
            return Err(StoreError::Invalid {
                location: String::new(),
                reason: "an empty store location; give a GeoPackage file's path".into(),
            });
        }
        if s == "memory:" {
            return Ok(Location::Memory);
        }
        if let Some((scheme, _)) = s.split_once("://") {
            let plain = !scheme.is_empty()
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
            if plain {
                return match scheme.to_ascii_lowercase().as_str() {
                    "postgresql" | "postgres" => Ok(Location::PostGis(s.to_string())),
                    _ => Err(StoreError::Unsupported {
                        location: redact(s),
                        reason: format!(
                            "no store backend for {scheme}:// (a store is a GeoPackage file's \
                             path, postgresql://..., or memory:)"
                        ),
                    }),
                };
            }
        }
        Ok(Location::GeoPackage(PathBuf::from(s)))
    }
}

impl TryFrom<String> for Location {
    type Error = StoreError;

    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

impl std::fmt::Display for Location {
    /// The location as errors and logs show it: a database URL without its
    /// password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::GeoPackage(p) => write!(f, "{}", p.display()),
            Location::PostGis(url) => f.write_str(&redact(url)),
            Location::Memory => f.write_str("memory:"),
        }
    }
}

/// A URL with the password of its user information replaced by `***`.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((user_info, host)) => match user_info.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

impl Location {
    /// The GeoPackage file, when the store is one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Location::GeoPackage(p) => Some(p),
            _ => None,
        }
    }

    /// The GeoPackage file, or an error saying that `what` works on
    /// GeoPackage files only.
    pub fn geopackage(&self, what: &str) -> Result<&Path> {
        self.path().ok_or_else(|| StoreError::Unsupported {
            location: self.to_string(),
            reason: format!("{what} works on a GeoPackage file only"),
        })
    }
}

/// What [`open_with`] does when the store does not exist yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IfMissing {
    /// Creates it (ingest, demo).
    #[default]
    Create,
    /// Refuses, so that a mistyped location does not create an empty store
    /// and report nothing (every command that only reads, the server).
    Refuse,
}

/// When a backend builds what speeds up spatial queries (the GeoPackage's
/// in-memory R-tree per layer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Indexes {
    /// On first use: for short commands and write-mostly work.
    #[default]
    OnFirstUse,
    /// While opening: for a server, whose first requests should not wait.
    OnOpen,
}

/// How [`open_with`] opens a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OpenOptions {
    /// A store that does not exist yet.
    pub if_missing: IfMissing,
    /// When indexes are built.
    pub indexes: Indexes,
}

/// Opens the store at `location` (see [`Location`]), creating a GeoPackage
/// when the file is missing, indexes built on first use.
pub fn open(location: &str) -> Result<Box<dyn Store>> {
    open_with(&location.parse()?, &OpenOptions::default())
}

/// Opens the store at `location` as `options` say.
pub fn open_with(location: &Location, options: &OpenOptions) -> Result<Box<dyn Store>> {
    match location {
        Location::GeoPackage(_) => Ok(Box::new(open_geopackage(location, options)?)),
        Location::PostGis(url) => Ok(Box::new(PgStore::open(
            url,
            &location.to_string(),
            options.if_missing,
        )?)),
        Location::Memory => Ok(Box::new(MemoryStore::new())),
    }
}

/// Opens the GeoPackage at `location` as `options` say, for what works on
/// the file itself (backup, the server's start-up check of the file).
pub fn open_geopackage(location: &Location, options: &OpenOptions) -> Result<GpkgStore> {
    let path = location.geopackage("this")?;
    if options.if_missing == IfMissing::Refuse && !path.exists() {
        return Err(StoreError::Invalid {
            location: location.to_string(),
            reason: "no such store; create one with `jointmap ingest` or `jointmap demo`, or give \
                     --store"
                .into(),
        });
    }
    match options.indexes {
        Indexes::OnOpen => GpkgStore::open(path),
        Indexes::OnFirstUse => GpkgStore::open_unindexed(path),
    }
}

/// The schema of the store at `location` against this build's, read without
/// changing or creating anything.
pub fn schema_status(location: &Location) -> Result<SchemaStatus> {
    match location {
        Location::GeoPackage(path) => GpkgStore::schema_status(path),
        Location::PostGis(url) => PgStore::schema_status(url, &location.to_string()),
        Location::Memory => Err(StoreError::Unsupported {
            location: location.to_string(),
            reason: "an in-memory store has no stored schema to migrate".into(),
        }),
    }
}

/// Brings the store at `location` to this build's schema (creating it when
/// absent), all in one transaction, and returns its status before and after;
/// with `dry_run`, only the status before, nothing written. A schema from a
/// newer jointmap is refused, naming both versions.
pub fn migrate(location: &Location, dry_run: bool) -> Result<(SchemaStatus, SchemaStatus)> {
    let before = schema_status(location)?;
    if let Some(found) = before.found.filter(|_| before.is_newer()) {
        return Err(StoreError::Invalid {
            location: location.to_string(),
            reason: super::newer_schema(found, before.supported),
        });
    }
    if dry_run || !before.pending {
        return Ok((before, before));
    }
    // Opening migrates: each backend does it in one transaction, under its lock.
    drop(open_with(location, &OpenOptions::default())?);
    Ok((before, schema_status(location)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse_by_scheme() {
        let p = |s: &str| s.parse::<Location>();
        assert_eq!(
            p("a/b.gpkg").unwrap(),
            Location::GeoPackage("a/b.gpkg".into())
        );
        assert_eq!(p("memory:").unwrap(), Location::Memory);
        // Only exactly `memory:`; anything else is a file name.
        assert_eq!(
            p("memory:x").unwrap(),
            Location::GeoPackage("memory:x".into())
        );
        assert_eq!(
            p("C:\\data\\m.gpkg").unwrap(),
            Location::GeoPackage("C:\\data\\m.gpkg".into())
        );
        for url in ["postgresql://u:pw@h/db", "POSTGRES://h/db"] {
            assert!(matches!(p(url).unwrap(), Location::PostGis(_)), "{url}");
        }
        for bad in ["", "http://x/y.gpkg", "file:///x.gpkg"] {
            assert!(p(bad).unwrap_err().is_bad_input(), "{bad}");
        }
        // A path that merely contains `://` after a directory is a path.
        assert!(matches!(p("dir/a://b").unwrap(), Location::GeoPackage(_)));
    }

    #[test]
    fn passwords_never_show() {
        let url = "postgresql://jm:s3cret@db:5432/mission?sslmode=require";
        let loc: Location = url.parse().unwrap();
        assert_eq!(
            loc.to_string(),
            "postgresql://jm:***@db:5432/mission?sslmode=require"
        );
        // Nothing listens on port 1: refused, and neither error shows the password.
        let e = open("postgresql://jm:s3cret@127.0.0.1:1/mission?connect_timeout=2")
            .err()
            .expect("unreachable");
        assert_eq!(e.kind(), super::super::ErrorKind::NotFound, "{e}");
        let msg = e.to_string();
        assert!(
            msg.contains("cannot connect") && !msg.contains("s3cret"),
            "{msg}"
        );
        let e = open("postgresql://jm:s3cret@h/m?pool=0")
            .err()
            .expect("bad");
        assert!(e.is_bad_input() && !e.to_string().contains("s3cret"), "{e}");
        let e = "ftp://u:pw@h/x"
            .parse::<Location>()
            .unwrap_err()
            .to_string();
        assert!(!e.contains("pw@"), "{e}");
        // No password, or no user information: shown as given.
        for url in ["postgresql://db/mission", "postgresql://jm@db/m"] {
            assert_eq!(url.parse::<Location>().unwrap().to_string(), url);
        }
    }

    #[test]
    fn refusing_a_missing_file_creates_nothing() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("absent.gpkg");
        let loc = Location::GeoPackage(path.clone());
        let refuse = OpenOptions {
            if_missing: IfMissing::Refuse,
            ..OpenOptions::default()
        };
        let e = open_with(&loc, &refuse).err().expect("refused");
        assert!(e.to_string().contains("no such store"), "{e}");
        assert!(!path.exists());
        open_with(&loc, &OpenOptions::default()).expect("created");
        assert!(path.exists());
        open_with(&loc, &refuse).expect("exists now");
        assert!(Location::Memory.geopackage("backup").is_err());
    }
}
