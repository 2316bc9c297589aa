//! The broker's integration tests, one module per area, built as one test binary: a binary per
//! file would link (and monomorphise the async stack) once per file. Run one area with
//! `cargo test -p ferromq-broker --test it delay::`.

mod common;

mod admin;
mod admin_status;
mod assignment;
mod auth;
mod delay;
mod groups;
mod locks;
mod long_poll;
mod module_graph;
mod name_servers;
mod namesrv_auth;
mod pop;
mod pull_suggest;
mod replication;
mod request_reply;
mod scale_out;
mod send_back;
mod send_pull;
mod sql_filter;
