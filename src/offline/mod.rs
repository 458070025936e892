//! The engine over history: `warden replay` (and its evaluation against
//! labels), `tune`, `train`, `convert` (to Parquet) and `splice` (real
//! attack records into simulated principals), plus the HTML report of
//! replay and tune. Everything here reads through `input::read_windows`.

pub mod convert;
pub mod eval;
pub mod replay;
pub mod report;
pub mod splice;
pub mod train;
pub mod tune;

/// Threads to use when none are asked for: every core this process may run
/// on.
pub fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// For `skip_serializing_if`: a count that only appears when something
/// happened (so summaries of runs without it stay as they were).
pub(crate) fn is_zero(n: &u64) -> bool {
    *n == 0
}
