//! Machine identity inventory and access review (`warden inventory`): which
//! identities exist and what each actually did, which are dormant, new,
//! unrotated or sharing a credential, whose action set grows, and, given
//! what they are granted, which grants they never used and what
//! least-privilege grants would cover exactly their use.
//!
//! observe (one pass over the calls) → review (flags, grants against use,
//! suggestions) → render (table, JSON, CSV; OCSF IAM Analysis Findings).
//! `live` keeps the same observation in `warden run`, per partition, and
//! judges dormancy and unused grants in event time.

pub mod grants;
mod live;
mod observe;
mod ocsf;
mod render;
mod review;
mod suggest;

pub use live::{
    InventoryRecord, InventoryStateError, LiveInventory, ReviewActivity, ReviewEvent, ReviewKind,
};
pub use observe::{Identity, Learned, Observed, Use, Uses};
pub use ocsf::{iam_analysis_findings, review_finding};
pub use render::{html, render, OutputFormat};
pub use review::{
    review, Credentials, Entry, Flag, GrantReview, Inventory, Narrowed, ReviewOptions, UnusedGrant,
    ValueUse,
};

use crate::event::CallColumns;
use crate::input::{read_windows_ahead, InputError, ReadObserver, ReadOptions};

/// Why an inventory could not be made.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    /// An input could not be read.
    #[error(transparent)]
    Input(#[from] InputError),
    /// A grants file could not be read.
    #[error(transparent)]
    Grants(#[from] grants::GrantsError),
    /// A window was not in the call layout (a bug, or a foreign Parquet file).
    #[error("reading calls: {0}")]
    Layout(String),
}

/// What reading the inputs found.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct ReadSummary {
    /// Calls read.
    pub calls: u64,
    /// Records that could not be decoded (reported, skipped).
    pub decode_errors: u64,
}

/// Observes every call of `inputs` (decoding on a thread of its own).
pub fn observe(
    inputs: &[String],
    read_opts: &ReadOptions,
    observer: &mut dyn ReadObserver,
    max_identities: usize,
    as_of_ms: Option<i64>,
) -> Result<(Observed, ReadSummary), InventoryError> {
    let mut observed = Observed::new(max_identities, as_of_ms);
    let totals = read_windows_ahead(inputs, read_opts, 1, observer, &mut |batch| {
        let cols = CallColumns::new(batch).map_err(|e| InventoryError::Layout(e.to_string()))?;
        for i in 0..cols.len() {
            observed.add(&cols.row(i));
        }
        Ok::<(), InventoryError>(())
    })?;
    Ok((
        observed,
        ReadSummary {
            calls: totals.rows,
            decode_errors: totals.decode_errors,
        },
    ))
}
