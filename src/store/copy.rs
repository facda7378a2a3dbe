//! Copying every layer of one store into another, whatever their backends
//! (`jointmap store-copy`), as one batch on the destination.
//!
//! The source is read inside a batch of its own that is never committed: one
//! snapshot of every layer, with each row's source (provenance), which only a
//! batch exposes. Each row is upserted into the destination's batch as it is
//! read, so memory stays flat (both backends write a batch's rows as they
//! come, within their transaction); nothing is visible at the destination
//! until the one commit at the end, so a failure or a killed process leaves it
//! as it was.

use super::{Batch, Layer, Result, Selection, Store, StoreError, LOCAL_AUTHOR};

/// What [`copy`] does with a destination that already holds features.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CopyMode {
    /// Refuses it, writing nothing.
    #[default]
    RefuseNonEmpty,
    /// Deletes every feature it holds (each kept in its history as a deleted
    /// version), in the same batch as the copy.
    Replace,
}

/// Copies every feature of every layer of `src` into `dst` (named `dst_name` in
/// errors), in the source's storage order, each with its id and its source;
/// calls `done` with each layer's count as it is written, and checks after the
/// commit that `dst` holds exactly those counts. Returns the counts.
///
/// Rows written before sources were recorded are copied as written by
/// [`LOCAL_AUTHOR`]; history and quarantine are not copied. A row of `src` that
/// cannot be read as a feature stops the copy (`jointmap check` finds it).
pub fn copy(
    src: &dyn Store,
    dst: &dyn Store,
    dst_name: &str,
    mode: CopyMode,
    done: &mut dyn FnMut(Layer, u64),
) -> Result<Vec<(Layer, u64)>> {
    if mode == CopyMode::RefuseNonEmpty {
        for layer in Layer::ALL {
            let held = dst.summary(layer)?.count;
            if held > 0 {
                return Err(StoreError::Invalid {
                    location: dst_name.to_string(),
                    reason: format!(
                        "not empty ({held} features in {layer}); give --replace to replace \
                         everything it holds"
                    ),
                });
            }
        }
    }
    let mut read = src.begin()?;
    let mut write = dst.begin()?;
    let mut counts = Vec::with_capacity(Layer::ALL.len());
    for layer in Layer::ALL {
        if mode == CopyMode::Replace {
            clear(write.as_mut(), layer)?;
        }
        let n = read.inspect(layer, &mut |row| {
            let feature = row.feature.map_err(|reason| {
                StoreError::Aborted(format!(
                    "source layer {layer}, feature {}: {reason} (run `jointmap check`)",
                    row.id
                ))
            })?;
            write.set_source(row.source.as_deref().unwrap_or(LOCAL_AUTHOR));
            write.upsert(layer, &feature)
        })?;
        done(layer, n);
        counts.push((layer, n));
    }
    drop(read);
    write.commit()?;
    for &(layer, n) in &counts {
        let held = dst.summary(layer)?.count;
        if held != n {
            return Err(StoreError::Invalid {
                location: dst_name.to_string(),
                reason: format!("after the copy {layer} holds {held} features, not {n}"),
            });
        }
    }
    Ok(counts)
}

/// Deletes every feature of `layer` in `batch`.
fn clear(batch: &mut dyn Batch, layer: Layer) -> Result<()> {
    let mut ids = Vec::new();
    batch.inspect(layer, &mut |row| {
        ids.push(row.id);
        Ok(())
    })?;
    if !ids.is_empty() {
        batch.delete(layer, &Selection::Ids(ids))?;
    }
    Ok(())
}
