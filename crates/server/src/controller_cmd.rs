//! `ferromq controller`: one failover controller (a member of the controller Raft group) until
//! SIGINT/SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use ferromq_controller::{Controller, ControllerConfig, Peer};

use crate::http;
use crate::signals;

/// `ferromq controller`.
#[derive(Debug, Args)]
pub struct ControllerArgs {
    /// Settings file (TOML, keys as in `ControllerConfig`); the flags below override it.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// This controller's id in the Raft group.
    #[arg(long, value_name = "ID")]
    pub id: Option<u64>,
    /// Address to listen on [default: this id's address in --peers, else 0.0.0.0:9878].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Every controller of the group, this one included: `1@host:port,2@host:port,...`.
    /// Without peers the controller runs alone.
    #[arg(long, value_name = "PEERS", value_delimiter = ',')]
    pub peers: Option<Vec<Peer>>,
    /// Folder of the Raft log, vote and snapshot.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Milliseconds without heartbeat after which a master is replaced.
    #[arg(long, value_name = "MS")]
    pub master_timeout_ms: Option<u64>,
    /// Elect an out-of-sync replica when no in-sync one is alive (may lose acknowledged messages).
    #[arg(long)]
    pub enable_elect_unclean_master: bool,
    /// Serve `/metrics` (the process's), `/healthz` and `/readyz` over HTTP on this address
    /// [default: none].
    #[arg(long, value_name = "ADDR")]
    pub http_listen: Option<SocketAddr>,
    /// HTTPS on the HTTP listener, with the certificate of the `[tls]` settings (or a self-signed
    /// one generated at start): `disabled`, `permissive` (HTTPS and plaintext HTTP on one port)
    /// or `enforcing` (HTTPS only).
    #[arg(long, value_name = "MODE", default_value = "disabled")]
    pub http_tls: ferromq_net::TlsMode,
}

fn load_config(args: &ControllerArgs) -> anyhow::Result<ControllerConfig> {
    let mut config = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?
        }
        None => ControllerConfig::default(),
    };
    if let Some(id) = args.id {
        config.node_id = id;
    }
    if let Some(peers) = &args.peers {
        config.controller_peers.clone_from(peers);
    }
    if let Some(data) = &args.data {
        config.data_dir.clone_from(data);
    }
    if let Some(ms) = args.master_timeout_ms {
        config.master_timeout = Duration::from_millis(ms);
    }
    if args.enable_elect_unclean_master {
        config.enable_elect_unclean_master = true;
    }
    config
        .validate()
        .context("invalid controller configuration")?;
    Ok(config)
}

fn listen_addr(args: &ControllerArgs, config: &ControllerConfig) -> anyhow::Result<SocketAddr> {
    if let Some(listen) = args.listen {
        return Ok(listen);
    }
    match config
        .controller_peers
        .iter()
        .find(|p| p.id == config.node_id)
    {
        Some(me) => me
            .addr
            .parse()
            .with_context(|| format!("peer address {} is not ip:port; pass --listen", me.addr)),
        None => Ok(SocketAddr::from(([0, 0, 0, 0], 9878))),
    }
}

pub fn run(args: ControllerArgs) -> anyhow::Result<()> {
    let config = load_config(&args)?;
    let listen = listen_addr(&args, &config)?;
    tracing::info!(?config, "controller configuration");
    signals::runtime()?.block_on(async move {
        let listener =
            ferromq_net::listen::bind(listen).with_context(|| format!("binding {listen}"))?;
        let data = config.data_dir.display().to_string();
        let tls = config.tls.clone();
        let controller = Controller::start(config, listener)
            .await
            .context("starting the controller")?;
        let (http, http_field) = match http::start_process(args.http_listen, &tls, args.http_tls) {
            Ok(started) => started,
            Err(e) => {
                controller.shutdown().await;
                return Err(e);
            }
        };
        let signal = signals::ShutdownSignal::install()?;
        println!(
            "ferromq controller ready: id={} listen={} data={data}{http_field}",
            controller.node_id(),
            controller.local_addr()
        );
        let waited = signal.wait().await;
        if let Some(h) = http {
            h.shutdown().await;
        }
        controller.shutdown().await;
        waited
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: ControllerArgs,
    }

    #[test]
    fn flags_build_the_config_and_the_listen_address() {
        let w = Wrapper::parse_from([
            "x",
            "--id",
            "2",
            "--peers",
            "1@127.0.0.1:9878,2@127.0.0.1:9879,3@127.0.0.1:9880",
            "--data",
            "/tmp/c2",
            "--master-timeout-ms",
            "2500",
        ]);
        let config = load_config(&w.args).expect("config");
        assert_eq!(config.node_id, 2);
        assert_eq!(config.controller_peers.len(), 3);
        assert_eq!(config.master_timeout, Duration::from_millis(2500));
        assert_eq!(
            listen_addr(&w.args, &config).expect("listen"),
            "127.0.0.1:9879".parse::<SocketAddr>().expect("addr")
        );
        let toml_config: ControllerConfig = toml::from_str(
            "node_id = 3\ncontroller_peers = [\"1@h:1\", \"3@h:3\"]\nmaster_timeout = 4000\n",
        )
        .expect("toml");
        assert_eq!(toml_config.controller_peers[1].addr, "h:3");
        assert_eq!(toml_config.master_timeout, Duration::from_secs(4));
        assert!(toml::from_str::<ControllerConfig>("no_such_key = 1").is_err());
        // The TLS tables security.md documents.
        let tls: ControllerConfig = toml::from_str(
            "[tls]\nmode = \"enforcing\"\ncert_path = \"c.pem\"\nkey_path = \"k.pem\"\n\
             [tls_client]\ntrust = { ca_file = \"ca.pem\" }\n",
        )
        .expect("tls toml");
        assert_eq!(tls.tls.mode, ferromq_net::TlsMode::Enforcing);
        assert_eq!(
            tls.tls.cert_path.as_deref(),
            Some(std::path::Path::new("c.pem"))
        );
        assert_eq!(
            tls.tls_client.map(|c| c.trust),
            Some(ferromq_net::tls::ServerTrust::CaFile("ca.pem".into()))
        );
        let trust_all: ControllerConfig =
            toml::from_str("[tls_client]\ntrust = \"insecure_trust_all\"\n").expect("trust all");
        assert_eq!(
            trust_all.tls_client.map(|c| c.trust),
            Some(ferromq_net::tls::ServerTrust::InsecureTrustAll)
        );
        let bad = Wrapper::parse_from(["x", "--id", "4", "--peers", "1@127.0.0.1:9878"]);
        assert!(load_config(&bad.args).is_err());
    }
}
