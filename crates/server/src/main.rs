//! The `ferromq` binary: parse the command line, set up logging, run one subcommand.
//!
//! - [`cli`]: the command-line shape (clap derive).
//! - [`namesrv_cmd`], [`broker_cmd`], [`dev`]: the servers, alone or together.
//! - [`controller_cmd`]: one failover controller.
//! - [`signals`]: the runtime and the SIGINT/SIGTERM wait they share.
//! - [`limits`]: the descriptor limit, raised for the servers.
//!
//! `ferromq bench ...` lives in the `ferromq-bench` crate; this binary only mounts its command line.
#![forbid(unsafe_code)]

mod broker_cmd;
mod cli;
mod controller_cmd;
mod dev;
mod dev_cluster;
mod grpc;
mod http;
mod limits;
mod namesrv_cmd;
mod signals;

use anyhow::Context;
use clap::Parser;
use tracing_subscriber::EnvFilter;

use crate::cli::{Cli, Command};

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // Admin commands print results on stdout; only warnings belong next to them on stderr.
    let default_level = match cli.command {
        Command::Admin(_) => "warn",
        // openraft narrates every vote and heartbeat at info.
        Command::Controller(_) => "info,openraft=warn",
        _ => "info",
    };
    init_tracing(cli.log_level.as_deref(), default_level)?;
    if matches!(
        cli.command,
        Command::Namesrv(_) | Command::Broker(_) | Command::Dev(_) | Command::Controller(_)
    ) {
        limits::raise_descriptor_limit();
    }
    match cli.command {
        Command::Namesrv(args) => namesrv_cmd::run(args),
        Command::Broker(args) => broker_cmd::run(args),
        Command::Dev(args) => dev::run(args),
        Command::Bench(bench) => ferromq_bench::run(bench, signals::shutdown_signal()),
        Command::Admin(args) => std::process::exit(ferromq_admin::run_blocking(args)),
        Command::Controller(args) => controller_cmd::run(args),
    }
}

/// Logs go to stderr so that stdout carries only a command's output (a bench report, JSON, the
/// ready line of a server).
/// The filter is `--log-level` if given, else `RUST_LOG`, else `default_level`.
fn init_tracing(log_level: Option<&str>, default_level: &str) -> anyhow::Result<()> {
    let filter = match log_level {
        Some(directives) => EnvFilter::try_new(directives)
            .with_context(|| format!("--log-level {directives:?} is not a valid filter"))?,
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level)),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    Ok(())
}
