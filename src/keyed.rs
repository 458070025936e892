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
