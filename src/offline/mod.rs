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
