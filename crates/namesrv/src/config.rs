//! `NameServerConfig`: the one settings struct of the name server.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

pub use ferromq_auth::inner::InnerCredentials;
use ferromq_net::tls::{TlsError, TlsServerConfig};
use serde::{Deserialize, Serialize};

/// Name-server settings. Durations are written in milliseconds (`*_ms` keys).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NameServerConfig {
    /// Where the binary binds; [`crate::NameServer::start`] takes an already bound listener.
    pub listen: SocketAddr,
    /// A broker not heard from for this long is removed, unless its registration asks for another
    /// timeout (`heartbeatTimeoutMillis`). Java: 120 s.
    #[serde(rename = "broker_expiry_ms", with = "millis")]
    pub broker_expiry: Duration,
    /// How often expired brokers are looked for. Java: 5 s.
    #[serde(rename = "scan_interval_ms", with = "millis")]
    pub scan_interval: Duration,
    /// Where KV config is persisted (Java: `~/namesrv/kvConfig.json`); `None` keeps it in memory.
    pub kv_config_path: Option<PathBuf>,
    /// TLS on the listener (`[tls]`: `mode`, `cert_path`, `key_path`, `trust_cert_path`,
    /// `need_client_auth`; RocketMQ's `tls.server.*`). Disabled by default, see `ferromq_net::TlsMode`.
    pub tls: TlsServerConfig,
    /// Route and KV changes (REGISTER_BROKER, UNREGISTER_BROKER, PUT_KV_CONFIG, ...) must be
    /// signed with [`Self::inner_client_authentication_credentials`] (see `crate::auth`). Off by
    /// default, as Apache's name server never checks.
    #[serde(alias = "authenticationEnabled")]
    pub authentication_enabled: bool,
    /// The user the brokers sign their own requests with: the same
    /// `innerClientAuthenticationCredentials` as in their `broker.conf`.
    #[serde(alias = "innerClientAuthenticationCredentials")]
    pub inner_client_authentication_credentials: Option<InnerCredentials>,
}

impl Default for NameServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::UNSPECIFIED, 9876)),
            broker_expiry: Duration::from_secs(120),
            scan_interval: Duration::from_secs(5),
            kv_config_path: None,
            tls: TlsServerConfig::default(),
            authentication_enabled: false,
            inner_client_authentication_credentials: None,
        }
    }
}

/// Why a configuration is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{0} must be greater than zero")]
    Zero(&'static str),
    #[error("scan_interval ({scan:?}) must not exceed broker_expiry ({expiry:?})")]
    ScanSlowerThanExpiry { scan: Duration, expiry: Duration },
    #[error("tls: {0}")]
    Tls(#[from] TlsError),
    #[error("authentication_enabled needs inner_client_authentication_credentials (the brokers' innerClientAuthenticationCredentials)")]
    MissingInnerCredentials,
    #[error("inner_client_authentication_credentials: {0}")]
    Credentials(String),
}

impl NameServerConfig {
    /// Checks the settings that cannot work.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the offending setting.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.broker_expiry.is_zero() {
            return Err(ConfigError::Zero("broker_expiry"));
        }
        if self.scan_interval.is_zero() {
            return Err(ConfigError::Zero("scan_interval"));
        }
        if self.scan_interval > self.broker_expiry {
            return Err(ConfigError::ScanSlowerThanExpiry {
                scan: self.scan_interval,
                expiry: self.broker_expiry,
            });
        }
        self.tls.validate()?;
        crate::auth::BrokerAuth::new(
            self.authentication_enabled,
            self.inner_client_authentication_credentials.as_ref(),
        )?;
        Ok(())
    }
}

/// A `Duration` as whole milliseconds.
mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_java_and_validate() {
        let c = NameServerConfig::default();
        assert_eq!(c.listen.port(), 9876);
        assert_eq!(c.broker_expiry, Duration::from_secs(120));
        assert_eq!(c.scan_interval, Duration::from_secs(5));
        assert_eq!(c.validate(), Ok(()));
    }

    #[test]
    fn parses_millis_and_refuses_unknown_keys() {
        let c: NameServerConfig = serde_json::from_str(
            r#"{"listen":"127.0.0.1:9877","broker_expiry_ms":30000,"kv_config_path":"/tmp/kv.json"}"#,
        )
        .expect("parses");
        assert_eq!(c.broker_expiry, Duration::from_secs(30));
        assert_eq!(c.scan_interval, Duration::from_secs(5));
        assert!(serde_json::from_str::<NameServerConfig>(r#"{"brokerExpiry":1}"#).is_err());
        let secured: NameServerConfig = serde_json::from_str(
            r#"{"authenticationEnabled":true,"innerClientAuthenticationCredentials":{"accessKey":"ak","secretKey":"sk"}}"#,
        )
        .expect("Apache's names parse");
        assert!(secured.authentication_enabled);
        assert_eq!(secured.validate(), Ok(()));
        assert!(
            !format!("{secured:?}").contains("sk\""),
            "the secret is not logged"
        );
        let back: NameServerConfig =
            serde_json::from_str(&serde_json::to_string(&c).expect("serializes")).expect("parses");
        assert_eq!(back, c);
    }

    #[test]
    fn validation_refuses_what_cannot_work() {
        let zero = NameServerConfig {
            scan_interval: Duration::ZERO,
            ..NameServerConfig::default()
        };
        assert_eq!(zero.validate(), Err(ConfigError::Zero("scan_interval")));
        let slow = NameServerConfig {
            scan_interval: Duration::from_secs(300),
            ..NameServerConfig::default()
        };
        assert!(matches!(
            slow.validate(),
            Err(ConfigError::ScanSlowerThanExpiry { .. })
        ));
        let unsigned = NameServerConfig {
            authentication_enabled: true,
            ..NameServerConfig::default()
        };
        assert_eq!(
            unsigned.validate(),
            Err(ConfigError::MissingInnerCredentials)
        );
    }
}
