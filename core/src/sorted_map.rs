//! [`SortedMap`]: a map kept as a sorted list of pairs, for the small maps of payhook's types (a
//! state's amounts and failed refunds, an event's or an operation's metadata).

use alloc::vec::Vec;
use core::borrow::Borrow;
use core::fmt;
use core::ops::Index;

use core::marker::PhantomData;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A map kept as a list of pairs sorted by key, for the few entries a record holds (a payment or
/// two per invoice, a failed refund now and then, a few metadata keys).
///
/// It reads, compares, iterates and serialises as a `BTreeMap` with the same entries does (in
/// key order, `{"key": value, …}`). A B-tree's node code, for each pair of key and value types,
/// was about 5 KB of the WebAssembly component; a sorted list is a binary search and a `Vec`.
/// Inserting is linear in the entries, which is nothing at these sizes; Stripe allows 50
/// metadata keys.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SortedMap<K, V>(Vec<(K, V)>);

impl<K, V> Default for SortedMap<K, V> {
    fn default() -> Self {
        SortedMap(Vec::new())
    }
}

impl<K: Ord, V> SortedMap<K, V> {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// No entries.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Where `key` is, or where it would go.
    fn find<Q: Ord + ?Sized>(&self, key: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
    {
        self.0.binary_search_by(|(k, _)| k.borrow().cmp(key))
    }

    /// The value of `key`.
    #[inline]
    pub fn get<Q: Ord + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().map(|i| &self.0[i].1)
    }

    /// Whether `key` has a value.
    pub fn contains_key<Q: Ord + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.find(key).is_ok()
    }

    /// Sets `key` to `value`; returns the value it replaced.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.find(&key) {
            Ok(i) => Some(core::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                self.0.insert(i, (key, value));
                None
            }
        }
    }

    /// The value of `key`, set to `value` first if it had none (`BTreeMap`'s
    /// `entry(key).or_insert(value)`).
    pub fn get_or_insert(&mut self, key: K, value: V) -> &mut V {
        let i = match self.find(&key) {
            Ok(i) => i,
            Err(i) => {
                self.0.insert(i, (key, value));
                i
            }
        };
        &mut self.0[i].1
    }

    /// The entries in key order.
    pub fn iter(&self) -> Iter<'_, K, V> {
        Iter(self.0.iter())
    }

    /// The values in key order.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.0.iter().map(|(_, v)| v)
    }
}

/// The entries of a [`SortedMap`], in key order.
pub struct Iter<'a, K, V>(core::slice::Iter<'a, (K, V)>);

impl<'a, K, V> Iterator for Iter<'a, K, V> {
    type Item = (&'a K, &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(k, v)| (k, v))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl<K, V> ExactSizeIterator for Iter<'_, K, V> {}

impl<'a, K: Ord, V> IntoIterator for &'a SortedMap<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = Iter<'a, K, V>;

    fn into_iter(self) -> Iter<'a, K, V> {
        self.iter()
    }
}

/// As `BTreeMap` collects: a key given twice keeps its last value.
impl<K: Ord, V> FromIterator<(K, V)> for SortedMap<K, V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(pairs: I) -> Self {
        let mut map = SortedMap::new();
        for (k, v) in pairs {
            map.insert(k, v);
        }
        map
    }
}

/// As `BTreeMap::from([(k, v), …])`.
impl<K: Ord, V, const N: usize> From<[(K, V); N]> for SortedMap<K, V> {
    fn from(pairs: [(K, V); N]) -> Self {
        pairs.into_iter().collect()
    }
}

/// `map[key]`: panics if `key` has no value, as `BTreeMap`'s does.
impl<K: Ord + Borrow<Q>, Q: Ord + ?Sized, V> Index<&Q> for SortedMap<K, V> {
    type Output = V;

    fn index(&self, key: &Q) -> &V {
        self.get(key).expect("no entry for the key in the SortedMap")
    }
}

