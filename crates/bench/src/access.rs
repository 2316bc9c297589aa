//! How the network benches reach a secured cluster: `--access-key`/`--secret-key` sign every
//! request as RocketMQ's ACL clients do, `--tls` encrypts every connection (name servers and
//! brokers). The same choices as `ferromq admin`'s, so one cluster is reached the same way by both.

use std::path::PathBuf;

use anyhow::{bail, Context as _, Result};
use clap::Args;
use ferromq_auth::Credentials;
use ferromq_client::tls::{ClientTls, ServerTrust, TlsClientConfig};

/// The options of `bench produce|consume|e2e` that concern security.
#[derive(Debug, Clone, Default, Args)]
pub struct AccessArgs {
    /// Access key (user name) to sign every request with, for brokers with authentication on
    /// (`authenticationEnabled`). The user needs Pub on the topic (produce), Sub on the topic and
    /// the group (consume), and Cluster Create when the bench creates the topic.
    #[arg(long, value_name = "NAME", requires = "secret_key")]
    pub access_key: Option<String>,
    /// Secret key (password) of --access-key.
    #[arg(long, value_name = "SECRET", requires = "access_key")]
    pub secret_key: Option<String>,
    /// Connect with TLS (the servers' `tls.server.mode` must be permissive or enforcing). Needs
    /// --tls-ca or --tls-insecure.
    #[arg(long)]
    pub tls: bool,
    /// With --tls: PEM file of the CA the servers' certificates chain to.
    #[arg(long, value_name = "FILE", requires = "tls")]
    pub tls_ca: Option<PathBuf>,
    /// With --tls: accept any server certificate (a self-signed development server). The traffic
    /// is encrypted but the server is not authenticated: for testing only.
    #[arg(long, requires = "tls", conflicts_with = "tls_ca")]
    pub tls_insecure: bool,
}

/// [`AccessArgs`] with their files read: what every client of a run is configured with.
#[derive(Debug, Clone, Default)]
pub struct Access {
    pub credentials: Option<Credentials>,
    pub tls: Option<ClientTls>,
}

impl AccessArgs {
    /// Whether any option asks for more than a plaintext, unsigned connection.
    pub fn is_set(&self) -> bool {
        self.access_key.is_some() || self.tls
    }

    /// Reads the CA file, if any.
    ///
    /// # Errors
    /// `--tls` without a trust choice, an unreadable or unusable CA file.
    pub fn resolve(&self) -> Result<Access> {
        let credentials = match (&self.access_key, &self.secret_key) {
            (Some(ak), Some(sk)) => Some(Credentials::new(ak, sk)),
            _ => None,
        };
        let tls = if self.tls {
            let trust = match (&self.tls_ca, self.tls_insecure) {
                (Some(ca), _) => ServerTrust::CaFile(ca.clone()),
                (None, true) => ServerTrust::InsecureTrustAll,
                (None, false) => bail!(
                    "--tls needs to know which server certificates to trust: pass --tls-ca FILE \
                     (the CA's PEM) or, for a self-signed development server, --tls-insecure"
                ),
            };
            let config = TlsClientConfig {
                trust,
                cert_path: None,
                key_path: None,
            };
            Some(ClientTls::from_config(&config).context("TLS: check --tls-ca")?)
        } else {
            None
        };
        Ok(Access { credentials, tls })
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::args::{BenchCommand, Cli, Command};

    use super::*;

    fn parse(args: &[&str]) -> Result<AccessArgs, clap::Error> {
        let cli = Cli::try_parse_from(args)?;
        match cli.command {
            Command::Bench(
                BenchCommand::Produce(a) | BenchCommand::Consume(a) | BenchCommand::E2e(a),
            ) => Ok(a.access),
            other => panic!("a network bench expected, got {other:?}"),
        }
    }

    #[test]
    fn credentials_and_tls_parse_and_resolve() {
        let a = parse(&[
            "ferromq",
            "bench",
            "produce",
            "--access-key",
            "alice",
            "--secret-key",
            "alice-secret",
            "--tls",
            "--tls-insecure",
        ])
        .expect("parses");
        let access = a.resolve().expect("resolves");
        let credentials = access.credentials.expect("credentials");
        assert_eq!(credentials.access_key, "alice");
        assert_eq!(credentials.secret_key, "alice-secret");
        assert!(access.tls.is_some());

        let plain = parse(&["ferromq", "bench", "e2e"]).expect("defaults");
        assert!(!plain.is_set());
        let access = plain.resolve().expect("resolves");
        assert!(access.credentials.is_none() && access.tls.is_none());
    }

    #[test]
    fn incomplete_choices_are_refused() {
        for bad in [
            &["ferromq", "bench", "produce", "--access-key", "alice"][..],
            &["ferromq", "bench", "produce", "--secret-key", "s"],
            &["ferromq", "bench", "produce", "--tls-insecure"],
            &["ferromq", "bench", "produce", "--tls-ca", "ca.pem"],
            &[
                "ferromq",
                "bench",
                "produce",
                "--tls",
                "--tls-insecure",
                "--tls-ca",
                "ca.pem",
            ],
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be refused");
        }
        let no_trust = parse(&["ferromq", "bench", "consume", "--tls"]).expect("parses");
        let err = no_trust.resolve().expect_err("no trust choice");
        assert!(err.to_string().contains("--tls-insecure"), "{err}");
        let missing = parse(&[
            "ferromq",
            "bench",
            "consume",
            "--tls",
            "--tls-ca",
            "/nonexistent/ca.pem",
        ])
        .expect("parses");
        assert!(missing.resolve().is_err());
    }
}
