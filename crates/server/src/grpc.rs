//! The RocketMQ 5 gRPC endpoint next to a broker: bound on the broker's IP, advertised with the
//! broker's advertised IP (routes send v5 clients there).

use std::net::SocketAddr;

use anyhow::Context;
use ferromq_broker::{BrokerConfig, BrokerHandle};
use ferromq_grpc::{GrpcConfig, GrpcHandle, GrpcServer, TlsFiles};
use tokio::net::TcpListener;

/// Binds `listen` for the endpoint.
pub fn bind(listen: SocketAddr) -> anyhow::Result<TcpListener> {
    ferromq_net::listen::bind(listen)
        .with_context(|| format!("binding the gRPC endpoint to {listen}"))
}

/// The TLS files the broker configuration names, if any.
pub fn tls_files(config: &BrokerConfig) -> Option<TlsFiles> {
    match (&config.grpc_tls_cert, &config.grpc_tls_key) {
        (Some(cert), Some(key)) => Some(TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
        }),
        _ => None,
    }
}

/// Serves `broker` on `listener`.
pub fn serve(
    listener: TcpListener,
    tls: Option<TlsFiles>,
    broker: &BrokerHandle,
) -> anyhow::Result<GrpcHandle> {
    let port = listener
        .local_addr()
        .context("the gRPC listener's address")?
        .port();
    let config = GrpcConfig {
        advertised: Some(SocketAddr::new(broker.advertised_addr().ip(), port)),
        tls,
        ..GrpcConfig::default()
    };
    GrpcServer::start(config, broker.service(), listener).context("starting the gRPC endpoint")
}

/// Binds `listen` and serves `broker` there.
pub fn start(
    listen: SocketAddr,
    tls: Option<TlsFiles>,
    broker: &BrokerHandle,
) -> anyhow::Result<GrpcHandle> {
    serve(bind(listen)?, tls, broker)
}
