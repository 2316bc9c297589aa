//! The gRPC endpoint's settings.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Where to listen and what certificate to present.
#[derive(Debug, Clone, Default)]
pub struct GrpcConfig {
    /// The address the routes name as this broker's endpoint; `None` uses the listener's own
    /// address (an unspecified IP is replaced by loopback: clients cannot dial `0.0.0.0`).
    pub advertised: Option<SocketAddr>,
    /// The certificate and key for TLS connections; `None` generates a self-signed one at start,
    /// as RocketMQ's proxy does in its TLS test mode (v5 Java clients trust any certificate).
    pub tls: Option<TlsFiles>,
    /// How push consumers' invisible time is renewed.
    pub renew: crate::RenewConfig,
}

/// PEM files of a certificate chain and its private key.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}
