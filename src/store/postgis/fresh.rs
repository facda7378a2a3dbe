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

use super::{column_list, pool::Conn, PgError};
use crate::model::Layer;

/// A layer being loaded through a fresh table: what to build on it and copy over at the swap.
#[derive(Debug)]
pub(super) struct Fresh {
    /// The fresh table's name (in the store's schema).
    pub table: String,
    /// Statements building the layer's indexes on the fresh table, under temporary names.
    build: Vec<String>,
    /// Statements giving the fresh table the layer's grants.
    grants: Vec<String>,
    /// `(sequence, column)`: sequences owned by the layer's columns, to be owned by the fresh
    /// table's before the old table goes.
    sequences: Vec<(String, String)>,
    /// Renames of the indexes and constraints back to the layer's names, after the swap.
    renames: Vec<String>,
}

/// Prefix of the fresh table's name and of its indexes' names until the swap.
const PREFIX: &str = "jm_load_";

/// Whether a layer may be loaded through a fresh table (see the module's documentation),
/// and if so how: `None` when it may not.
pub(super) fn plan(conn: &mut Conn<'_>, layer: Layer) -> Result<Option<Fresh>, PgError> {
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
    let mut build = Vec::new();
    let mut renames = Vec::new();
    // Constraints (primary key, unique, check) under temporary names, then the other indexes
    // from their definitions, pointed at the fresh table.
    for r in conn.query(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
         WHERE conrelid = $1::text::regclass AND contype IN ('p', 'u', 'c') ORDER BY conname",
        &[&name],
    )? {
        let (con, def): (String, String) = (r.get(0), r.get(1));
        build.push(format!(
            "ALTER TABLE {table} ADD CONSTRAINT \"{PREFIX}{con}\" {def}"
        ));
        // Renames a primary key's or unique constraint's index with it.
        renames.push(format!(
            "ALTER TABLE {name} RENAME CONSTRAINT \"{PREFIX}{con}\" TO \"{con}\""
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
        // `CREATE [UNIQUE] INDEX name ON schema.table USING ...`: the method and columns kept.
        let Some((head, rest)) = def.split_once(" USING ") else {
            return Ok(None);
        };
        let unique = if head.starts_with("CREATE UNIQUE ") {
            "UNIQUE "
        } else {
            ""
        };
        build.push(format!(
            "CREATE {unique}INDEX \"{PREFIX}{index}\" ON {table} USING {rest}"
        ));
        renames.push(format!(
            "ALTER INDEX \"{PREFIX}{index}\" RENAME TO \"{index}\""
        ));
    }
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
        build,
        grants,
        sequences,
        renames,
    }))
}

/// Creates the fresh table: the layer's columns, defaults (its `fid` sequence) and
/// constraints that are no index; the rest comes at the swap.
pub(super) fn create(conn: &mut Conn<'_>, layer: Layer, f: &Fresh) -> Result<(), PgError> {
    conn.batch_execute(&format!(
        "CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS INCLUDING STORAGE INCLUDING COMMENTS \
         INCLUDING COMPRESSION)",
        f.table,
        layer.name()
    ))?;
    Ok(())
}

/// Moves what the fresh table holds into the layer (indexes maintained row by row) and
/// drops it: for a batch that goes on to read or change the layer in other ways, so that
/// readers are not locked out of the layer for the rest of the batch.
pub(super) fn merge(conn: &mut Conn<'_>, layer: Layer, f: Fresh) -> Result<(), PgError> {
    let cols = column_list(layer, None);
    conn.batch_execute(&format!(
        "INSERT INTO {name} (fid, {cols}) SELECT fid, {cols} FROM {t} ORDER BY fid;
         DROP TABLE {t}",
        name = layer.name(),
        t = f.table
    ))?;
    Ok(())
}

/// Builds the layer's indexes on the fresh table, then puts it in the layer's place: the
/// old (empty) table's lock is taken only now, and held to the commit that follows.
pub(super) fn swap(conn: &mut Conn<'_>, layer: Layer, f: Fresh) -> Result<(), PgError> {
    let name = layer.name();
    // Sorts in memory for the index builds (this transaction only).
    conn.batch_execute("SET LOCAL maintenance_work_mem = '256MB'")?;
    for sql in f.build.iter().chain(&f.grants) {
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
