//! A large load into an empty layer goes into a fresh table, created in the batch's
//! transaction without indexes; at the commit its indexes are built once, in bulk, and it
//! takes the layer's place (`swap`). Readers of the layer keep reading the old, empty table
//! until then: they wait only for the instant of the swap, not for the load. Maintaining the
//! GiST and B-tree indexes row by row was most of the database's time on such a load.
//!
//! Taken only when the layer's table is as jointmap's migrations made it, give or take
//! grants and indexes (which the fresh table gets too): owned by this role, no triggers,
//! policies, rules, views, foreign keys, publications, statistics objects, inheritance or
//! storage options on it (`plan` says no otherwise, and the batch copies into the layer as
//! before). The fresh table shares the layer's `fid` sequence, so the rows get the `fid`s a
//! copy into the layer would have given them.
//!
//! When the pool has a second connection to spare, the rows are copied on it (streamed on a
//! thread of their own, `copy::Stream`, while the batch encodes the next), in a
//! transaction of its own that commits at the batch's end (the table is no layer yet: no
//! reader looks at it); then both connections build the indexes at once (the GiST build is
//! serial: the B-trees take the other core meanwhile), and the batch's transaction attaches
//! the constraints to their indexes and swaps. A process killed between that commit and the
//! batch's leaves the fresh table behind, an orphan: the next load into the layer drops it,
//! and so does opening the store when no batch is running (`sweep`). Without a second
//! connection everything happens in the batch's transaction, the builds one after another.

use super::copy::Stream;
use super::pool::{Conn, Pool};
use super::{column_list, PgError};
use crate::model::Layer;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A layer being loaded through a fresh table: what to build on it and copy over at the swap.
pub(super) struct Fresh<'a> {
    /// The fresh table's name (in the store's schema).
    pub table: String,
    /// The connection the rows are copied on, inside its own transaction (see the module's
    /// documentation); `None`: they are copied on the batch's.
    pub load: Option<Conn<'a>>,
    /// The COPY streaming the rows on `load`'s connection (lent to it until it ends).
    stream: Option<Stream>,
    /// Statements building the layer's indexes on the fresh table, under temporary names,
    /// the costliest first (see `plan`); each may run on any connection.
    build: Vec<String>,
    /// Statements run in the batch's transaction once the indexes are built: the
    /// constraints, attached to their indexes (or built, for those that have none).
    attach: Vec<String>,
    /// Statements giving the fresh table the layer's grants.
    grants: Vec<String>,
    /// `(sequence, column)`: sequences owned by the layer's columns, to be owned by the fresh
    /// table's before the old table goes.
    sequences: Vec<(String, String)>,
    /// Renames of the indexes and constraints back to the layer's names, after the swap.
    renames: Vec<String>,
}

impl std::fmt::Debug for Fresh<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fresh")
            .field("table", &self.table)
            .field("load", &self.load.is_some())
            .finish_non_exhaustive()
    }
}

/// Prefix of the fresh table's name and of its indexes' names until the swap.
const PREFIX: &str = "jm_load_";

