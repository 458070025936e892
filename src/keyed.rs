//! Hashing for tables keyed by what callers write: agent ids, tenants,
//! resource names. A fixed hash (FxHash, or any unkeyed one) lets a sender
//! mint ids that collide, so every one lands in the same probe sequence and
//! each lookup walks all of them: a few thousand crafted ids then cost the
//! engine as much as millions of calls (hash flooding). These tables draw
//! their keys at random when they are made, so collisions cannot be
//! prepared offline. Fixed-key hashing stays right for what Warden makes
//! itself (fingerprints, cohort numbers).
//!
//! Nothing may depend on the iteration order of such a table: it changes
//! from run to run. Sort what leaves it.

/// Keys drawn from the operating system's generator per table (ahash).
pub(crate) type KeyedHash = ahash::RandomState;

/// A hash map over caller-written keys (see the module docs).
pub(crate) type KeyedMap<K, V> = std::collections::HashMap<K, V, KeyedHash>;

/// A hash set over caller-written keys (see the module docs).
pub(crate) type KeyedSet<K> = std::collections::HashSet<K, KeyedHash>;

/// Serialises a keyed map in key order, so that what is written (a state
/// record) does not change with the table's random keys.
pub(crate) fn serialize_sorted<K, V, S>(
    map: &KeyedMap<K, V>,
    serializer: S,
) -> Result<S::Ok, S::Error>
where
    K: Ord + serde::Serialize,
    V: serde::Serialize,
    S: serde::Serializer,
{
    use serde::ser::SerializeMap;
    let mut entries: Vec<(&K, &V)> = map.iter().collect();
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let mut out = serializer.serialize_map(Some(entries.len()))?;
    for (k, v) in entries {
        out.serialize_entry(k, v)?;
    }
    out.end()
}
