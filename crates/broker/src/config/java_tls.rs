//! The `tls.*` keys of RocketMQ (`TlsSystemConfig`: Java system properties, or the
//! `tls.config.file` properties file) accepted in a `broker.conf`, mapped onto
//! [`BrokerConfig::tls`] and [`BrokerConfig::tls_client`].

use std::path::PathBuf;

use ferromq_net::tls::{ServerTrust, TlsClientConfig};

use crate::config::{BrokerConfig, ConfigError};

/// The client-side keys, applied once every line is read (their meaning depends on each other).
#[derive(Debug, Default)]
pub(crate) struct ClientKeys {
    enable: bool,
    auth_server: bool,
    trust: Option<PathBuf>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
}

impl ClientKeys {
    /// `tls.enable` with the other client keys. As in RocketMQ, the name server's certificate is
    /// only verified with `tls.client.authServer=true`; otherwise any certificate is accepted.
    pub(crate) fn finish(self, file: &str) -> Result<Option<TlsClientConfig>, ConfigError> {
        if !self.enable {
            return Ok(None);
        }
        let trust = match (self.auth_server, self.trust) {
            (true, Some(ca)) => ServerTrust::CaFile(ca),
            (true, None) => return Err(ConfigError::BadValue {
                key: "tls.client.authServer".into(),
                value: "true".into(),
                file: file.into(),
                why:
                    "needs tls.client.trustCertPath, the CA the name servers' certificates chain to"
                        .into(),
            }),
            (false, _) => ServerTrust::InsecureTrustAll,
        };
        Ok(Some(TlsClientConfig {
            trust,
            cert_path: self.cert,
            key_path: self.key,
        }))
    }
}

/// Applies one `tls.<rest>` key. `Ok(false)`: not a TLS key this broker knows.
pub(crate) fn apply(
    c: &mut BrokerConfig,
    client: &mut ClientKeys,
    key: &str,
    value: &str,
    file: &str,
) -> Result<bool, ConfigError> {
    let bad = |why: &str| ConfigError::BadValue {
        key: key.into(),
        value: value.into(),
        file: file.into(),
        why: why.into(),
    };
    let path = || Some(PathBuf::from(value)).filter(|_| !value.is_empty());
    let flag = || match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(bad("true or false")),
    };
    match key {
        "tls.server.mode" => c.tls.mode = value.parse().map_err(|e| bad(&format!("{e}")))?,
        "tls.server.certPath" => c.tls.cert_path = path(),
        "tls.server.keyPath" => c.tls.key_path = path(),
        "tls.server.trustCertPath" => c.tls.trust_cert_path = path(),
        "tls.server.need.client.auth" => {
            c.tls.need_client_auth = value.parse().map_err(|e| bad(&format!("{e}")))?;
        }
        "tls.enable" => client.enable = flag()?,
        "tls.client.authServer" => client.auth_server = flag()?,
        "tls.client.trustCertPath" => client.trust = path(),
        "tls.client.certPath" => client.cert = path(),
        "tls.client.keyPath" => client.key = path(),
        "tls.server.keyPassword" | "tls.client.keyPassword" if !value.is_empty() => {
            return Err(bad(
                "encrypted private keys are not supported: give the key unencrypted \
                 (openssl pkcs8 -topk8 -nocrypt) and protect the file instead",
            ));
        }
        "tls.server.keyPassword" | "tls.client.keyPassword" => {}
        // Client certificates are always verified against tls.server.trustCertPath when asked
        // for; a self-signed certificate is generated whenever no files are given.
        "tls.server.authClient" | "tls.test.mode.enable" => {
            flag()?;
            tracing::info!(key, file, "key has no effect in ferromq; ignored");
        }
        "tls.config.file" => {
            let text = std::fs::read_to_string(value).map_err(|e| ConfigError::Unreadable {
                file: value.into(),
                detail: e.to_string(),
            })?;
            for (k, v) in super::java::properties(&text) {
                // As in RocketMQ, the file cannot switch TLS on or off.
                if k == "tls.server.mode" || k == "tls.enable" || k == "tls.config.file" {
                    continue;
                }
                if !apply(c, client, k, v, value)? {
                    return Err(ConfigError::UnknownKey {
                        key: k.into(),
                        file: value.into(),
                    });
                }
            }
        }
        _ => return Ok(false),
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use ferromq_net::tls::{ClientAuth, TlsMode};

    use super::*;
    use crate::config::java::parse;

    #[test]
    fn maps_rocketmq_tls_keys() {
        let c = parse(
            "tls.server.mode=enforcing\n\
             tls.server.certPath=/etc/rocketmq/server.pem\n\
             tls.server.keyPath=/etc/rocketmq/server.key\n\
             tls.server.trustCertPath=/etc/rocketmq/ca.pem\n\
             tls.server.need.client.auth=require\n\
             tls.enable=true\n\
             tls.client.trustCertPath=/etc/rocketmq/ca.pem\n\
             tls.client.authServer=true\n",
            "broker.conf",
        )
        .expect("parses");
        assert_eq!(c.tls.mode, TlsMode::Enforcing);
        assert_eq!(
            c.tls.cert_path,
            Some(PathBuf::from("/etc/rocketmq/server.pem"))
        );
        assert_eq!(
            c.tls.key_path,
            Some(PathBuf::from("/etc/rocketmq/server.key"))
        );
        assert_eq!(c.tls.need_client_auth, ClientAuth::Require);
        assert_eq!(
            c.tls_client.as_ref().expect("tls.enable").trust,
            ServerTrust::CaFile("/etc/rocketmq/ca.pem".into())
        );
        assert_eq!(c.validate(), Ok(()));
    }

    #[test]
    fn defaults_and_refusals() {
        let c = parse("tls.enable=true\n", "broker.conf").expect("parses");
        assert_eq!(c.tls.mode, TlsMode::Disabled);
        assert_eq!(
            c.tls_client.expect("enabled").trust,
            ServerTrust::InsecureTrustAll
        );
        assert!(parse("tls.enable=false\n", "b")
            .expect("parses")
            .tls_client
            .is_none());
        for bad in [
            "tls.server.mode=strict\n",
            "tls.server.need.client.auth=maybe\n",
            "tls.server.keyPassword=secret\n",
            "tls.enable=true\ntls.client.authServer=true\n",
            "tls.server.unknown=1\n",
        ] {
            assert!(parse(bad, "b").is_err(), "{bad:?} should be refused");
        }
        let half = parse(
            "tls.server.mode=permissive\ntls.server.certPath=/x.pem\n",
            "b",
        )
        .expect("parses");
        assert!(half.validate().is_err(), "a certificate without its key");
    }
}
