//! The connection URL and a small pool of connections.
//!
//! The URL is libpq's (`postgresql://user:password@host:port/db?connect_timeout=5`), with
//! jointmap's own query parameters taken out before the driver sees it:
//! - `pool=N`: at most N connections (default 4, 1 to 64);
//! - `pool_timeout=S`: seconds a call waits for a free connection before it fails as busy
//!   (default 30);
//! - `schema=NAME`: the schema the store's tables live in (default `jointmap`; lowercase
//!   letters, digits and `_`), so several stores can share one database;
//! - `statement_timeout=S`: seconds any one statement may run before the database cancels
//!   it (default 0: no limit; a batch's statements are bounded by the same);
//!
//! and libpq's `connect_timeout=S` (default 10 here).

use super::PgError;
use postgres::{Client, Config, NoTls};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// What the URL says, parsed.
#[derive(Debug, Clone)]
pub(super) struct Settings {
    pub config: Config,
    pub size: usize,
    pub wait: Duration,
    pub schema: String,
    /// `statement_timeout` of every connection; zero for none.
    pub statement_timeout: Duration,
}

/// Parses the URL; errors never quote it (it may carry a password).
pub(super) fn settings(url: &str) -> Result<Settings, PgError> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut kept = Vec::new();
    let mut size = 4usize;
    let mut wait = Duration::from_secs(30);
    let mut schema = "jointmap".to_string();
    let mut statement_timeout = Duration::ZERO;
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        let bad = |what: &str| PgError::Url(format!("{key}={value}: {what}"));
        match key.as_ref() {
            "pool" => {
                size = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=64).contains(n))
                    .ok_or_else(|| bad("a number of connections from 1 to 64"))?
            }
            "pool_timeout" => {
                wait = value
                    .parse::<u64>()
                    .ok()
                    .filter(|s| *s <= 3600)
                    .map(Duration::from_secs)
                    .ok_or_else(|| bad("whole seconds, at most 3600"))?
            }
            "statement_timeout" => {
                statement_timeout = value
                    .parse::<u64>()
                    .ok()
                    .filter(|s| *s <= 86_400)
                    .map(Duration::from_secs)
                    .ok_or_else(|| bad("whole seconds, at most 86400 (0: no limit)"))?
            }
            "schema" => {
                let ok = !value.is_empty()
                    && value.len() <= 63
                    && !value.starts_with(|c: char| c.is_ascii_digit())
                    && value
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
                if !ok {
                    return Err(bad("lowercase letters, digits and _, at most 63"));
                }
                schema = value.into_owned();
            }
            _ => kept.push((key.into_owned(), value.into_owned())),
        }
    }
    let mut rebuilt = base.to_string();
    if !kept.is_empty() {
        rebuilt.push('?');
        rebuilt.push_str(
            &form_urlencoded::Serializer::new(String::new())
                .extend_pairs(kept)
                .finish(),
        );
    }
    let mut config: Config = rebuilt
        .parse()
        // The driver's message names the option, never the URL.
        .map_err(|e: postgres::Error| PgError::Url(e.to_string()))?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(10));
    }
    config.application_name("jointmap");
    Ok(Settings {
        config,
        size,
        wait,
        schema,
        statement_timeout,
    })
}

/// At most `size` connections, each with the store's schema first on its search path.
pub(super) struct Pool {
    settings: Settings,
    idle: Mutex<(Vec<Client>, usize)>,
    freed: Condvar,
}

/// A connection taken from the pool; it goes back when dropped, unless it broke.
pub(super) struct Conn<'a> {
    pool: &'a Pool,
    client: Option<Client>,
}

impl Pool {
    pub fn new(settings: Settings) -> Self {
        Pool {
            settings,
            idle: Mutex::new((Vec::new(), 0)),
            freed: Condvar::new(),
        }
    }

    pub fn schema(&self) -> &str {
        &self.settings.schema
    }

    fn lock(&self) -> MutexGuard<'_, (Vec<Client>, usize)> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A connection: an idle one, a new one while fewer than `size` are open, or the next
    /// one given back within `pool_timeout`.
    pub fn get(&self) -> Result<Conn<'_>, PgError> {
        let deadline = Instant::now() + self.settings.wait;
        let mut idle = self.lock();
        loop {
            if let Some(conn) = self.idle_one(&mut idle) {
                return Ok(conn);
            }
            if idle.1 < self.settings.size {
                idle.1 += 1;
                drop(idle);
                return self.open_counted();
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(PgError::PoolTimeout(self.settings.wait));
            }
            idle = self
                .freed
                .wait_timeout(idle, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    /// A connection if one is idle or may be opened now (no wait): `None` otherwise, or
    /// when opening one fails.
    pub fn try_get(&self) -> Option<Conn<'_>> {
        let mut idle = self.lock();
        if let Some(conn) = self.idle_one(&mut idle) {
            return Some(conn);
        }
        if idle.1 >= self.settings.size {
            return None;
        }
        idle.1 += 1;
        drop(idle);
        self.open_counted().ok()
    }

    /// An idle connection that is still open; closed ones found on the way are uncounted.
    fn idle_one(&self, idle: &mut (Vec<Client>, usize)) -> Option<Conn<'_>> {
        while let Some(client) = idle.0.pop() {
            if client.is_closed() {
                idle.1 -= 1;
                continue;
            }
            return Some(Conn {
                pool: self,
                client: Some(client),
            });
        }
        None
    }

