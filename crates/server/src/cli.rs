//! The command line: `ferromq [--log-level FILTER] <command> ...`.
//!
//! Only commands that work are listed. The admin tools join [`Command`] as they are built.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use ferromq_bench::BenchCommand;
use ferromq_net::TlsMode;

/// RocketMQ-compatible messaging and streaming in one small binary.
#[derive(Debug, Parser)]
#[command(name = "ferromq", version)]
pub struct Cli {
    /// Log filter, e.g. `info` or `ferromq_store=debug,info`; overrides RUST_LOG (default: info).
    #[arg(long, global = true, value_name = "FILTER")]
    pub log_level: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a name server.
    Namesrv(NamesrvArgs),
    /// Run a broker.
    Broker(BrokerArgs),
    /// Run a name server and a broker in one process, all data in one folder (for development).
    Dev(DevArgs),
    /// Measure parts of ferromq on this machine.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Administer a cluster: mqadmin's commands (`updateTopic`, `consumerProgress`, ...).
    Admin(ferromq_admin::AdminArgs),
    /// Run a failover controller (one member of the controller Raft group).
    Controller(crate::controller_cmd::ControllerArgs),
}

/// `ferromq namesrv`.
#[derive(Debug, Args)]
pub struct NamesrvArgs {
    /// Address to listen on [default: the config's `listen`, else 0.0.0.0:9876].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Name-server settings (TOML, keys as in `NameServerConfig`).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Serve `/metrics`, `/healthz` and `/readyz` over HTTP on this address [default: none].
    #[arg(long, value_name = "ADDR")]
    pub http_listen: Option<SocketAddr>,
    /// HTTPS on the HTTP listener, with the remoting port's certificate (the config's TLS
    /// certificate files, or a self-signed one generated at start): `disabled` (plaintext HTTP),
    /// `permissive` (HTTPS and plaintext HTTP on one port) or `enforcing` (HTTPS only).
    #[arg(long, value_name = "MODE", default_value = "disabled")]
    pub http_tls: TlsMode,
}

/// `ferromq broker`.
#[derive(Debug, Args)]
pub struct BrokerArgs {
    /// Broker settings: a RocketMQ `broker.conf` (Java key names), or TOML when the name ends in
    /// `.toml`.
    #[arg(long, short = 'c', value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Name servers, `;`-separated (overrides `namesrvAddr`).
    #[arg(long = "namesrv", short = 'n', value_name = "ADDRS")]
    pub namesrv: Option<String>,
    /// Address to listen on (overrides `listenPort`).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// HTTPS on the HTTP listener (`metricsListenPort`), with the remoting port's certificate
    /// (`tls.server.certPath`/`keyPath`, or a self-signed one generated at start): `disabled`
    /// (plaintext HTTP), `permissive` (HTTPS and plaintext HTTP on one port) or `enforcing`
    /// (HTTPS only).
    #[arg(long, value_name = "MODE", default_value = "disabled")]
    pub http_tls: TlsMode,
}

/// `ferromq dev`.
#[derive(Debug, Args)]
pub struct DevArgs {
    /// Folder holding everything: `namesrv/` and `broker/` (the store and its `config/`).
    #[arg(long, value_name = "DIR", default_value = "./ferromq-data")]
    pub data_dir: PathBuf,
    /// Name-server address; port 0 picks a free port.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9876")]
    pub namesrv_listen: SocketAddr,
    /// Broker address; port 0 picks a free port.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:10911")]
    pub broker_listen: SocketAddr,
    /// RocketMQ 5 gRPC endpoint address (TLS and plaintext on one port); port 0 picks a free port.
    /// With `--cluster`, every broker serves one: this port plus 10 per broker (all free ports
    /// when this port or the broker port is 0).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8081")]
    pub grpc_listen: SocketAddr,
    /// HTTP listener (`/metrics`, `/healthz`, `/readyz`) [default: 127.0.0.1:8080, or a free port
    /// on 127.0.0.1 when the broker port is 0]. Not served with `--cluster`.
    #[arg(long, value_name = "ADDR")]
    pub http_listen: Option<SocketAddr>,
    /// Broker settings to start from (broker.conf or TOML); the data folder, listen address and
    /// name server of `dev` take precedence.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Start N broker groups (`broker-a`, `broker-b`, ...) of two brokers each (ids 1 and 2) in
    /// controller mode, plus a failover controller, instead of one broker. Brokers listen on the
    /// broker port + 10 per broker (all free ports when it is 0); data in `<data-dir>/<group>-<id>`.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=26))]
    pub cluster: Option<u8>,
    /// With `--cluster`: `sync` answers a send once the replica holds it (SYNC_MASTER), `async`
    /// once the master stored it (ASYNC_MASTER).
    #[arg(long, value_enum, default_value_t = MasterRole::Sync, requires = "cluster")]
    pub master_role: MasterRole,
    /// With `--cluster`: the controller's address [default: port 9878 on the name server's IP,
    /// or a free port when the broker port is 0].
    #[arg(long, value_name = "ADDR", requires = "cluster")]
    pub controller_listen: Option<SocketAddr>,
    /// TLS on the name server's and brokers' remoting ports: `disabled`, `permissive` (TLS and
    /// plaintext on one port) or `enforcing` (TLS only), with the certificate of the broker
    /// config's `tls.server.*` settings or a self-signed one generated at start.
    #[arg(long, value_name = "MODE", default_value = "disabled")]
    pub tls: TlsMode,
    /// HTTPS on the HTTP listener, with the same certificate as the remoting ports (the broker
    /// config's `tls.server.*` files, or a self-signed one generated at start): `disabled`
    /// (plaintext HTTP), `permissive` (HTTPS and plaintext HTTP on one port) or `enforcing`
    /// (HTTPS only). Independent of `--tls`.
    #[arg(long, value_name = "MODE", default_value = "disabled")]
    pub http_tls: TlsMode,
}

