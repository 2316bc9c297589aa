//! The command line of `ferromq bench ...`: its subcommands and their options, and the parsers of
//! the byte counts and durations they take. The `ferromq` binary mounts [`BenchCommand`] as its
//! `bench` subcommand.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use ferromq_store::config::{FlushMode, IoMode};

pub use crate::net_args::NetBenchArgs;
pub use crate::pop_crash::PopCrashArgs;

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
    /// POP consumption across `kill -9`: run `ferromq dev` as a child, send and receive-and-ack
    /// over v5 gRPC while killing it with SIGKILL; count delivered, redelivered and lost messages.
    PopCrash(PopCrashArgs),
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

/// The `ferromq` command line cut down to its `bench` subcommand, so that tests parse the same
/// argument lists a user types.
#[cfg(test)]
#[derive(Debug, clap::Parser)]
#[command(name = "ferromq")]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[cfg(test)]
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    #[command(subcommand)]
    Bench(BenchCommand),
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
}
