//! `ferromq admin`: the operator's commands, named and flagged like RocketMQ's `mqadmin`
//! (`updateTopic -c DefaultCluster -t Orders`, `consumerProgress -g G`, ...), run through
//! [`ferromq_client::admin::Admin`].
//!
//! Layout:
//!
//! - [`cli`]: the command line (clap derive): [`AdminArgs`], one variant per command;
//!   [`auth_cli`]: the arguments of the user and ACL commands.
//! - `commands/`: what each command does, returning a [`report::Report`] (topics, clusters and
//!   brokers, consumer groups, messages, offsets).
//! - [`report`]: a command's result as a table for people and JSON with stable field names.
//! - [`table`]: plain-text table rendering.
//! - [`error`]: [`Failure`] and the exit codes: 0 ok, 2 usage, 3 not found, 4 server or connection.
#![forbid(unsafe_code)]

pub mod auth_cli;
pub mod cli;
mod commands;
pub mod error;
pub mod report;
pub mod table;
mod time;

use std::io::Write as _;
use std::time::Duration;

use ferromq_client::admin::{Admin, AdminConfig};
use ferromq_client::tls::{ClientTls, ServerTrust, TlsClientConfig};

pub use cli::{AdminArgs, OutputFormat};
pub use error::Failure;

/// Runs one admin command to completion on its own runtime, printing the result to stdout and any
/// failure (with what to do next) to stderr. Returns the process exit code.
#[must_use]
pub fn run_blocking(args: AdminArgs) -> i32 {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return error::EXIT_SERVER;
        }
    };
    runtime.block_on(run(args))
}

/// Runs one admin command; see [`run_blocking`].
pub async fn run(args: AdminArgs) -> i32 {
    let format = args.output;
    match execute(args).await {
        Ok(report) => {
            let text = match format {
                OutputFormat::Table => report.table,
                OutputFormat::Json => {
                    serde_json::to_string_pretty(&report.json).unwrap_or_default() + "\n"
                }
            };
            let mut out = std::io::stdout().lock();
            // A closed stdout (`| head`) is not worth a failure code.
            let _ = out.write_all(text.as_bytes());
            let _ = out.flush();
            error::EXIT_OK
        }
        Err(f) => {
            eprintln!("error: {f}");
            if let Some(hint) = f.hint() {
                eprintln!("hint: {hint}");
            }
            f.exit_code()
        }
    }
}

/// The TLS settings `--tls` and its companions ask for.
fn client_tls(args: &cli::TlsArgs) -> Result<Option<ClientTls>, Failure> {
    if !args.tls {
        return Ok(None);
    }
    let trust = match (&args.tls_ca, args.tls_insecure) {
        (Some(ca), _) => ServerTrust::CaFile(ca.clone()),
        (None, true) => ServerTrust::InsecureTrustAll,
        (None, false) => {
            return Err(Failure::usage(
                "--tls needs to know which server certificates to trust",
                "pass --tls-ca FILE (the CA's PEM) or, for a self-signed development server, --tls-insecure",
            ))
        }
    };
    let config = TlsClientConfig {
        trust,
        cert_path: args.tls_cert.clone(),
        key_path: args.tls_key.clone(),
    };
    ClientTls::from_config(&config)
        .map(Some)
        .map_err(|e| Failure::usage(format!("TLS: {e}"), "check the --tls-* files"))
}

/// Runs one admin command and returns its result instead of printing it.
///
/// # Errors
/// The command's [`Failure`].
pub async fn execute(args: AdminArgs) -> Result<report::Report, Failure> {
    let namesrv_addrs: Vec<String> = args
        .namesrv_addr
        .split(';')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
        .collect();
    if namesrv_addrs.is_empty() {
        return Err(Failure::usage(
            "no name server address",
            "pass -n 127.0.0.1:9876 or set NAMESRV_ADDR",
        ));
    }
    let credentials = match (&args.access_key, &args.secret_key) {
        (Some(ak), Some(sk)) => Some(ferromq_auth::Credentials::new(ak, sk)),
        _ => None,
    };
    let admin = Admin::start_signed(
        AdminConfig {
            namesrv_addrs,
            timeout: Duration::from_millis(args.timeout_ms),
            tls: client_tls(&args.tls)?,
        },
        credentials,
    )
    .await
    .map_err(|e| Failure::from_client(e, &args.namesrv_addr))?;
    let result = commands::run(&admin, &args).await;
    admin.shutdown().await;
    result
}
