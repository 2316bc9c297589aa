//! TLS on remoting connections (rustls, ring provider).
//!
//! - `config`: the settings by RocketMQ's names ([`TlsMode`], [`ClientAuth`], [`TlsServerConfig`],
//!   [`TlsClientConfig`]); plain data.
//! - `server`: [`ServerTls`], what a listener accepts TLS with: the certificate (reloaded when its
//!   files change), client-certificate verification, and the first-byte sorting of permissive mode.
//! - `client`: [`ClientTls`], what a client connects with.
//! - `stream`: [`ByteStream`], the same TLS for a port that does not speak remoting (HA).
//! - `self_signed`: the certificate served when none is configured.
//! - `pem`: reading PEM files.

mod client;
mod config;
mod pem;
mod self_signed;
mod server;
mod stream;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_rustls::rustls;

pub use client::ClientTls;
pub use config::{ClientAuth, ServerTrust, TlsClientConfig, TlsMode, TlsServerConfig};
pub(crate) use server::Opened;
pub use server::ServerTls;
pub use stream::ByteStream;

/// Why TLS cannot be set up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsError {
    /// A certificate, key or CA file cannot be read or holds nothing usable.
    #[error("{path}: {detail}")]
    File { path: PathBuf, detail: String },
    /// Settings that cannot work together, or an unknown value.
    #[error("{0}")]
    Config(String),
    /// rustls refused the certificate, key or verifier.
    #[error("tls: {0}")]
    Rustls(String),
}

impl TlsError {
    fn file(path: &Path, detail: impl std::fmt::Display) -> Self {
        Self::File {
            path: path.to_owned(),
            detail: detail.to_string(),
        }
    }

    fn rustls(e: impl std::fmt::Display) -> Self {
        Self::Rustls(e.to_string())
    }
}

/// The crypto provider of every TLS config here: ring, so no C toolchain beyond `cc` is needed.
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}
