//! Commits by other processes (another server on the same database, a CLI ingest into the
//! same file): a background task waits on the store's change feed
//! ([`crate::store::FeatureSource::wait_for_change`]) and, when the data version moves,
//! drops the cached answers and the warm views made at older versions.
//!
//! While the store pushes commits (PostgreSQL's LISTEN), requests take the data version
//! from here instead of asking the database each time; otherwise (a GeoPackage, or while
//! the listening connection is down) every request reads it from the store, as before.

use super::auth::Access;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How long one wait on the store lasts: the longest a server goes without reading the
/// version itself (and noticing a listening connection that died quietly).
const WAIT: Duration = Duration::from_secs(1);

/// The data version as the change feed last saw it.
#[derive(Debug, Default)]
pub(super) struct Feed {
    version: AtomicU64,
    pushed: AtomicBool,
}

impl Feed {
    /// The version, when the store is pushing commits to this process (so it is current
    /// within milliseconds); `None` when requests must read it from the store.
    pub(super) fn current(&self) -> Option<u64> {
        self.pushed
            .load(Ordering::Acquire)
            .then(|| self.version.load(Ordering::Acquire))
    }

    /// This process committed and read `version` after it: never behind its own write.
    pub(super) fn advance(&self, version: u64) {
        self.version.fetch_max(version, Ordering::AcqRel);
    }

    fn set(&self, version: u64, pushed: bool) {
        if !pushed {
            self.pushed.store(false, Ordering::Release);
        }
        self.version.store(version, Ordering::Release);
        if pushed {
            self.pushed.store(true, Ordering::Release);
        }
    }
}

/// Follows the store's data version until the runtime stops.
pub(super) fn spawn(access: Arc<Access>) {
    tokio::spawn(async move {
        let mut seen = None;
        loop {
            let from = seen.unwrap_or(u64::MAX);
            let waited = access
                .blocking(move |store| store.wait_for_change(from, WAIT))
                .await;
            let error = match waited {
                Ok(Ok(w)) => {
                    if seen.is_some_and(|s| s != w.version) {
                        tracing::debug!(version = w.version, "the store changed; dropping caches");
                        access.forget_before(w.version);
                    }
                    seen = Some(w.version);
                    access.feed.set(w.version, w.pushed);
                    continue;
                }
                Ok(Err(e)) => e.to_string(),
                Err(e) => format!("{e:?}"),
            };
            access.feed.set(seen.unwrap_or(0), false);
            tracing::warn!(%error, "cannot follow the store's data version; retrying");
            tokio::time::sleep(WAIT).await;
        }
    });
}
