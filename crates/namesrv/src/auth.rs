//! Brokers authenticated by the name server (`authenticationEnabled`).
//!
//! Apache's name server checks nobody: whoever reaches it can register a broker, unregister one or
//! rewrite KV config, and so steer every client's routes. Here, when authentication is on, the
//! requests that change what the name server tells clients must be signed, as the broker already
//! signs them, with the cluster's inner credentials (`innerClientAuthenticationCredentials`, the
//! user the brokers sign their own requests with). Route and KV reads stay open, as in Apache: a
//! client looks routes up before it knows any credentials, and Apache's clients do not sign them.
//!
//! A refusal is NO_PERMISSION with the reason as remark, as the broker answers.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use ferromq_auth::inner::InnerUser;
use ferromq_auth::AuthError;
use ferromq_remoting::{RemotingCommand, RequestCode, ResponseCode};
use tracing::warn;

use crate::config::{ConfigError, InnerCredentials};

/// The requests that need the inner user: everything that changes the route table or the KV
/// config, and the broker heartbeats that keep a registration alive.
pub const SIGNED_CODES: &[RequestCode] = &[
    RequestCode::REGISTER_BROKER,
    RequestCode::UNREGISTER_BROKER,
    RequestCode::BROKER_HEARTBEAT,
    // Also refreshes the broker's liveness, so a forged one would keep a dead broker in routes.
    RequestCode::QUERY_DATA_VERSION,
    RequestCode::REGISTER_TOPIC_IN_NAMESRV,
    RequestCode::DELETE_TOPIC_IN_NAMESRV,
    RequestCode::WIPE_WRITE_PERM_OF_BROKER,
    RequestCode::ADD_WRITE_PERM_OF_BROKER,
    RequestCode::PUT_KV_CONFIG,
    RequestCode::DELETE_KV_CONFIG,
];

/// The check run before dispatch; `None` inside when authentication is off.
#[derive(Debug, Default)]
pub(crate) struct BrokerAuth {
    /// The one user signed requests are checked against.
    inner: Option<InnerUser>,
    /// Unix second of the last refusal logged: at most one line a second, whatever a peer sends.
    last_logged: AtomicU64,
}

impl BrokerAuth {
    /// # Errors
    /// `MissingInnerCredentials` when authentication is on without credentials, `Credentials` for
    /// an empty access or secret key.
    pub(crate) fn new(
        enabled: bool,
        credentials: Option<&InnerCredentials>,
    ) -> Result<Self, ConfigError> {
        if !enabled {
            return Ok(Self::default());
        }
        let c = credentials.ok_or(ConfigError::MissingInnerCredentials)?;
        let inner = InnerUser::new(c).map_err(|e| ConfigError::Credentials(e.to_string()))?;
        Ok(Self {
            inner: Some(inner),
            last_logged: AtomicU64::new(0),
        })
    }

    /// Admits `req`, or answers its refusal (`None` inside for a oneway request).
    ///
    /// # Errors
    /// The NO_PERMISSION response.
    pub(crate) fn check(
        &self,
        peer: SocketAddr,
        req: &RemotingCommand,
    ) -> Result<(), Option<RemotingCommand>> {
        let Some(inner) = &self.inner else {
            return Ok(());
        };
        if !SIGNED_CODES.contains(&req.request_code()) {
            return Ok(());
        }
        match inner.authenticate(req) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.log(peer, req, &e);
                Err((!req.is_oneway()).then(|| {
                    RemotingCommand::response_to(req, ResponseCode::NO_PERMISSION, Some(remark(&e)))
                }))
            }
        }
    }

    fn log(&self, peer: SocketAddr, req: &RemotingCommand, e: &AuthError) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if self.last_logged.swap(now, Ordering::Relaxed) != now {
            warn!(%peer, code = %req.request_code(), reason = %e,
                "refused a broker request that is not signed with the inner credentials");
        }
    }
}

/// The remark: the authentication failure, and what the name server expects instead.
fn remark(e: &AuthError) -> String {
    format!("{e} (this name server takes route and KV changes only signed with the cluster's innerClientAuthenticationCredentials)")
}

#[cfg(test)]
mod tests {
    use ferromq_auth::Credentials;

    use super::*;

    fn auth() -> BrokerAuth {
        let creds = InnerCredentials {
            access_key: "inner".into(),
            secret_key: "inner-secret".into(),
        };
        BrokerAuth::new(true, Some(&creds)).expect("valid")
    }

    fn peer() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 4000))
    }

    #[test]
    fn broker_writes_need_the_inner_signature_and_reads_stay_open() {
        let auth = auth();
        for &code in SIGNED_CODES {
            let unsigned = RemotingCommand::request(code);
            let refused = auth.check(peer(), &unsigned).expect_err("unsigned");
            let resp = refused.expect("an answer");
            assert_eq!(resp.response_code(), ResponseCode::NO_PERMISSION);
            assert!(resp
                .remark
                .as_deref()
                .is_some_and(|r| r.contains("not signed")));

            let mut wrong = RemotingCommand::request(code);
            Credentials::new("inner", "guess").sign(&mut wrong);
            let resp = auth
                .check(peer(), &wrong)
                .expect_err("wrong")
                .expect("answer");
            assert!(resp
                .remark
                .as_deref()
                .is_some_and(|r| r.contains("check signature failed")));

            let mut signed = RemotingCommand::request(code);
            Credentials::new("inner", "inner-secret").sign(&mut signed);
            assert!(auth.check(peer(), &signed).is_ok(), "{code}");
        }
        for code in [
            RequestCode::GET_ROUTEINFO_BY_TOPIC,
            RequestCode::GET_BROKER_CLUSTER_INFO,
            RequestCode::GET_KV_CONFIG,
        ] {
            assert!(auth.check(peer(), &RemotingCommand::request(code)).is_ok());
        }
    }

    #[test]
    fn off_checks_nothing_and_on_needs_credentials() {
        let off = BrokerAuth::new(false, None).expect("off");
        let req = RemotingCommand::request(RequestCode::REGISTER_BROKER);
        assert!(off.check(peer(), &req).is_ok());
        assert!(matches!(
            BrokerAuth::new(true, None),
            Err(ConfigError::MissingInnerCredentials)
        ));
    }
}
