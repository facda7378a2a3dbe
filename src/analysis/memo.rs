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
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if !entries.iter().any(found) {
            entries.push_front((source.clone(), key, value.clone()));
            entries.truncate(self.capacity);
        }
        Ok(value)
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
}
