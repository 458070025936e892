//! Warden: real-time behavioural detection for non-human identities.
//!
//! Data flow: `event` (decode into Arrow windows) → `engine` (baselines and
//! per-event scores) → `decide` (findings and revocations per episode) →
//! `emit` (OCSF findings, revocation events). `replay` drives it over files;
//! `sim` makes labelled fleets; `eval` measures detection on labelled data;
//! `stream` runs it as a Kafka consumer-group member (`warden run`).

pub mod adapt;
pub mod config;
pub mod decide;
pub mod demo;
pub mod emit;
pub mod engine;
pub mod eval;
pub mod event;
pub mod lake;
pub mod query;
pub mod replay;
pub mod report;
pub mod sim;
pub mod sinks;
pub mod source;
pub mod splice;
pub mod stream;
pub mod train;
pub mod tune;