    /// Opens a connection already counted as open; uncounted again if opening fails.
    fn open_counted(&self) -> Result<Conn<'_>, PgError> {
        match self.connect() {
            Ok(client) => Ok(Conn {
                pool: self,
                client: Some(client),
            }),
            Err(e) => {
                self.lock().1 -= 1;
                self.freed.notify_one();
                Err(e)
            }
        }
    }

    /// A new connection outside the pool's count, set up as the pool's are.
    pub fn connect(&self) -> Result<Client, PgError> {
        let mut client = self
            .settings
            .config
            .connect(NoTls)
            .map_err(PgError::Connect)?;
        // Unqualified names are the store's tables; PostGIS lives in `public`.
        client.batch_execute(&format!(
            "SET search_path TO \"{}\", public; SET statement_timeout = {}",
            self.settings.schema,
            self.settings.statement_timeout.as_millis()
        ))?;
        Ok(client)
    }
}

impl std::ops::Deref for Conn<'_> {
    type Target = Client;
    fn deref(&self) -> &Client {
        self.client.as_ref().expect("present until dropped")
    }
}

impl std::ops::DerefMut for Conn<'_> {
    fn deref_mut(&mut self) -> &mut Client {
        self.client.as_mut().expect("present until dropped")
    }
}

impl Conn<'_> {
    /// Closes this connection instead of giving it back (its session state is unknown).
    pub fn discard(mut self) {
        // Dropped without its client: uncounted.
        self.client.take();
    }

    /// Lends the client out (to another thread); nothing may use this connection until
    /// [`Conn::put_back`]. Dropped meanwhile, it counts as closed.
    pub fn lend(&mut self) -> Option<Client> {
        self.client.take()
    }

    /// Takes back a client [`Conn::lend`] gave out.
    pub fn put_back(&mut self, client: Client) {
        self.client = Some(client);
    }
}

impl Drop for Conn<'_> {
    fn drop(&mut self) {
        let mut idle = self.pool.lock();
        match self.client.take() {
            Some(client) if !client.is_closed() => idle.0.push(client),
            // Closed, discarded, or lent and never given back: no longer the pool's.
            _ => idle.1 -= 1,
        }
        drop(idle);
        self.pool.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jointmap_parameters_are_taken_out_and_checked() {
        let s = settings("postgresql://u:secret@h:5433/db?pool=8&connect_timeout=5&schema=m1")
            .expect("valid");
        assert_eq!((s.size, s.schema.as_str()), (8, "m1"));
        assert_eq!(
            s.config.get_connect_timeout(),
            Some(&Duration::from_secs(5))
        );
        assert_eq!(s.config.get_dbname(), Some("db"));
        assert_eq!(s.statement_timeout, Duration::ZERO);
        let s = settings("postgresql://h/db?statement_timeout=30").expect("valid");
        assert_eq!(s.statement_timeout, Duration::from_secs(30));
        let s = settings("postgres://h/db").expect("valid");
        assert_eq!((s.size, s.schema.as_str()), (4, "jointmap"));
        assert_eq!(
            s.config.get_connect_timeout(),
            Some(&Duration::from_secs(10))
        );
        for bad in [
            "postgresql://u:secret@h/db?pool=0",
            "postgresql://u:secret@h/db?pool=65",
            "postgresql://u:secret@h/db?pool=x",
            "postgresql://u:secret@h/db?pool_timeout=-1",
            "postgresql://u:secret@h/db?statement_timeout=-1",
            "postgresql://u:secret@h/db?statement_timeout=1.5",
            "postgresql://u:secret@h/db?statement_timeout=86401",
            "postgresql://u:secret@h/db?schema=Bad",
            "postgresql://u:secret@h/db?schema=a%22b",
            "postgresql://u:secret@h/db?schema=1a",
            "postgresql://u:secret@h/db?no_such_option=1",
            "postgresql://u:secret@h:notaport/db",
        ] {
            let e = settings(bad).expect_err(bad).to_string();
            assert!(!e.contains("secret"), "{bad}: {e}");
        }
    }
}