/// Whether a layer may be loaded through a fresh table (see the module's documentation),
/// and if so how: `None` when it may not.
pub(super) fn plan<'a>(conn: &mut Conn<'_>, layer: Layer) -> Result<Option<Fresh<'a>>, PgError> {
    let name = layer.name();
    let table = format!("{PREFIX}{name}");
    let plain: bool = conn
        .query_one(
            "SELECT c.relkind = 'r' AND c.relowner = (SELECT oid FROM pg_roles
                     WHERE rolname = current_user)
                AND c.reloptions IS NULL AND NOT c.relrowsecurity AND NOT c.relhasrules
                AND NOT c.relhastriggers AND NOT c.relhassubclass AND NOT c.relispartition
                AND NOT EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = c.oid)
                -- Nothing else depends on the table or its row type but its own indexes,
                -- sequences, constraints, defaults, TOAST table and array type.
                AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = c.oid
                    AND NOT (d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
                             AND EXISTS (SELECT 1 FROM pg_class o WHERE o.oid = d.objid
                               AND o.relkind IN ('i', 'S', 't')
                               AND NOT (o.relkind = 'S' AND d.deptype = 'i')))
                    AND NOT (d.classid = 'pg_constraint'::regclass
                             AND EXISTS (SELECT 1 FROM pg_constraint k WHERE k.oid = d.objid
                               AND k.conrelid = c.oid AND k.contype IN ('p', 'u', 'c')))
                    AND NOT d.classid IN ('pg_type'::regclass, 'pg_attrdef'::regclass))
                AND NOT EXISTS (SELECT 1 FROM pg_depend d
                  WHERE d.refclassid = 'pg_type'::regclass AND d.refobjid = c.reltype
                    AND d.classid <> 'pg_type'::regclass)
                AND NOT EXISTS (SELECT 1 FROM pg_constraint k
                  WHERE k.confrelid = c.oid OR (k.conrelid = c.oid AND k.contype = 'f'))
                AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
                  AND a.attacl IS NOT NULL)
                AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid
                  AND length(k.conname) > 63 - length($2))
                AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid
                  AND length(i.indexrelid::regclass::text) > 63 - length($2))
             FROM pg_class c WHERE c.oid = $1::text::regclass",
            &[&name, &PREFIX],
        )?
        .get(0);
    if !plain {
        return Ok(None);
    }
    // (rank, statement): the builds, ordered below so that the two connections finish
    // about together (the layer is empty: its indexes' sizes say nothing). The serial GiST
    // build first, on one connection, while the other takes the B-trees: a unique text
    // key, then the plain indexes, and the primary key (`fid`, in order already: the
    // cheapest sort) last, to fill in after the GiST build.
    let mut builds: Vec<(u8, String)> = Vec::new();
    let mut attach = Vec::new();
    let mut renames = Vec::new();
    // `CREATE [UNIQUE] INDEX name ON schema.table USING ...` as the statement building it on
    // the fresh table under `new` (the method and columns kept), with its rank for the
    // order: any other method than a B-tree (the GiST build) goes first.
    let rebuild = |new: &str, def: &str, rank: u8| -> Option<(u8, String)> {
        let (head, rest) = def.split_once(" USING ")?;
        let unique = if head.starts_with("CREATE UNIQUE ") {
            "UNIQUE "
        } else {
            ""
        };
        let rank = if rest.starts_with("btree ") { rank } else { 3 };
        Some((
            rank,
            format!("CREATE {unique}INDEX \"{new}\" ON {table} USING {rest}"),
        ))
    };
    // Constraints (primary key, unique, check) under temporary names: a plain primary key or
    // unique constraint as its index, built like the others and attached to it; the rest
    // added whole.
    for r in conn.query(
        "SELECT k.conname, pg_get_constraintdef(k.oid), k.contype::text,
                k.contype IN ('p', 'u') AND NOT k.condeferrable AND k.conindid <> 0,
                pg_get_indexdef(k.conindid)
         FROM pg_constraint k
         WHERE k.conrelid = $1::text::regclass AND k.contype IN ('p', 'u', 'c')
         ORDER BY k.conname",
        &[&name],
    )? {
        let (con, def, kind, plain): (String, String, String, bool) =
            (r.get(0), r.get(1), r.get(2), r.get(3));
        let new = format!("{PREFIX}{con}");
        let built = if plain {
            let index: Option<String> = r.get(4);
            let rank = if kind == "p" { 0 } else { 2 };
            index.and_then(|d| rebuild(&new, &d, rank))
        } else {
            None
        };
        match built {
            Some(b) => {
                builds.push(b);
                let what = if kind == "p" { "PRIMARY KEY" } else { "UNIQUE" };
                attach.push(format!(
                    "ALTER TABLE {table} ADD CONSTRAINT \"{new}\" {what} USING INDEX \"{new}\""
                ));
            }
            None => attach.push(format!(
                "ALTER TABLE {table} ADD CONSTRAINT \"{new}\" {def}"
            )),
        }
        // Renames a primary key's or unique constraint's index with it.
        renames.push(format!(
            "ALTER TABLE {name} RENAME CONSTRAINT \"{new}\" TO \"{con}\""
        ));
    }
    for r in conn.query(
        "SELECT c.relname, pg_get_indexdef(i.indexrelid)
         FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
         WHERE i.indrelid = $1::text::regclass
           AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid
                           AND k.conrelid = i.indrelid)
         ORDER BY c.relname",
        &[&name],
    )? {
        let (index, def): (String, String) = (r.get(0), r.get(1));
        let Some(b) = rebuild(&format!("{PREFIX}{index}"), &def, 1) else {
            return Ok(None);
        };
        builds.push(b);
        renames.push(format!(
            "ALTER INDEX \"{PREFIX}{index}\" RENAME TO \"{index}\""
        ));
    }
    // Stable: equal ranks keep the order above (by name).
    builds.sort_by_key(|b| std::cmp::Reverse(b.0));
    let build = builds.into_iter().map(|b| b.1).collect();
    let grants = conn
        .query(
            "SELECT format('GRANT %s ON %I TO %s%s', a.privilege_type, $2::text,
                      CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END,
                      CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)
             FROM pg_class c, aclexplode(c.relacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee
             WHERE c.oid = $1::text::regclass AND a.grantee <> c.relowner",
            &[&name, &table],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let sequences = conn
        .query(
            "SELECT s.oid::regclass::text, a.attname FROM pg_depend d
               JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
               JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
             WHERE d.classid = 'pg_class'::regclass AND d.refobjid = $1::text::regclass
               AND d.deptype = 'a'",
            &[&name],
        )?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    Ok(Some(Fresh {
        table,
        load: None,
        stream: None,
        build,
        attach,
        grants,
        sequences,
        renames,
    }))
}

