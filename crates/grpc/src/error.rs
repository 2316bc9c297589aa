//! Failures to start the gRPC endpoint (RPC failures travel as v5 statuses, see `status.rs`).

use std::path::PathBuf;

/// Why the endpoint could not start.
#[derive(Debug, thiserror::Error)]
pub enum GrpcError {
    #[error("gRPC listener: {0}")]
    Listener(#[source] std::io::Error),
    #[error("cannot read TLS file {path}: {detail}")]
    TlsFile { path: PathBuf, detail: String },
    #[error("TLS setup: {0}")]
    Tls(String),
}
