//! The integration tests of `ferromq-proto`, one module per area, built as one test binary: a binary per
//! file would link (and monomorphise the async stack) once per file. Run one area with
//! `cargo test -p ferromq-proto --test it garbage::`.

mod garbage;
mod golden;
mod round_trip;
mod service;
mod wire_values;
