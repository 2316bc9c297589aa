//! The integration tests of `ferromq-store`, one module per area, built as one test binary: a binary per
//! file would link (and monomorphise the async stack) once per file. Run one area with
//! `cargo test -p ferromq-store --test it commit_log::`.

mod fixture_support;
mod log_support;

mod commit_log;
mod crash_kill9;
mod durability;
mod fixtures;
mod power_loss;
mod prepare;
mod replication;
mod store_api;
