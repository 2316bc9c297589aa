//! The integration tests of `ferromq-grpc`, one module per area, built as one test binary: a binary per
//! file would link (and monomorphise the async stack) once per file. Run one area with
//! `cargo test -p ferromq-grpc --test it auth::`.

mod common;

mod auth;
mod cluster_routes;
mod offsets;
mod recall;
mod receive;
mod renew;
mod send;
mod session;
