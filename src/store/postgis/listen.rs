//! Commits made anywhere, as they happen: one dedicated connection per store LISTENs on the
//! channel every batch NOTIFYs at commit (`write.rs`), reconnecting after a failure and
//! polling the data version while it cannot.

use super::pool::Pool;
use super::{read, PgError, PgStore};
use crate::store::{Result, Watched};
use postgres::fallible_iterator::FallibleIterator;
use postgres::Client;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The channel `write.rs` notifies on; the payload is `<schema> <version>`.
pub(super) const CHANNEL: &str = "jointmap";

/// How long a failed connection is left alone before the next attempt (polling meanwhile).
const RETRY_AFTER: Duration = Duration::from_secs(2);

/// The listening connection, when one is up, and when the last attempt failed.
#[derive(Default)]
pub(super) struct Listener {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    client: Option<Client>,
    failed_at: Option<Instant>,
}

impl Listener {
    /// A listening connection: the one up, or a new one unless the last attempt failed
    /// less than [`RETRY_AFTER`] ago.
    fn client<'a>(&self, state: &'a mut State, pool: &Pool) -> Option<&'a mut Client> {
        if state.client.as_ref().is_some_and(|c| c.is_closed()) {
            state.client = None;
        }
        if state.client.is_none() {
            if state.failed_at.is_some_and(|t| t.elapsed() < RETRY_AFTER) {
                return None;
            }
            match pool.connect().and_then(|mut c| {
                c.batch_execute(&format!("LISTEN {CHANNEL}"))?;
                Ok(c)
            }) {
                Ok(c) => {
                    state.client = Some(c);
                    state.failed_at = None;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen for commits; polling the data version");
                    state.failed_at = Some(Instant::now());
                    return None;
                }
            }
        }
        state.client.as_mut()
    }
}

impl PgStore {
    /// [`crate::store::FeatureSource::wait_for_change`]: on the listening connection when
    /// it is up (the version read there after LISTEN, so no commit falls between), by
    /// polling otherwise.
    pub(super) fn wait_listening(&self, seen: u64, timeout: Duration) -> Result<Watched> {
        let end = Instant::now() + timeout;
        // One waiter at a time on the connection; a second one polls.
        let Ok(mut state) = self.listener.state.try_lock() else {
            return crate::store::poll_for_change(self, seen, timeout);
        };
        let Some(client) = self.listener.client(&mut state, &self.pool) else {
            drop(state);
            return crate::store::poll_for_change(self, seen, timeout);
        };
        match wait_on(client, seen, end) {
            Ok(version) => Ok(Watched {
                version,
                pushed: true,
            }),
            Err(e) => {
                tracing::warn!(error = %e, "lost the connection listening for commits; reconnecting");
                state.client = None;
                state.failed_at = Some(Instant::now());
                drop(state);
                crate::store::poll_for_change(
                    self,
                    seen,
                    end.saturating_duration_since(Instant::now()),
                )
            }
        }
    }
}

/// Waits on a listening `client` until the version moves away from `seen` or until `end`;
/// the version read on the same connection then.
fn wait_on(client: &mut Client, seen: u64, end: Instant) -> Result<u64, PgError> {
    loop {
        // Read after LISTEN and after every notification (other stores in the database
        // notify the same channel): a commit is either in this read or notified after it.
        let version = read::data_version_on(client)?;
        let now = Instant::now();
        if version != seen || now >= end {
            return Ok(version);
        }
        let heard = client.notifications().timeout_iter(end - now).next()?;
        if heard.is_none() {
            return read::data_version_on(client);
        }
    }
}
