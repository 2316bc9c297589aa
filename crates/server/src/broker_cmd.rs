//! `ferromq broker`: one broker until SIGINT/SIGTERM.

use anyhow::Context;
use ferromq_broker::{Broker, BrokerConfig};

use std::net::SocketAddr;

use crate::cli::BrokerArgs;
use crate::grpc;
use crate::http;
use crate::signals;

/// Reads the broker config (broker.conf or TOML), or the defaults.
pub fn load_config(path: Option<&std::path::Path>) -> anyhow::Result<BrokerConfig> {
    match path {
        None => Ok(BrokerConfig::default()),
        Some(p) => BrokerConfig::load(p).with_context(|| format!("loading {}", p.display())),
    }
}

pub fn run(args: BrokerArgs) -> anyhow::Result<()> {
    let mut config = load_config(args.config.as_deref())?;
    if let Some(addrs) = &args.namesrv {
        config.namesrv_addrs = addrs
            .split(';')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_owned)
            .collect();
    }
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    config.validate().context("invalid broker configuration")?;
    if config.namesrv_addrs.is_empty() {
        tracing::warn!(
            "no name server configured (namesrvAddr / -n): clients will not find this broker"
        );
    }
    tracing::info!(?config, "effective broker configuration");
    signals::runtime()?.block_on(async move {
        let listener = ferromq_net::listen::bind(config.listen)
            .with_context(|| format!("binding {}", config.listen))?;
        // `grpcListenPort`: the RocketMQ 5 gRPC endpoint, on the broker's IP. Bound before the
        // broker starts so a taken port fails the start; served from the first start on.
        let mut grpc_listener = match config.grpc_listen_port {
            Some(port) => Some(grpc::bind(SocketAddr::new(config.listen.ip(), port))?),
            None => None,
        };
        let mut http_listener = match config.metrics_listen_port {
            Some(port) => Some(
                ferromq_net::listen::bind(SocketAddr::new(config.listen.ip(), port))
                    .with_context(|| format!("binding the HTTP listener to port {port}"))?,
            ),
            None => None,
        };
        let mut http_tls = http::server_tls(&config.tls, args.http_tls)?;
        let mut http: Option<ferromq_http::HttpHandle> = None;
        let grpc_tls = grpc::tls_files(&config);
        let mut endpoint: Option<ferromq_grpc::GrpcHandle> = None;
        let mut failed: Option<anyhow::Error> = None;
        let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
        // Under a controller a former master may restart in place, log cut; each start prints
        // its ready line (and the gRPC endpoint moves to the new broker, keeping its port).
        // Installed before any start prints its ready line (see `ShutdownSignal`).
        let signal = signals::ShutdownSignal::install()?;
        let ran = Broker::run(
            config,
            listener,
            async {
                tokio::select! {
                    waited = signal.wait() => if let Err(e) = waited {
                        tracing::warn!(error = %e, "waiting for a signal failed; stopping");
                    },
                    _ = stop_rx.wait_for(|stop| *stop) => {}
                }
            },
            |broker| {
                if let Some(g) = &endpoint {
                    g.serve_broker(broker.service());
                } else if let Some(l) = grpc_listener.take() {
                    match grpc::serve(l, grpc_tls.clone(), broker) {
                        Ok(g) => endpoint = Some(g),
                        Err(e) => {
                            failed = Some(e);
                            let _ = stop_tx.send(true);
                            return;
                        }
                    }
                }
                let target = ferromq_http::Target::Broker(broker.service());
                if let Some(h) = &http {
                    h.serve(target);
                } else if let Some(l) = http_listener.take() {
                    match http::serve(l, target, http_tls.take()) {
                        Ok(h) => http = Some(h),
                        Err(e) => {
                            failed = Some(e);
                            let _ = stop_tx.send(true);
                            return;
                        }
                    }
                }
                let grpc = endpoint
                    .as_ref()
                    .map(|g| format!(" grpc={}", g.local_addr()))
                    .unwrap_or_default();
                let http_field = http
                    .as_ref()
                    .map(|h| http::ready_field(h, args.http_tls))
                    .unwrap_or_default();
                println!(
                    "ferromq broker ready: listen={} advertised={}{grpc}{http_field}",
                    broker.local_addr(),
                    broker.advertised_addr()
                );
            },
        )
        .await;
        if let Some(h) = http {
            h.shutdown().await;
        }
        if let Some(g) = endpoint {
            g.shutdown().await;
        }
        ran.context("running the broker")?;
        match failed {
            Some(e) => Err(e),
            None => Ok(()),
        }
    })
}