/// `dev --master-role`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MasterRole {
    Sync,
    Async,
}

#[cfg(test)]
mod tests {
    use ferromq_bench::{FlushChoice, IoChoice, OutputFormat};
    use ferromq_store::config::{FlushMode, IoMode};

    use super::*;

    #[test]
    fn bench_store_defaults() {
        let cli = Cli::try_parse_from(["ferromq", "bench", "store"]).expect("defaults parse");
        let Command::Bench(BenchCommand::Store(args)) = cli.command else {
            panic!("bench store expected");
        };
        assert_eq!(args.sizes, vec![128, 1024, 4096]);
        assert_eq!(args.writers, vec![1, 8, 64]);
        assert_eq!(args.flush, FlushChoice::Both);
        assert_eq!(args.io, IoChoice::Auto);
        assert_eq!(args.segment_bytes, 1 << 30);
        assert!((args.seconds - 3.0).abs() < f64::EPSILON);
        assert_eq!(args.output, OutputFormat::Text);
        assert!(args.dir.is_none() && !args.keep);
    }

    #[test]
    fn lists_are_repeatable_or_comma_separated() {
        let cli = Cli::try_parse_from([
            "ferromq",
            "bench",
            "store",
            "--size",
            "128,1k",
            "--size",
            "4096",
            "--writers",
            "2,4",
            "--flush",
            "sync",
            "--io",
            "both",
            "--output",
            "json",
            "--log-level",
            "debug",
        ])
        .expect("flags parse");
        assert_eq!(cli.log_level.as_deref(), Some("debug"));
        let Command::Bench(BenchCommand::Store(args)) = cli.command else {
            panic!("bench store expected");
        };
        assert_eq!(args.sizes, vec![128, 1024, 4096]);
        assert_eq!(args.writers, vec![2, 4]);
        assert_eq!(args.flush.modes(), &[FlushMode::SyncFlush]);
        assert_eq!(args.io.modes(), &[IoMode::Pwrite, IoMode::Mmap]);
        assert_eq!(args.output, OutputFormat::Json);
    }

    #[test]
    fn server_commands_parse() {
        let cli = Cli::try_parse_from(["ferromq", "dev"]).expect("defaults");
        let Command::Dev(dev) = cli.command else {
            panic!("dev expected");
        };
        assert_eq!(dev.namesrv_listen.port(), 9876);
        assert_eq!(dev.broker_listen.port(), 10911);
        assert_eq!(dev.data_dir, PathBuf::from("./ferromq-data"));
        assert_eq!((dev.cluster, dev.master_role), (None, MasterRole::Sync));
        assert!(dev.controller_listen.is_none());
        assert_eq!(dev.tls, TlsMode::Disabled);
        let cli = Cli::try_parse_from(["ferromq", "dev", "--tls", "enforcing"]).expect("tls");
        assert!(matches!(cli.command, Command::Dev(d) if d.tls == TlsMode::Enforcing));
        let cli =
            Cli::try_parse_from(["ferromq", "dev", "--http-tls", "permissive"]).expect("http tls");
        assert!(matches!(cli.command, Command::Dev(d) if d.http_tls == TlsMode::Permissive));
        assert!(Cli::try_parse_from(["ferromq", "dev", "--tls", "strict"]).is_err());
        let cli =
            Cli::try_parse_from(["ferromq", "dev", "--cluster", "2", "--master-role", "async"])
                .expect("cluster");
        let Command::Dev(dev) = cli.command else {
            panic!("dev expected");
        };
        assert_eq!((dev.cluster, dev.master_role), (Some(2), MasterRole::Async));
        assert!(Cli::try_parse_from(["ferromq", "dev", "--master-role", "async"]).is_err());
        let cli = Cli::try_parse_from([
            "ferromq",
            "dev",
            "--cluster",
            "1",
            "--controller-listen",
            "127.0.0.1:0",
        ])
        .expect("controller address");
        let Command::Dev(dev) = cli.command else {
            panic!("dev expected");
        };
        assert_eq!(dev.controller_listen.map(|a| a.port()), Some(0));
        assert!(
            Cli::try_parse_from(["ferromq", "dev", "--controller-listen", "127.0.0.1:0"]).is_err(),
            "a controller only comes with --cluster"
        );
        let cli = Cli::try_parse_from([
            "ferromq",
            "broker",
            "--config",
            "broker.conf",
            "-n",
            "127.0.0.1:9876",
        ])
        .expect("broker args");
        let Command::Broker(b) = cli.command else {
            panic!("broker expected");
        };
        assert_eq!(b.namesrv.as_deref(), Some("127.0.0.1:9876"));
        let cli = Cli::try_parse_from(["ferromq", "namesrv", "--listen", "127.0.0.1:0"])
            .expect("namesrv args");
        assert!(matches!(cli.command, Command::Namesrv(n) if n.listen.is_some()));
    }

    #[test]
    fn bad_values_are_refused() {
        for bad in [
            &["ferromq", "bench", "store", "--writers", "0"][..],
            &["ferromq", "bench", "store", "--seconds", "0"],
            &["ferromq", "bench", "store", "--flush", "maybe"],
            &["ferromq", "bench", "store", "--size", "12X"],
        ] {
            assert!(
                Cli::try_parse_from(bad).is_err(),
                "{bad:?} should be refused"
            );
        }
    }
}