impl<K: fmt::Debug + Ord, V: fmt::Debug> fmt::Debug for SortedMap<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K: Serialize + Ord, V: Serialize> Serialize for SortedMap<K, V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

/// As `BTreeMap` reads a map: a key given twice keeps its last value.
impl<'de, K: Deserialize<'de> + Ord, V: Deserialize<'de>> Deserialize<'de> for SortedMap<K, V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries<K, V>(PhantomData<(K, V)>);

        impl<'de, K: Deserialize<'de> + Ord, V: Deserialize<'de>> Visitor<'de> for Entries<K, V> {
            type Value = SortedMap<K, V>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = SortedMap::new();
                while let Some((k, v)) = map.next_entry()? {
                    entries.insert(k, v);
                }
                Ok(entries)
            }
        }

        deserializer.deserialize_map(Entries(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use alloc::collections::BTreeMap;
    use alloc::string::{String, ToString};
    use alloc::vec::Vec;

    use proptest::prelude::*;

    use super::SortedMap;

    proptest! {
        /// Every operation answers as a `BTreeMap` given the same operations does.
        #[test]
        fn it_behaves_as_a_btree_map(ops in proptest::collection::vec((0u8..4, 0u8..12, any::<i16>()), 0..60)) {
            let mut sorted = SortedMap::new();
            let mut btree = BTreeMap::new();
            for (op, key, value) in ops {
                let key = alloc::format!("k{key}");
                match op {
                    0 => prop_assert_eq!(sorted.insert(key.clone(), value), btree.insert(key, value)),
                    1 => {
                        *sorted.get_or_insert(key.clone(), value) += 1;
                        *btree.entry(key).or_insert(value) += 1;
                    }
                    2 => prop_assert_eq!(sorted.get(key.as_str()), btree.get(key.as_str())),
                    _ => prop_assert_eq!(sorted.contains_key(key.as_str()), btree.contains_key(key.as_str())),
                }
                prop_assert_eq!(sorted.len(), btree.len());
                prop_assert_eq!(sorted.is_empty(), btree.is_empty());
                prop_assert!(sorted.iter().eq(btree.iter()));
                prop_assert!(sorted.values().eq(btree.values()));
                prop_assert_eq!(serde_json::to_string(&sorted).unwrap(), serde_json::to_string(&btree).unwrap());
                prop_assert_eq!(crate::json::to_string(&sorted).unwrap(), serde_json::to_string(&btree).unwrap());
                prop_assert_eq!(alloc::format!("{sorted:?}"), alloc::format!("{btree:?}"));
                let json = serde_json::to_string(&btree).unwrap();
                prop_assert_eq!(&serde_json::from_str::<SortedMap<String, i16>>(&json).unwrap(), &sorted);
            }
            let pairs: Vec<(String, i16)> = btree.clone().into_iter().rev().collect();
            let collected: SortedMap<String, i16> = pairs.into_iter().collect();
            prop_assert!(collected.iter().eq(btree.iter()));
        }
    }

    #[test]
    fn a_key_given_twice_keeps_its_last_value_and_indexing_reads_it() {
        let map: SortedMap<String, i64> = [("b".into(), 1), ("a".into(), 2), ("b".into(), 3)].into_iter().collect();
        assert_eq!((map["a"], map["b"], map.len()), (2, 3, 2));
        assert_eq!(SortedMap::from([("b".to_string(), 1), ("a".into(), 2), ("b".into(), 3)]), map);
        let read: SortedMap<String, i64> = serde_json::from_str(r#"{"b":1,"a":2,"b":3}"#).unwrap();
        assert_eq!(read, map);
        let err = serde_json::from_str::<SortedMap<String, i64>>("[]").unwrap_err().to_string();
        assert!(err.starts_with("invalid type: sequence, expected a map"), "{err}");
        assert!(std::panic::catch_unwind(|| map["c"]).is_err());
    }
}
