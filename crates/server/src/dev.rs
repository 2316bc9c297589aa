//! `ferromq dev`: a name server and a broker in one process, every byte under one folder. A second
//! start on the same folder recovers the store, topics and consumer offsets. With `--cluster N`, N
//! replicated broker groups instead of the one broker (see `dev_cluster`).

use std::io::Write as _;

use anyhow::Context;
use ferromq_broker::Broker;
use ferromq_namesrv::{NameServer, NameServerConfig};
use ferromq_net::{TlsClientConfig, TlsMode};

use crate::broker_cmd;
use crate::cli::DevArgs;
use crate::dev_cluster;
use crate::grpc;
use crate::http;
use crate::signals;

pub fn run(args: DevArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating {}", args.data_dir.display()))?;
    let mut broker_config = broker_cmd::load_config(args.config.as_deref())?;
    broker_config.store_root_dir = args.data_dir.join("broker");
    broker_config.listen = args.broker_listen;
    if args.tls != TlsMode::Disabled {
        broker_config.tls.mode = args.tls;
    }
    // The name server gets the broker's TLS settings, and the brokers register with it over TLS:
    // its certificate is self-signed unless configured, hence no verification by default.
    if broker_config.tls.mode != TlsMode::Disabled && broker_config.tls_client.is_none() {
        broker_config.tls_client = Some(TlsClientConfig::insecure_trust_all());
    }
    let ns_config = NameServerConfig {
        listen: args.namesrv_listen,
        kv_config_path: Some(args.data_dir.join("namesrv").join("kvConfig.json")),
        tls: broker_config.tls.clone(),
        ..NameServerConfig::default()
    };
    let tls_mode = broker_config.tls.mode;
    // The HTTP listener serves the remoting listener's certificate (`--http-tls`).
    let http_tls = broker_config.tls.clone();
    signals::runtime()?.block_on(async move {
        let ns_listener = ferromq_net::listen::bind(args.namesrv_listen)
            .with_context(|| format!("binding the name server to {}", args.namesrv_listen))?;
        let ns = NameServer::start(ns_config, ns_listener).context("starting the name server")?;
        broker_config.namesrv_addrs = vec![ns.local_addr().to_string()];
        if let Some(n) = args.cluster {
            let groups = match dev_cluster::start(&args, &broker_config, &ns, n).await {
                Ok(g) => g,
                Err(e) => {
                    ns.shutdown().await;
                    return Err(e);
                }
            };
            let signal = signals::ShutdownSignal::install()?;
            dev_cluster::print_ready(&ns, &groups, &args)?;
            let waited = signal.wait().await;
            dev_cluster::shutdown(groups).await;
            ns.shutdown().await;
            return waited;
        }
        let broker_listener = ferromq_net::listen::bind(args.broker_listen)
            .with_context(|| format!("binding the broker to {}", args.broker_listen))?;
        // `dev` serves gRPC on `--grpc-listen`; a given config may still name TLS files.
        let grpc_tls = grpc::tls_files(&broker_config);
        let broker = match Broker::start(broker_config, broker_listener).await {
            Ok(b) => b,
            Err(e) => {
                ns.shutdown().await;
                return Err(e).context("starting the broker");
            }
        };
        let grpc = match grpc::start(args.grpc_listen, grpc_tls, &broker) {
            Ok(g) => g,
            Err(e) => {
                broker.shutdown().await;
                ns.shutdown().await;
                return Err(e);
            }
        };
        // Loopback by default: the listener has no authentication.
        let http_listen = args.http_listen.unwrap_or_else(|| {
            let port = if args.broker_listen.port() == 0 {
                0
            } else {
                8080
            };
            std::net::SocketAddr::from(([127, 0, 0, 1], port))
        });
        let http = match http::start_tls(
            http_listen,
            ferromq_http::Target::Broker(broker.service()),
            &http_tls,
            args.http_tls,
        ) {
            Ok(h) => h,
            Err(e) => {
                grpc.shutdown().await;
                broker.shutdown().await;
                ns.shutdown().await;
                return Err(e);
            }
        };
        let signal = signals::ShutdownSignal::install()?;
        let mut out = std::io::stdout().lock();
        // Scripts parse `namesrv=` and `broker=`: new fields go at the end.
        writeln!(
            out,
            "ferromq dev ready: namesrv={} broker={} data={} grpc={} http={} tls={tls_mode} \
             http_tls={}",
            ns.local_addr(),
            broker.local_addr(),
            args.data_dir.display(),
            grpc.local_addr(),
            http.local_addr(),
            args.http_tls
        )?;
        out.flush()?;
        drop(out);
        let waited = signal.wait().await;
        http.shutdown().await;
        grpc.shutdown().await;
        broker.shutdown().await;
        ns.shutdown().await;
        waited
    })
}
