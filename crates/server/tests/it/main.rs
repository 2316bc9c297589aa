//! The integration tests of `ferromq-server`, one module per area, built as one test binary: a binary per
//! file would link (and monomorphise the async stack) once per file. Run one area with
//! `cargo test -p ferromq-server --test it admin_cli::`.

// The broker tests' raw-protocol helpers, shared rather than copied (used by controller_mode).
#[path = "../../../broker/tests/it/common/mod.rs"]
mod broker_common;
mod cluster;
mod common;

mod admin_cli;
mod bench_cli;
mod bench_grpc;
mod bench_secure;
mod controller_mode;
mod dev_cluster;
mod dev_cluster_controller;
mod dev_smoke;
mod dev_tls;
mod failover;
mod failover_partition;
mod failover_restarts;
mod grpc_endpoint;
mod http_tls;
mod pop_crash;
mod scale;
