//! The `ferromq` binary: parse the command line, set up logging, run one subcommand.
//!
//! - [`cli`]: the command-line shape (clap derive).
//! - [`namesrv_cmd`], [`broker_cmd`], [`dev`]: the servers, alone or together.
//! - [`signals`]: the runtime and the SIGINT/SIGTERM wait they share.
//! - [`bench`]: `ferromq bench ...`, measurements run by hand on a machine one cares about.
#![forbid(unsafe_code)]

mod bench;
mod broker_cmd;
mod cli;
mod dev;
mod namesrv_cmd;
mod signals;

use anyhow::Context;
use clap::Parser;
use tracing_subscriber::EnvFilter;

use crate::cli::{Cli, Command};

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_tracing(cli.log_level.as_deref())?;
    match cli.command {
        Command::Namesrv(args) => namesrv_cmd::run(args),
        Command::Broker(args) => broker_cmd::run(args),
        Command::Dev(args) => dev::run(args),
        Command::Bench(bench) => bench::run(bench),
    }
}

/// Logs go to stderr so that stdout carries only a command's output (a bench report, JSON, the
/// ready line of a server).
/// The filter is `--log-level` if given, else `RUST_LOG`, else `info`.
fn init_tracing(log_level: Option<&str>) -> anyhow::Result<()> {
    let filter = match log_level {
        Some(directives) => EnvFilter::try_new(directives)
            .with_context(|| format!("--log-level {directives:?} is not a valid filter"))?,
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    Ok(())
}
