//! The integration tests of `ferromq-compat` (crates.io's rocketmq-client-rust against ferromq),
//! one module per scenario, built as one test binary: a binary per file would link (and
//! monomorphise the async stack) once per file. Run one with `cargo test -p ferromq-compat --test it acl::`.

mod common;

mod acl;
mod failover;
mod interop;
mod produce_consume;
mod pull;
mod query;
mod sql_filter;
mod transactions;
