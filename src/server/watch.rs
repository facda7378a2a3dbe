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
    /// When the watch task last heard from the store (milliseconds since
    /// `epoch`): a feed not heard from for two waits is not trusted.
    heard_ms: AtomicU64,
    epoch: std::sync::OnceLock<std::time::Instant>,
}

impl Feed {
    fn now_ms(&self) -> u64 {
        let epoch = self.epoch.get_or_init(std::time::Instant::now);
        u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// The version, when the store is pushing commits to this process (so it is current
    /// within milliseconds) and the watch task heard from it within two waits; `None`
    /// when requests must read it from the store (a listening connection that died
    /// without closing must not freeze the version).
    pub(super) fn current(&self) -> Option<u64> {
        let fresh = self
            .now_ms()
            .saturating_sub(self.heard_ms.load(Ordering::Acquire))
            <= 2 * WAIT.as_millis() as u64;
        (fresh && self.pushed.load(Ordering::Acquire)).then(|| self.version.load(Ordering::Acquire))
    }

    /// This process committed and read `version` after it: never behind its own write.
    pub(super) fn advance(&self, version: u64) {
        self.version.fetch_max(version, Ordering::AcqRel);
    }

    /// What the watch task read: the version never goes back (a read made just
    /// before this process's own commit must not undo [`Feed::advance`]).
    fn set(&self, version: u64, pushed: bool) {
        if !pushed {
            self.pushed.store(false, Ordering::Release);
        }
        self.version.fetch_max(version, Ordering::AcqRel);
        self.heard_ms.store(self.now_ms(), Ordering::Release);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_feed_never_goes_back_and_is_not_trusted_when_silent() {
        let f = Feed::default();
        // The feed's clock started ten seconds ago.
        let start = std::time::Instant::now().checked_sub(Duration::from_secs(10));
        f.epoch.set(start.expect("a clock")).expect("unset");
        assert_eq!(f.current(), None, "nothing heard yet: not pushed");
        f.set(5, true);
        assert_eq!(f.current(), Some(5));
        // This process's own commit, then a read the watch task made before it.
        f.advance(6);
        f.set(5, true);
        assert_eq!(f.current(), Some(6));
        // Heard from more than two waits ago: requests read the store.
        let old = f.now_ms() - 3 * WAIT.as_millis() as u64;
        f.heard_ms.store(old, Ordering::Release);
        assert_eq!(f.current(), None);
        f.set(7, true);
        assert_eq!(f.current(), Some(7));
        f.set(7, false);
        assert_eq!(f.current(), None, "not pushed: read the store");
    }
}
