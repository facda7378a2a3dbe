//! A small memo of what is made from a layer's columns, so that a server
//! answering many requests on an unchanged layer makes it once.
//!
//! Entries are keyed by the identity of the columns they were made from
//! (the `Arc` a store returned) and by everything else the value depends on.
//! A store hands out the same `Arc` only while the layer is unchanged (see
//! `Store::columns`); every entry holds its source `Arc`, so no other
//! columns can ever take its address. A changed layer gives a new `Arc`:
//! the old entries stop matching and are pushed out by the new ones.

use crate::store::EventColumns;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

/// One memoised value with what it was made from.
type Entry<K, V> = (Arc<EventColumns>, K, Arc<V>);

/// At most `capacity` values, the most recently used first.
pub struct ColumnsMemo<K, V> {
    entries: Mutex<VecDeque<Entry<K, V>>>,
    capacity: usize,
}

impl<K: PartialEq, V> ColumnsMemo<K, V> {
    /// An empty memo of at most `capacity` values.
    pub const fn new(capacity: usize) -> Self {
        ColumnsMemo {
            entries: Mutex::new(VecDeque::new()),
            capacity,
        }
    }

    /// The value made from `source` under `key`: the memoised one, else the
    /// one `make` gives (made outside the lock, then kept).
    pub fn get_or_make<E>(
        &self,
        source: &Arc<EventColumns>,
        key: K,
        make: impl FnOnce() -> Result<V, E>,
    ) -> Result<Arc<V>, E> {
        let found = |e: &Entry<K, V>| Arc::ptr_eq(&e.0, source) && e.1 == key;
        {
            let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(hit) = entries
                .iter()
                .position(found)
                .and_then(|i| entries.remove(i))
            {
                let value = hit.2.clone();
                entries.push_front(hit);
                return Ok(value);
            }
        }
        let value = Arc::new(make()?);
        self.keep(source, key, value.clone());
        Ok(value)
    }

    /// [`ColumnsMemo::get_or_make`], but when no value was made from
    /// `source` under `key` and one was from columns whose rows are exactly
    /// the first rows of `source` (a layer only added to: the server after
    /// an ingest), `extend(that value, its row count)` makes the value from
    /// it instead. The old value is handed over (taken out of the memo, so
    /// that it can be grown in place when nobody else holds it).
    pub fn get_or_extend<E>(
        &self,
        source: &Arc<EventColumns>,
        key: K,
        make: impl FnOnce() -> Result<V, E>,
        extend: impl FnOnce(Arc<V>, usize) -> Result<V, E>,
    ) -> Result<Arc<V>, E> {
        let base = {
            let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(i) = entries
                .iter()
                .position(|e| Arc::ptr_eq(&e.0, source) && e.1 == key)
            {
                let hit = entries.remove(i);
                if let Some(hit) = hit {
                    let value = hit.2.clone();
                    entries.push_front(hit);
                    return Ok(value);
                }
            }
            entries
                .iter()
                .position(|e| e.1 == key && source.starts_with(&e.0))
                .and_then(|i| entries.remove(i))
        };
        let value = match base {
            Some((old, _, value)) => Arc::new(extend(value, old.len())?),
            None => Arc::new(make()?),
        };
        self.keep(source, key, value.clone());
        Ok(value)
    }

    /// Keeps `value` made from `source` under `key` (unless one is already).
    fn keep(&self, source: &Arc<EventColumns>, key: K, value: Arc<V>) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if !entries
            .iter()
            .any(|e| Arc::ptr_eq(&e.0, source) && e.1 == key)
        {
            entries.push_front((source.clone(), key, value));
            entries.truncate(self.capacity);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Layer;

    #[test]
    fn made_once_per_source_and_key() {
        let memo: ColumnsMemo<u32, usize> = ColumnsMemo::new(2);
        let a = Arc::new(EventColumns::new(Layer::Incidents));
        let b = Arc::new(EventColumns::new(Layer::Incidents));
        let made = std::cell::Cell::new(0);
        let get = |c: &Arc<EventColumns>, k: u32| {
            *memo
                .get_or_make(c, k, || {
                    made.set(made.get() + 1);
                    Ok::<_, ()>(made.get())
                })
                .unwrap()
        };
        assert_eq!(get(&a, 1), 1);
        assert_eq!(get(&a, 1), 1, "same columns, same key: memoised");
        assert_eq!(get(&a, 2), 2, "another key");
        // Equal contents but other columns (a changed layer): made again.
        assert_eq!(get(&b, 1), 3);
        // Capacity 2: (a, 1) was the least recently used and is gone.
        assert_eq!(get(&b, 1), 3);
        assert_eq!(get(&a, 2), 2);
        assert_eq!(get(&a, 1), 4);
        // An error is returned and nothing kept.
        assert!(memo.get_or_make(&a, 9, || Err::<usize, _>("no")).is_err());
        assert_eq!(get(&a, 9), 5);
    }

    #[test]
    fn extended_from_the_columns_a_source_starts_with() {
        use crate::store::columns::random;
        let features: Vec<_> = random::features(5, Layer::Incidents, 40)
            .into_iter()
            .map(|v| crate::model::Feature::from_geojson(Layer::Incidents, v, "").unwrap())
            .collect();
        let cols = |n: usize| {
            let mut c = EventColumns::new(Layer::Incidents);
            for f in &features[..n] {
                c.push(Layer::Incidents, f);
            }
            Arc::new(c)
        };
        let memo: ColumnsMemo<u32, Vec<String>> = ColumnsMemo::new(2);
        let ids = |c: &EventColumns, from: usize| -> Vec<String> {
            (from..c.len()).map(|i| c.id(i).to_string()).collect()
        };
        let get = |c: &Arc<EventColumns>, k: u32| {
            memo.get_or_extend(
                c,
                k,
                || Ok::<_, ()>(ids(c, 0)),
                |old, n| {
                    let mut v = Arc::try_unwrap(old).unwrap_or_else(|a| (*a).clone());
                    v.extend(ids(c, n));
                    Ok(v)
                },
            )
            .unwrap()
        };
        let (a, b) = (cols(30), cols(40));
        assert_eq!(*get(&a, 1), ids(&a, 0));
        let extended = get(&b, 1);
        assert_eq!(*extended, ids(&b, 0));
        assert!(Arc::ptr_eq(&extended, &get(&b, 1)), "kept");
        // Not a prefix (other rows): made anew, and the same values.
        let mut other = (*cols(20)).clone();
        other.append_from(&cols(40).take(&(25..40).collect::<Vec<_>>()));
        let other = Arc::new(other);
        assert!(!other.starts_with(&b) && !other.starts_with(&a));
        assert_eq!(*get(&other, 1), ids(&other, 0));
        assert!(b.starts_with(&a) && b.starts_with(&b) && !a.starts_with(&b));
    }
}
