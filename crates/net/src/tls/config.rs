//! The TLS settings of a listener and of a client, as RocketMQ names them (`tls.server.mode`,
//! `tls.server.certPath`, ...; see `TlsSystemConfig` in RocketMQ's remoting module). Plain data:
//! [`ServerTls`](super::ServerTls) and [`ClientTls`](super::ClientTls) read the files.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::TlsError;

/// `tls.server.mode`: what a listener accepts.
///
/// ferromq's default is `disabled`, where RocketMQ's is `permissive`: every RocketMQ client
/// connects in plaintext unless told otherwise (`tls.enable=false` by default), and without a
/// configured certificate permissive mode can only present a self-signed one, which authenticates
/// nobody. Turning TLS on is a decision that comes with a certificate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TlsMode {
    /// Plaintext only; a TLS handshake fails as a malformed frame and the connection closes.
    #[default]
    Disabled,
    /// TLS and plaintext on one port: a first byte of 0x16 (a TLS handshake record) means TLS.
    Permissive,
    /// TLS only: a connection whose first byte is not a handshake is closed.
    Enforcing,
}

impl FromStr for TlsMode {
    type Err = TlsError;

    fn from_str(s: &str) -> Result<Self, TlsError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "disabled" => Ok(Self::Disabled),
            "permissive" => Ok(Self::Permissive),
            "enforcing" => Ok(Self::Enforcing),
            _ => Err(TlsError::Config(format!(
                "tls mode {s:?}: expected disabled, permissive or enforcing"
            ))),
        }
    }
}

impl fmt::Display for TlsMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Disabled => "disabled",
            Self::Permissive => "permissive",
            Self::Enforcing => "enforcing",
        })
    }
}

/// `tls.server.need.client.auth`: whether TLS clients must present a certificate signed by the
/// trusted CA (`tls.server.trustCertPath`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientAuth {
    /// No client certificate is asked for.
    #[default]
    None,
    /// A client certificate is asked for and verified when sent; clients without one are served.
    Optional,
    /// TLS clients without a valid certificate fail the handshake.
    Require,
}

impl FromStr for ClientAuth {
    type Err = TlsError;

    fn from_str(s: &str) -> Result<Self, TlsError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" => Ok(Self::None),
            "optional" => Ok(Self::Optional),
            "require" => Ok(Self::Require),
            _ => Err(TlsError::Config(format!(
                "client auth {s:?}: expected none, optional or require"
            ))),
        }
    }
}

/// A listener's TLS settings (TOML: snake_case keys of a `[tls]` table).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TlsServerConfig {
    /// `tls.server.mode`.
    pub mode: TlsMode,
    /// `tls.server.certPath`: PEM certificate chain. Unset (with the key): a self-signed
    /// certificate for `localhost` and the loopback addresses is generated at start.
    pub cert_path: Option<PathBuf>,
    /// `tls.server.keyPath`: PEM private key (PKCS#8, PKCS#1 or SEC1), unencrypted.
    pub key_path: Option<PathBuf>,
    /// `tls.server.trustCertPath`: PEM CA certificates that client certificates must chain to.
    pub trust_cert_path: Option<PathBuf>,
    /// `tls.server.need.client.auth`.
    pub need_client_auth: ClientAuth,
}

impl TlsServerConfig {
    /// Checks the combinations that cannot work (files are read by [`super::ServerTls::new`]).
    ///
    /// # Errors
    /// `Config` naming the setting.
    pub fn validate(&self) -> Result<(), TlsError> {
        if self.cert_path.is_some() != self.key_path.is_some() {
            return Err(TlsError::Config(
                "tls.server.certPath and tls.server.keyPath are given together or not at all"
                    .into(),
            ));
        }
        if self.need_client_auth != ClientAuth::None && self.trust_cert_path.is_none() {
            return Err(TlsError::Config(format!(
                "tls.server.need.client.auth={} needs tls.server.trustCertPath (the CA that \
                 signs client certificates)",
                match self.need_client_auth {
                    ClientAuth::Optional => "optional",
                    _ => "require",
                }
            )));
        }
        Ok(())
    }
}

/// How a client decides to trust the server's certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerTrust {
    /// The server's chain must lead to a CA of this PEM file and name the host dialled.
    CaFile(PathBuf),
    /// Any certificate is accepted: the traffic is encrypted but the server is not authenticated,
    /// so an active attacker can read it. For self-signed development servers only (what
    /// RocketMQ's Java client does with `tls.client.authServer=false`, its default).
    InsecureTrustAll,
}

/// A client's TLS settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsClientConfig {
    /// `tls.client.trustCertPath` (with `tls.client.authServer=true`), or trust-all.
    pub trust: ServerTrust,
    /// `tls.client.certPath`: the client certificate chain, for servers that ask for one.
    #[serde(default)]
    pub cert_path: Option<PathBuf>,
    /// `tls.client.keyPath`.
    #[serde(default)]
    pub key_path: Option<PathBuf>,
}

impl TlsClientConfig {
    /// Verifies the server against the CA certificates in `ca`.
    #[must_use]
    pub fn trusting(ca: impl Into<PathBuf>) -> Self {
        Self {
            trust: ServerTrust::CaFile(ca.into()),
            cert_path: None,
            key_path: None,
        }
    }

    /// Accepts any server certificate; see [`ServerTrust::InsecureTrustAll`].
    #[must_use]
    pub fn insecure_trust_all() -> Self {
        Self {
            trust: ServerTrust::InsecureTrustAll,
            cert_path: None,
            key_path: None,
        }
    }
}
