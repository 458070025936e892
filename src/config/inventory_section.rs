//! `[inventory]` of `warden.toml`: the inventory `warden run` keeps, and
//! when its access review raises a finding. Durations are written as the
//! `warden inventory` flags take them (`7d`, `36h`, `90m`).

use crate::event::parse_duration_ms;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
/// `[inventory]`: the live inventory and its review findings.
pub struct InventoryConfig {
    /// What identities are granted, as `warden inventory --grants` takes
    /// them: canonical grants files, IAM authorization details, Kubernetes
    /// RBAC, or `PRINCIPAL_ARN=FILE`. Empty: no unused-grant findings.
    pub grants: Vec<String>,
    /// An identity quiet this long in event time is dormant.
    pub dormant_after: String,
    /// A credential in use for longer than this is not rotated.
    pub rotate_after: String,
    /// A grant not used within this long is unused; an identity is judged
    /// only once it has been watched this long.
    pub unused_after: String,
    /// How often (event time) an identity's grants are reviewed again when
    /// nothing new was learned of it (old uses age out of `unused_after`).
    pub review_every: String,
    /// Identities kept per instance (the rest are counted, not inventoried).
    pub max_identities: usize,
}

impl Default for InventoryConfig {
    fn default() -> Self {
        InventoryConfig {
            grants: Vec::new(),
            dormant_after: "7d".into(),
            rotate_after: "90d".into(),
            unused_after: "30d".into(),
            review_every: "1d".into(),
            max_identities: 1_000_000,
        }
    }
}

/// `[inventory]` with its durations read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InventoryTimes {
    /// `dormant_after`, ms.
    pub dormant_after_ms: i64,
    /// `rotate_after`, ms.
    pub rotate_after_ms: i64,
    /// `unused_after`, ms.
    pub unused_after_ms: i64,
    /// `review_every`, ms.
    pub review_every_ms: i64,
}

impl InventoryConfig {
    /// The durations, or which one does not read and why.
    pub fn times(&self) -> Result<InventoryTimes, String> {
        let read = |name: &str, v: &str| {
            parse_duration_ms(v).map_err(|e| format!("inventory.{name} = {v:?}: {e}"))
        };
        Ok(InventoryTimes {
            dormant_after_ms: read("dormant_after", &self.dormant_after)?,
            rotate_after_ms: read("rotate_after", &self.rotate_after)?,
            unused_after_ms: read("unused_after", &self.unused_after)?,
            review_every_ms: read("review_every", &self.review_every)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_the_cli_flags_and_bad_ones_are_named() {
        let t = InventoryConfig::default().times().unwrap();
        assert_eq!(t.dormant_after_ms, 7 * 86_400_000);
        let bad = InventoryConfig {
            unused_after: "soon".into(),
            ..Default::default()
        };
        assert!(bad.times().unwrap_err().contains("inventory.unused_after"));
        let zero = InventoryConfig {
            dormant_after: "0s".into(),
            ..Default::default()
        };
        assert!(zero.times().unwrap_err().contains("positive"));
    }
}
