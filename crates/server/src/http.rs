//! The HTTP listener (metrics, health) next to a server.

use std::net::SocketAddr;

use anyhow::Context;
use ferromq_http::{HttpHandle, HttpServer, Target};

/// Binds `listen` and serves `target` there.
pub fn start(listen: SocketAddr, target: Target) -> anyhow::Result<HttpHandle> {
    let listener = ferromq_net::listen::bind(listen)
        .with_context(|| format!("binding the HTTP listener to {listen}"))?;
    HttpServer::start(listener, target).context("starting the HTTP listener")
}
