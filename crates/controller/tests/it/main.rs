//! The integration tests of `ferromq-controller`, one module per area, built as one test binary: a binary per
//! file would link (and monomorphise the async stack) once per file. Run one area with
//! `cargo test -p ferromq-controller --test it failover::`.

mod common;

mod failover;
mod raft;
mod tls;
