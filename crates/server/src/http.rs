//! The HTTP listener (metrics, health) next to a server.

use std::net::SocketAddr;

use anyhow::Context;
use ferromq_http::{HttpHandle, HttpServer, Target};
use ferromq_net::{ServerTls, TlsMode, TlsServerConfig};

/// Binds `listen` and serves `target` there over plaintext HTTP.
pub fn start(listen: SocketAddr, target: Target) -> anyhow::Result<HttpHandle> {
    start_tls(
        listen,
        target,
        &TlsServerConfig::default(),
        TlsMode::Disabled,
    )
}

/// Binds `listen` and serves `target` there: plaintext HTTP when `mode` is `disabled`, else HTTPS
/// with the certificate and key (and client-certificate settings) of `tls`, the remoting
/// listener's, in `mode` (`permissive` also answers plaintext on the port, `enforcing` does not).
pub fn start_tls(
    listen: SocketAddr,
    target: Target,
    tls: &TlsServerConfig,
    mode: TlsMode,
) -> anyhow::Result<HttpHandle> {
    let server_tls = ServerTls::from_config(&TlsServerConfig {
        mode,
        ..tls.clone()
    })
    .context("the HTTP listener's TLS settings")?;
    let listener = ferromq_net::listen::bind(listen)
        .with_context(|| format!("binding the HTTP listener to {listen}"))?;
    match server_tls {
        None => HttpServer::start(listener, target),
        Some(server_tls) => HttpServer::start_tls(listener, target, server_tls),
    }
    .context("starting the HTTP listener")
}
