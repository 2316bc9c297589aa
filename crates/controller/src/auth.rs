//! Brokers and peers authenticated by the controller (`authentication_enabled`).
//!
//! Apache's controller checks nobody. Here, when authentication is on, every request that can
//! change who is master must be signed with the cluster's inner credentials
//! (`innerClientAuthenticationCredentials`, the user brokers sign their own requests with): a
//! broker's registration, heartbeat and sync-state-set change, and the Raft messages between
//! controllers, which the controllers sign with the same credentials. Reads (who leads, a group's
//! master) stay open. The controller signs its role-change notifications to brokers too, so that
//! brokers with ACL on take them.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use ferromq_auth::inner::{InnerCredentials, InnerUser};
use ferromq_auth::Credentials;
use ferromq_remoting::{RemotingCommand, RequestCode, ResponseCode};
use tracing::warn;

use crate::codes;
use crate::config::ConfigError;

/// The requests that need the inner user.
pub const SIGNED_CODES: &[RequestCode] = &[
    RequestCode::CONTROLLER_REGISTER_BROKER,
    RequestCode::BROKER_HEARTBEAT,
    RequestCode::CONTROLLER_ALTER_SYNC_STATE_SET,
    codes::RAFT_APPEND_ENTRIES,
    codes::RAFT_VOTE,
    codes::RAFT_INSTALL_SNAPSHOT,
];

/// The check of incoming requests and the signature of outgoing ones.
#[derive(Debug, Default)]
pub struct PeerAuth {
    /// Checks incoming requests; `None` when authentication is off.
    check: Option<InnerUser>,
    /// Signs outgoing requests whenever credentials are set, even with the check off, so that a
    /// group can turn authentication on one controller at a time.
    sign: Option<Credentials>,
    /// Unix second of the last refusal logged: at most one line a second.
    last_logged: AtomicU64,
}

impl PeerAuth {
    /// # Errors
    /// `MissingInnerCredentials` when authentication is on without credentials, `Credentials` for
    /// an empty access or secret key.
    pub fn new(enabled: bool, credentials: Option<&InnerCredentials>) -> Result<Self, ConfigError> {
        let check = match (enabled, credentials) {
            (false, _) => None,
            (true, None) => return Err(ConfigError::MissingInnerCredentials),
            (true, Some(c)) => {
                Some(InnerUser::new(c).map_err(|e| ConfigError::Credentials(e.to_string()))?)
            }
        };
        Ok(Self {
            check,
            sign: credentials.map(InnerCredentials::credentials),
            last_logged: AtomicU64::new(0),
        })
    }

    /// Signs `cmd` with the inner credentials, when set.
    #[must_use]
    pub fn sign(&self, mut cmd: RemotingCommand) -> RemotingCommand {
        if let Some(c) = &self.sign {
            c.sign(&mut cmd);
        }
        cmd
    }

    /// Admits `req`, or answers its refusal (NO_PERMISSION; `None` inside for a oneway request).
    ///
    /// # Errors
    /// The refusal.
    pub fn check(
        &self,
        peer: SocketAddr,
        req: &RemotingCommand,
    ) -> Result<(), Option<RemotingCommand>> {
        let Some(inner) = &self.check else {
            return Ok(());
        };
        if !SIGNED_CODES.contains(&req.request_code()) {
            return Ok(());
        }
        inner.authenticate(req).map_err(|e| {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            if self.last_logged.swap(now, Ordering::Relaxed) != now {
                warn!(%peer, code = %req.request_code(), reason = %e,
                    "refused a request that is not signed with the inner credentials");
            }
            (!req.is_oneway()).then(|| {
                RemotingCommand::response_to(
                    req,
                    ResponseCode::NO_PERMISSION,
                    Some(format!("{e} (this controller takes broker and Raft requests only signed with the cluster's innerClientAuthenticationCredentials)")),
                )
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 5000))
    }

    #[test]
    fn state_changes_need_the_inner_signature_and_reads_stay_open() {
        let creds = InnerCredentials {
            access_key: "inner".into(),
            secret_key: "inner-secret".into(),
        };
        let auth = PeerAuth::new(true, Some(&creds)).expect("valid");
        for &code in SIGNED_CODES {
            let refused = auth
                .check(peer(), &RemotingCommand::request(code))
                .expect_err("unsigned")
                .expect("answered");
            assert_eq!(refused.response_code(), ResponseCode::NO_PERMISSION);
            let signed = auth.sign(RemotingCommand::request(code));
            assert!(auth.check(peer(), &signed).is_ok(), "{code}");
        }
        let read = RemotingCommand::request(RequestCode::CONTROLLER_GET_METADATA_INFO);
        assert!(auth.check(peer(), &read).is_ok());
        assert!(matches!(
            PeerAuth::new(true, None),
            Err(ConfigError::MissingInnerCredentials)
        ));
        let off = PeerAuth::new(false, None).expect("off");
        let unsigned = off.sign(RemotingCommand::request(RequestCode::BROKER_HEARTBEAT));
        assert!(unsigned.ext("AccessKey").is_none());
        assert!(off.check(peer(), &unsigned).is_ok());
    }
}
