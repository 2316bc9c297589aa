//! The integration tests of `ferromq-http`, one module per area, built as one test binary: a binary per
//! file would link (and monomorphise the async stack) once per file. Run one area with
//! `cargo test -p ferromq-http --test it console_api::`.

mod common;

mod console_api;
mod metrics;
