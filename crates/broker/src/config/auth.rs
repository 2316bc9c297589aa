//! The ACL 2.0 settings with RocketMQ's names; in a `broker.conf` the two credential settings are
//! JSON objects, as Apache writes them: `initAuthenticationUser={"username":"rocketmq",
//! "password":"12345678"}`, `innerClientAuthenticationCredentials={"accessKey":"rocketmq",
//! "secretKey":"12345678"}`.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::BrokerConfig;

/// `initAuthenticationUser`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InitUser {
    pub username: String,
    pub password: String,
}

/// `innerClientAuthenticationCredentials`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct InnerCredentials {
    // TOML files spell keys in snake case; the `broker.conf` JSON uses Apache's camel case.
    #[serde(alias = "access_key")]
    pub access_key: String,
    #[serde(alias = "secret_key")]
    pub secret_key: String,
}

impl InnerCredentials {
    #[must_use]
    pub fn credentials(&self) -> ferromq_auth::Credentials {
        ferromq_auth::Credentials::new(&self.access_key, &self.secret_key)
    }
}

// Secrets never reach the logged effective configuration.
impl fmt::Debug for InitUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InitUser")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for InnerCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InnerCredentials")
            .field("access_key", &self.access_key)
            .finish_non_exhaustive()
    }
}

/// Applies one of the four `broker.conf` keys.
pub(super) fn apply_java(c: &mut BrokerConfig, key: &str, value: &str) -> Result<(), String> {
    let flag = || match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err("true or false".to_owned()),
    };
    match key {
        "authenticationEnabled" => c.authentication_enabled = flag()?,
        "authorizationEnabled" => c.authorization_enabled = flag()?,
        "initAuthenticationUser" => {
            c.init_authentication_user = if value.is_empty() {
                None
            } else {
                Some(serde_json::from_str(value).map_err(|e| {
                    format!("a JSON object {{\"username\":..,\"password\":..}}: {e}")
                })?)
            };
        }
        _ => {
            c.inner_client_authentication_credentials = if value.is_empty() {
                None
            } else {
                Some(serde_json::from_str(value).map_err(|e| {
                    format!("a JSON object {{\"accessKey\":..,\"secretKey\":..}}: {e}")
                })?)
            };
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::java::parse;

    #[test]
    fn reads_apache_keys() {
        let c = parse(
            "authenticationEnabled=true\nauthorizationEnabled=true\n\
             initAuthenticationUser={\"username\":\"root\",\"password\":\"pw\"}\n\
             innerClientAuthenticationCredentials={\"accessKey\":\"root\",\"secretKey\":\"pw\"}\n",
            "broker.conf",
        )
        .expect("parses");
        assert!(c.authentication_enabled && c.authorization_enabled);
        assert_eq!(c.init_authentication_user.expect("user").username, "root");
        assert_eq!(
            c.inner_client_authentication_credentials
                .expect("creds")
                .access_key,
            "root"
        );
        assert!(parse("initAuthenticationUser={\"user\":1}\n", "b.conf").is_err());
        let toml: crate::BrokerConfig = toml::from_str(
            "authentication_enabled = true\n\
             init_authentication_user = { username = \"root\", password = \"pw\" }\n\
             inner_client_authentication_credentials = { access_key = \"root\", secret_key = \"pw\" }\n",
        )
        .expect("toml");
        assert!(toml.authentication_enabled);
        assert_eq!(
            toml.inner_client_authentication_credentials
                .expect("creds")
                .secret_key,
            "pw"
        );
        assert!(format!(
            "{:?}",
            parse(
                "initAuthenticationUser={\"username\":\"u\",\"password\":\"secret-pw\"}\n",
                "b"
            )
            .expect("ok")
        )
        .find("secret-pw")
        .is_none());
    }
}
