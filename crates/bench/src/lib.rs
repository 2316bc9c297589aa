//! `ferromq bench ...`: measurements a person runs by hand on a machine they care about. The
//! `ferromq` binary parses [`BenchCommand`] as its `bench` subcommand and calls [`run`].
//!
//! - [`args`]: the subcommands and their options.
//! - [`store`]: append cases against the storage engine, in process, no network.
//! - [`disk_limits`]: what the disk does on its own, the yardstick for the store.
//! - [`report`]: the text table or JSON, and the target ratios.
//!
//! The network benches speak the RocketMQ protocol through ferromq's own client, so they measure
//! any compatible cluster the same way:
//! - [`produce`], [`consume`], [`e2e`]: the three modes (senders, consumers, both at once);
//! - [`net_args`]: their options; [`topic`]: creating the bench topic;
//! - [`stamp`]: the run id, sequence number and due time at the start of each body;
//! - [`meter`]: live counters, latency histograms and the progress line; [`cpu`]: the bench's own
//!   CPU time; [`net_report`]: the summary.
#![forbid(unsafe_code)]

pub mod args;
mod consume;
mod cpu;
mod disk_limits;
mod e2e;
mod meter;
mod net_args;
mod net_report;
mod produce;
mod report;
mod stamp;
mod store;
mod topic;

use std::future::Future;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use serde::Serializer;
use tokio_util::sync::CancellationToken;

pub use self::args::{
    BenchCommand, FlushChoice, IoChoice, OutputFormat, StoreBenchArgs, WriterDriver,
};
pub use self::net_args::NetBenchArgs;
use self::net_report::Summary;

/// Runs one benchmark command, printing its report on stdout.
///
/// `interrupt` resolves with `Ok` when the user asks to stop (the binary passes its Ctrl-C/SIGTERM
/// wait, so signal handling stays in one place). It is polled on the network benches' runtime,
/// and ends them early: sends stop, and the summary covers what was done. `bench store` runs its
/// fixed cases to the end and ignores it.
///
/// # Errors
/// Whatever stopped the bench: bad arguments, an unreachable cluster, a failing store or disk.
pub fn run<I>(command: BenchCommand, interrupt: I) -> anyhow::Result<()>
where
    I: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    match command {
        BenchCommand::Store(args) => store::run(&args),
        BenchCommand::Produce(args) => {
            run_net(&args, interrupt, |stop| produce::bench(&args, stop))
        }
        BenchCommand::Consume(args) => {
            run_net(&args, interrupt, |stop| consume::bench(&args, stop))
        }
        BenchCommand::E2e(args) => run_net(&args, interrupt, |stop| e2e::bench(&args, stop)),
    }
}

/// Runs a network bench on a multi-threaded runtime and prints its summary; `interrupt` ends the
/// run early.
fn run_net<I, F, Fut>(args: &NetBenchArgs, interrupt: I, bench: F) -> anyhow::Result<()>
where
    I: Future<Output = anyhow::Result<()>> + Send + 'static,
    F: FnOnce(CancellationToken) -> Fut,
    Fut: Future<Output = anyhow::Result<Summary>>,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    let summary = runtime.block_on(async {
        let stop = CancellationToken::new();
        let watcher = tokio::spawn({
            let stop = stop.clone();
            async move {
                if interrupt.await.is_ok() {
                    stop.cancel();
                }
            }
        });
        let summary = bench(stop).await;
        watcher.abort();
        summary
    })?;
    match args.output {
        OutputFormat::Text => print!("{}", summary.to_text()),
        OutputFormat::Json => println!("{}", summary.to_json()?),
    }
    Ok(())
}

/// A random id that tells this run's messages from any other's.
fn new_run_id() -> u64 {
    let bytes = random_bytes(8);
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes);
    u64::from_le_bytes(word) ^ u64::from(std::process::id())
}

/// `len` pseudo-random bytes (splitmix64, seeded from the clock), so neither a compressing file system
/// nor a deduplicating disk can shortcut the writes.
fn random_bytes(len: usize) -> Vec<u8> {
    let mut state = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0x9E37_79B9_7F4A_7C15, |d| d.as_nanos() as u64);
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Floats in the JSON report carry at most three decimals; more would be noise.
#[allow(clippy::trivially_copy_pass_by_ref)] // serde's `serialize_with` passes a reference
fn rounded<S: Serializer>(value: &f64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64((value * 1000.0).round() / 1000.0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn random_bytes_have_the_asked_length_and_vary() {
        for len in [0, 1, 7, 8, 4097] {
            assert_eq!(super::random_bytes(len).len(), len);
        }
        let bytes = super::random_bytes(4096);
        let zeros = bytes.iter().filter(|b| **b == 0).count();
        assert!(zeros < 100, "{zeros} zero bytes in 4096 random ones");
    }
}
