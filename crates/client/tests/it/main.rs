//! The integration tests of `ferromq-client`, one module per area, built as one test binary: a binary per
//! file would link (and monomorphise the async stack) once per file. Run one area with
//! `cargo test -p ferromq-client --test it admin::`.

mod common;

mod admin;
mod failover;
mod orderly;
mod produce_pull;
mod push;
mod replica_reads;
mod retry_dlq;
mod sql_filter;
mod tls;
mod trace;
mod transactions;
