//! The ids already read from one input, to refuse a repeated one.
//!
//! The single writer asks for every feature of a million-feature file: one
//! `String` per id in a hash map cost an allocation per feature and rehashes
//! that moved every key. Here the ids are kept end to end in one buffer and
//! the table holds only their hashes and places; ids whose hashes collide
//! are chained and compared byte for byte, so a collision never makes a
//! duplicate.

use rustc_hash::FxHashMap;
use std::hash::{BuildHasher, BuildHasherDefault};

/// One id's place in the buffer, the feature it came from, and the next id
/// with the same hash.
struct Entry {
    start: usize,
    end: usize,
    index: usize,
    next: Option<usize>,
}

/// The ids of one input, each with the index of the feature that first had it.
#[derive(Default)]
pub(super) struct Seen {
    bytes: String,
    entries: Vec<Entry>,
    /// Hash of an id -> its last entry with that hash.
    heads: FxHashMap<u64, usize>,
}

impl Seen {
    fn hash(id: &str) -> u64 {
        BuildHasherDefault::<rustc_hash::FxHasher>::default().hash_one(id)
    }

    /// The index of the feature that first had `id`, if any did.
    #[cfg(test)]
    fn get(&self, id: &str) -> Option<usize> {
        self.find(id, Self::hash(id))
    }

    /// The index of the feature that first had `id` (whose hash is
    /// `hash`), if any did.
    fn find(&self, id: &str, hash: u64) -> Option<usize> {
        let mut at = self.heads.get(&hash).copied();
        while let Some(i) = at {
            let e = self.entries.get(i)?;
            if self.bytes.get(e.start..e.end) == Some(id) {
                return Some(e.index);
            }
            at = e.next;
        }
        None
    }

    /// Records `id` as first seen at `index`, unless it was seen before:
    /// then the index of the feature that first had it.
    pub(super) fn insert(&mut self, id: &str, index: usize) -> Option<usize> {
        // Hashed once: the writer asks for every feature.
        let hash = Self::hash(id);
        if let Some(first) = self.find(id, hash) {
            return Some(first);
        }
        let slot = self.entries.len();
        let start = self.bytes.len();
        self.bytes.push_str(id);
        let next = self.heads.insert(hash, slot);
        self.entries.push(Entry {
            start,
            end: self.bytes.len(),
            index,
            next,
        });
        None
    }

    /// Forgets every id (a new input begins), keeping the memory.
    pub(super) fn clear(&mut self) {
        self.bytes.clear();
        self.entries.clear();
        self.heads.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_told_apart_by_their_bytes() {
        let mut s = Seen::default();
        assert_eq!(s.get("a"), None);
        assert_eq!(s.insert("a", 3), None);
        assert_eq!(s.insert("ab", 4), None);
        assert_eq!(s.insert("a", 9), Some(3));
        assert_eq!(s.insert("", 5), None);
        assert_eq!(s.get("a"), Some(3));
        assert_eq!(s.get("ab"), Some(4));
        assert_eq!(s.get(""), Some(5));
        assert_eq!(s.get("b"), None);
        s.clear();
        assert_eq!(s.get("a"), None);
    }

    /// Colliding hashes are chained: forced here by putting two ids under
    /// one hash, as a collision would.
    #[test]
    fn a_hash_collision_is_not_a_duplicate() {
        let mut s = Seen::default();
        assert_eq!(s.insert("x", 1), None);
        let h = Seen::hash("x");
        // "y" filed under x's hash, chained behind it.
        let next = s.heads.insert(h, 1);
        s.bytes.push('y');
        s.entries.push(Entry {
            start: 1,
            end: 2,
            index: 2,
            next,
        });
        assert_eq!(s.get("x"), Some(1));
        assert_eq!(s.entries.len(), 2);
        let found: Vec<usize> = {
            let mut at = s.heads.get(&h).copied();
            let mut out = Vec::new();
            while let Some(i) = at {
                out.push(s.entries[i].index);
                at = s.entries[i].next;
            }
            out
        };
        assert_eq!(found, vec![2, 1]);
    }

    #[test]
    fn many_ids_keep_their_first_index() {
        let mut s = Seen::default();
        for i in 0..50_000 {
            assert_eq!(s.insert(&format!("id-{i}"), i), None);
        }
        for i in (0..50_000).step_by(997) {
            assert_eq!(s.insert(&format!("id-{i}"), i + 1), Some(i));
            assert_eq!(s.get(&format!("id-{i}")), Some(i));
        }
        assert_eq!(s.get("id-50000"), None);
    }
}
