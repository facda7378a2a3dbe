//! The audit log in the store's database ([`crate::store::AuditTable`]): a
//! writer thread of its own takes the records from a queue and appends
//! whatever has gathered in one statement, then tells each record's caller how
//! it went. A caller waits for its record's outcome (as a file's record is
//! written before the answer leaves), but no request thread holds a database
//! connection, and under load one round trip writes many records.

use super::{AccessError, AuditRecord, Role};
use crate::store::{AuditRow, AuditTable};
use std::sync::mpsc;

/// What a caller is told once its record was written, or not.
pub type AuditDone = Box<dyn FnOnce(Result<(), AccessError>) + Send>;

/// At most this many records in one statement.
const BATCH: usize = 512;

/// The queue to the writer thread; the thread ends when the queue is dropped,
/// after writing what it holds.
#[derive(Debug)]
pub(super) struct AuditQueue {
    tx: mpsc::Sender<(AuditRow, AuditDone)>,
}

impl AuditQueue {
    /// Starts the writer thread over `table`.
    pub(super) fn start(table: Box<dyn AuditTable>) -> Result<AuditQueue, AccessError> {
        let (tx, rx) = mpsc::channel::<(AuditRow, AuditDone)>();
        std::thread::Builder::new()
            .name("jointmap-audit".into())
            .spawn(move || write_all(&*table, &rx))
            .map_err(|e| AccessError::Audit(format!("cannot start the audit writer: {e}")))?;
        Ok(AuditQueue { tx })
    }

    /// Queues `rec`; `done` is called with the outcome on the writer thread
    /// (at once, with an error, when the writer is gone).
    pub(super) fn send(&self, rec: &AuditRecord, done: AuditDone) {
        if let Err(mpsc::SendError((_, done))) = self.tx.send((row(rec), done)) {
            done(Err(AccessError::Audit("the audit writer stopped".into())));
        }
    }
}

/// The writer: one record, then whatever else is queued, in one statement.
/// Sequence numbers count every record this server queued, written or not,
/// so a gap in the table shows a record that failed (and was reported).
fn write_all(table: &dyn AuditTable, rx: &mpsc::Receiver<(AuditRow, AuditDone)>) {
    let mut seq: i64 = 0;
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let (rows, dones): (Vec<AuditRow>, Vec<AuditDone>) = batch.into_iter().unzip();
        let outcome = table
            .append(&rows, seq)
            .map_err(|e| format!("cannot write to the audit table: {e}"));
        seq += rows.len() as i64;
        for done in dones {
            done(outcome.clone().map_err(AccessError::Audit));
        }
    }
}

/// The record as the table holds it.
fn row(rec: &AuditRecord) -> AuditRow {
    AuditRow {
        time: rec.time,
        token: rec.token.map(str::to_string),
        role: rec.role.map(|r: Role| r.as_str().to_string()),
        reason: rec.reason.map(str::to_string),
        endpoint: rec.endpoint.to_string(),
        params: rec.params.to_string(),
        status: rec.status,
        returned: rec.returned as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Gate, Policy};
    use super::*;
    use crate::store::StoreError;
    use std::sync::{Arc, Mutex};

    /// A table in memory, failing the batches that hold a record with
    /// params "fail".
    #[derive(Default)]
    struct Memory(Arc<Mutex<Vec<(i64, AuditRow)>>>);

    impl AuditTable for Memory {
        fn append(&self, rows: &[AuditRow], first_seq: i64) -> crate::store::Result<()> {
            if rows.iter().any(|r| r.params == "fail") {
                return Err(StoreError::Backend {
                    location: "test".into(),
                    kind: crate::store::ErrorKind::Other,
                    message: "refused".into(),
                });
            }
            let mut t = self.0.lock().unwrap();
            t.extend(
                rows.iter()
                    .cloned()
                    .enumerate()
                    .map(|(i, r)| (first_seq + i as i64, r)),
            );
            Ok(())
        }
    }

    fn record(params: &str) -> AuditRecord<'_> {
        AuditRecord {
            time: chrono::Utc::now(),
            token: Some("t"),
            role: Some(Role::Hr),
            reason: None,
            endpoint: "GET /x",
            params,
            status: 200,
            returned: 1,
        }
    }

    #[test]
    fn records_land_in_order_and_a_failed_write_is_an_error() {
        let table = Memory::default();
        let rows = table.0.clone();
        let gate = Arc::new(Gate::with_audit_table(Policy::default(), Box::new(table)).unwrap());
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let gate = gate.clone();
                std::thread::spawn(move || {
                    for i in 0..200 {
                        gate.audit(&record(&format!("{t}-{i}"))).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let e = gate.audit(&record("fail")).unwrap_err();
        assert!(
            matches!(&e, AccessError::Audit(m) if m.contains("refused")),
            "{e}"
        );
        gate.audit(&record("after")).unwrap();
        let rows = rows.lock().unwrap();
        assert_eq!(rows.len(), 801);
        // Sequence numbers as queued: the failed record's is missing.
        let seqs: Vec<i64> = rows.iter().map(|(s, _)| *s).collect();
        assert_eq!(seqs, (0..800).chain([801]).collect::<Vec<_>>());
        for t in 0..4 {
            let mine: Vec<&str> = rows
                .iter()
                .map(|(_, r)| r.params.as_str())
                .filter(|p| p.starts_with(&format!("{t}-")))
                .collect();
            let want: Vec<String> = (0..200).map(|i| format!("{t}-{i}")).collect();
            assert_eq!(mine, want, "thread {t}");
        }
        assert_eq!(rows[800].1.params, "after");
        assert_eq!(rows[0].1.role.as_deref(), Some("hr"));
    }
}