/// Creates the fresh table: the layer's columns, defaults (its `fid` sequence) and
/// constraints that are no index; the rest comes at the swap. On a second connection from
/// `pool` when one is free (see the module's documentation), else on `conn`. The batch's
/// lock on the data version is held: a table of the same name is an orphan, dropped.
pub(super) fn create<'a>(
    conn: &mut Conn<'_>,
    pool: &'a Pool,
    layer: Layer,
    f: &mut Fresh<'a>,
) -> Result<(), PgError> {
    let sql = format!(
        "DROP TABLE IF EXISTS {t}; CREATE TABLE {t} (LIKE {name} INCLUDING DEFAULTS \
         INCLUDING STORAGE INCLUDING COMMENTS INCLUDING COMPRESSION)",
        t = f.table,
        name = layer.name()
    );
    if let Some(mut load) = pool.try_get() {
        match load.batch_execute(&format!("BEGIN; {sql}")) {
            Ok(()) => {
                f.load = Some(load);
                return Ok(());
            }
            // Its state unknown: closed; the batch's own connection does it all.
            Err(_) => load.discard(),
        }
    }
    conn.batch_execute(&sql)?;
    Ok(())
}

impl Fresh<'_> {
    /// Copies `tuples` (whole tuples of `cols`) into the fresh table on the load's own
    /// connection, streamed (`copy::Stream`): the buffer is handed over, an empty one comes
    /// back for the next rows. Only when the load has its own connection.
    pub(super) fn send(&mut self, cols: &str, tuples: Vec<u8>) -> Result<Vec<u8>, PgError> {
        if self.stream.is_none() {
            let client =
                self.load.as_mut().and_then(Conn::lend).ok_or_else(|| {
                    PgError::Value("the load has no connection of its own".into())
                })?;
            self.stream = Some(Stream::start(client, &self.table, cols)?);
        }
        match self.stream.as_mut().map(|s| s.send(tuples)) {
            Some(Ok(spare)) => Ok(spare),
            // The COPY failed: its own error.
            _ => self
                .end_stream()
                .and(Err(PgError::Value("the COPY stopped".into()))),
        }
    }

    /// Completes the streamed COPY, if one runs, and gives the load its connection back;
    /// a COPY that failed closes it (its transaction with it).
    fn end_stream(&mut self) -> Result<(), PgError> {
        let Some(stream) = self.stream.take() else {
            return Ok(());
        };
        let (client, result) = stream.finish();
        match (client, &result, self.load.as_mut()) {
            (Some(client), Ok(()), Some(load)) => load.put_back(client),
            // Lent and not given back: the connection counts as closed.
            _ => drop(self.load.take()),
        }
        result
    }

    /// Ends a load that will not be committed: its COPY aborted, its transaction rolled
    /// back (or its connection closed).
    pub(super) fn abandon(&mut self) {
        if let Some(stream) = self.stream.take() {
            // Aborts the COPY and closes the connection it was lent.
            drop(stream);
            drop(self.load.take());
        } else if let Some(mut load) = self.load.take() {
            if load.batch_execute("ROLLBACK").is_err() {
                load.discard();
            }
        }
    }
}

/// Commits the load's own transaction, if it has one: its rows become visible to the
/// batch's connection (and the table outlives a killed batch: an orphan, see `sweep`).
fn commit_load<'a>(f: &mut Fresh<'a>) -> Result<Option<Conn<'a>>, PgError> {
    f.end_stream()?;
    let Some(mut load) = f.load.take() else {
        return Ok(None);
    };
    if let Err(e) = load.batch_execute("COMMIT") {
        load.discard();
        return Err(e.into());
    }
    Ok(Some(load))
}

/// Moves what the fresh table holds into the layer (indexes maintained row by row) and
/// drops it: for a batch that goes on to read or change the layer in other ways, so that
/// readers are not locked out of the layer for the rest of the batch.
pub(super) fn merge(conn: &mut Conn<'_>, layer: Layer, mut f: Fresh<'_>) -> Result<(), PgError> {
    commit_load(&mut f)?;
    let cols = column_list(layer, None);
    conn.batch_execute(&format!(
        "INSERT INTO {name} (fid, {cols}) SELECT fid, {cols} FROM {t} ORDER BY fid;
         DROP TABLE {t}",
        name = layer.name(),
        t = f.table
    ))?;
    Ok(())
}

