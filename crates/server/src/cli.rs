//! The command line: `ferromq [--log-level FILTER] <command> ...`.
//!
//! Only commands that work are listed. The admin tools join [`Command`] as they are built.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use ferromq_store::config::{FlushMode, IoMode};

pub use crate::bench::NetBenchArgs;

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
}

/// `dev --master-role`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MasterRole {
    Sync,
    Async,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Append throughput and latency of the storage engine, next to what the disk itself does.
    Store(StoreBenchArgs),
    /// Send load to any RocketMQ-compatible cluster and measure the send latency.
    Produce(NetBenchArgs),
    /// Consume a topic as a consumer group and measure the receive rate.
    Consume(NetBenchArgs),
    /// Produce and consume at once; measure send → receipt latency, lost and duplicate messages.
    E2e(NetBenchArgs),
}

/// `ferromq bench store`: one case per (io, flush, size, writers) combination, each on a fresh store.
#[derive(Debug, Args)]
pub struct StoreBenchArgs {
    /// Folder for the stores and the disk probes [default: a new `target/bench-store-*` folder
    /// under the current one, removed at the end unless --keep].
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Keep the stores and files the benchmark wrote.
    #[arg(long)]
    pub keep: bool,
    /// Flush mode of the store: acknowledge after the page cache (async) or after fdatasync (sync).
    #[arg(long, value_enum, default_value_t = FlushChoice::Both)]
    pub flush: FlushChoice,
    /// Message body size; repeat the flag or give a comma list. Accepts K/KiB and M/MiB suffixes.
    #[arg(
        long = "size",
        value_name = "BYTES",
        value_delimiter = ',',
        value_parser = parse_body_size,
        default_values = ["128", "1024", "4096"],
    )]
    pub sizes: Vec<usize>,
    /// Concurrent writer threads; repeat the flag or give a comma list.
    #[arg(
        long,
        value_name = "N",
        value_delimiter = ',',
        value_parser = clap::value_parser!(u32).range(1..=4096),
        default_values = ["1", "8", "64"],
    )]
    pub writers: Vec<u32>,
    /// How long each case appends, in seconds.
    #[arg(long, value_name = "S", default_value_t = 3.0, value_parser = parse_seconds)]
    pub seconds: f64,
    /// How the commit log writes its segment files (`auto`: the store's default, mmap under
    /// ASYNC_FLUSH and pwrite under SYNC_FLUSH).
    #[arg(long, value_enum, default_value_t = IoChoice::Auto)]
    pub io: IoChoice,
    /// Bytes per commit-log segment file. Accepts K/KiB, M/MiB and G/GiB suffixes.
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes, default_value = "1GiB")]
    pub segment_bytes: u64,
    /// Report format on stdout (logs and progress go to stderr).
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    /// What a writer is: a task on a tokio runtime (one worker per core) awaiting each append's
    /// durability, as the broker's send handlers do (the default), or a thread blocking on it.
    #[arg(long, value_enum, default_value_t = WriterDriver::Tasks)]
    pub driver: WriterDriver,
}

/// `bench store --driver`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WriterDriver {
    Threads,
    Tasks,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FlushChoice {
    Async,
    Sync,
    Both,
}

impl FlushChoice {
    /// The flush modes to run, in report order.
    pub fn modes(self) -> &'static [FlushMode] {
        match self {
            FlushChoice::Async => &[FlushMode::AsyncFlush],
            FlushChoice::Sync => &[FlushMode::SyncFlush],
            FlushChoice::Both => &[FlushMode::AsyncFlush, FlushMode::SyncFlush],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum IoChoice {
    Auto,
    Pwrite,
    Mmap,
    /// Run every case once per I/O mode, to compare them.
    Both,
}

impl IoChoice {
    /// The I/O modes to run, in report order.
    pub fn modes(self) -> &'static [IoMode] {
        match self {
            IoChoice::Auto => &[IoMode::Auto],
            IoChoice::Pwrite => &[IoMode::Pwrite],
            IoChoice::Mmap => &[IoMode::Mmap],
            IoChoice::Both => &[IoMode::Pwrite, IoMode::Mmap],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

/// A byte count: digits with an optional binary suffix (`K`/`KiB`, `M`/`MiB`, `G`/`GiB`, any case).
fn parse_bytes(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, suffix) = text.split_at(digits_end);
    let number: u64 = digits
        .parse()
        .map_err(|_| format!("{text:?} is not a byte count"))?;
    let unit: u64 = match suffix.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        other => return Err(format!("unknown size suffix {other:?} (use K, M or G)")),
    };
    number
        .checked_mul(unit)
        .ok_or_else(|| format!("{text:?} is too large"))
}

/// A message body size: a byte count of at least one byte that fits in memory.
pub(crate) fn parse_body_size(text: &str) -> Result<usize, String> {
    let bytes = parse_bytes(text)?;
    if bytes == 0 {
        return Err("a body size must be at least 1 byte".into());
    }
    usize::try_from(bytes).map_err(|_| format!("{text:?} is too large"))
}

pub(crate) fn parse_seconds(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(s) if s.is_finite() && s > 0.0 && s <= 86_400.0 => Ok(s),
        _ => Err(format!(
            "{text:?} is not a number of seconds between 0 and 86400"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_counts_take_binary_suffixes() {
        assert_eq!(parse_bytes("4096"), Ok(4096));
        assert_eq!(parse_bytes("4k"), Ok(4096));
        assert_eq!(parse_bytes("64MiB"), Ok(64 << 20));
        assert_eq!(parse_bytes("1GiB"), Ok(1 << 30));
        assert!(parse_bytes("1TiB").is_err());
        assert!(parse_bytes("").is_err());
        assert!(parse_bytes("-1").is_err());
        assert!(parse_bytes("99999999999999G").is_err());
        assert!(parse_body_size("0").is_err());
    }

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
