//! Warden: real-time behavioural detection for non-human identities.
//!
//! The folders are the pipeline. A call record is decoded by [`adapt`]
//! into a canonical [`event`], read in Arrow windows by [`input`] (files)
//! or [`stream`] (Kafka), scored by the [`engine`] against per-agent
//! baselines into [`signal`]s, turned into findings and revocations by
//! [`decide`], rendered once by [`emit`] and delivered to files, Kafka
//! topics and the [`sinks`] beyond Kafka. [`offline`] holds the tools that
//! drive the same engine over history (replay, evaluation, tuning, training,
//! conversion, splicing); [`query`] is SQL over calls and outputs; [`sim`]
//! makes labelled fleets. `docs/architecture.md` has the layout and the
//! rules that keep the import graph running one way.

#![warn(missing_docs)]

pub mod adapt;
pub mod audit;
pub mod config;
pub mod decide;
pub mod emit;
pub mod engine;
pub mod event;
pub mod input;
pub mod inventory;
mod keyed;
pub mod offline;
pub mod query;
pub mod signal;
pub mod sim;
pub mod sinks;
pub mod stream;