/// Sorts in memory for an index build (the transaction's builds only).
const BUILD_SETTINGS: &str = "SET LOCAL maintenance_work_mem = '256MB'";

/// Runs the index builds `sql` on `conn` (in the batch's transaction) and `load` (each in a
/// transaction of its own) at once, each taking the next statement when done with one.
fn build_on_two(conn: &mut Conn<'_>, load: &mut Conn<'_>, sql: &[String]) -> Result<(), PgError> {
    let next = AtomicUsize::new(0);
    // One core each: a parallel build beside the other connection's would only add sorts
    // to merge.
    let take = |c: &mut Conn<'_>, own_tx: bool| -> Result<(), PgError> {
        loop {
            let Some(s) = sql.get(next.fetch_add(1, Ordering::Relaxed)) else {
                return Ok(());
            };
            if own_tx {
                c.batch_execute(&format!(
                    "BEGIN; {BUILD_SETTINGS}; SET LOCAL max_parallel_maintenance_workers = 0; \
                     {s}; COMMIT"
                ))?;
            } else {
                c.batch_execute(s)?;
            }
        }
    };
    conn.batch_execute(&format!(
        "{BUILD_SETTINGS}; SET LOCAL max_parallel_maintenance_workers = 0"
    ))?;
    let (here, there) = std::thread::scope(|s| {
        let there = s.spawn(|| take(load, true));
        let here = take(conn, false);
        (here, there.join())
    });
    here?;
    there.map_err(|_| PgError::Value("an index build's thread panicked".into()))?
}

/// Builds the layer's indexes on the fresh table, then puts it in the layer's place: the
/// old (empty) table's lock is taken only now, and held to the commit that follows.
pub(super) fn swap(conn: &mut Conn<'_>, layer: Layer, mut f: Fresh<'_>) -> Result<(), PgError> {
    let name = layer.name();
    match commit_load(&mut f)? {
        Some(mut load) => {
            if let Err(e) = build_on_two(conn, &mut load, &f.build) {
                // Perhaps inside a failed transaction: closed, not given back.
                load.discard();
                return Err(e);
            }
        }
        None => {
            conn.batch_execute(BUILD_SETTINGS)?;
            for sql in &f.build {
                conn.batch_execute(sql)?;
            }
        }
    }
    for sql in f.attach.iter().chain(&f.grants) {
        conn.batch_execute(sql)?;
    }
    conn.batch_execute(&format!("LOCK TABLE {name} IN ACCESS EXCLUSIVE MODE"))?;
    // Every writer through jointmap waits for this batch; one from outside it may not have.
    let empty: bool = conn
        .query_one(&format!("SELECT NOT EXISTS (SELECT 1 FROM {name})"), &[])?
        .get(0);
    if !empty {
        return Err(PgError::Value(format!(
            "{name}: rows were written to the layer outside jointmap during the batch; \
             nothing stored"
        )));
    }
    let mut sql = String::new();
    for (seq, col) in &f.sequences {
        sql.push_str(&format!(
            "ALTER SEQUENCE {seq} OWNED BY {}.\"{col}\";",
            f.table
        ));
    }
    sql.push_str(&format!(
        "DROP TABLE {name}; ALTER TABLE {} RENAME TO {name};",
        f.table
    ));
    for r in &f.renames {
        sql.push_str(r);
        sql.push(';');
    }
    conn.batch_execute(&sql)?;
    Ok(())
}

/// Drops the fresh tables loads left behind (a process killed between its load's commit and
/// its batch's), when no batch is running: every such table is an orphan then. Best effort:
/// a role that may not lock the data version's row, or a batch running, leaves them for later.
pub(super) fn sweep(conn: &mut Conn<'_>, schema: &str) -> Result<(), PgError> {
    let orphans = |c: &mut postgres::Transaction<'_>| -> Result<Vec<String>, PgError> {
        Ok(c.query(
            "SELECT quote_ident(c.relname) FROM pg_class c JOIN pg_namespace n
               ON n.oid = c.relnamespace
             WHERE n.nspname = $1 AND c.relkind = 'r' AND c.relname LIKE 'jm\\_load\\_%'",
            &[&schema],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect())
    };
    let mut tx = conn.transaction()?;
    if orphans(&mut tx)?.is_empty() {
        return Ok(());
    }
    let free = tx
        .query_opt(
            "SELECT 1 FROM jointmap_meta WHERE key = 'data_version' FOR UPDATE SKIP LOCKED",
            &[],
        )
        .map(|r| r.is_some())
        .unwrap_or(false);
    if !free {
        return Ok(());
    }
    // Again under the lock: a batch may have swapped one in meanwhile.
    for t in orphans(&mut tx)? {
        tx.batch_execute(&format!("DROP TABLE IF EXISTS {t}"))?;
    }
    tx.commit()?;
    Ok(())
}
