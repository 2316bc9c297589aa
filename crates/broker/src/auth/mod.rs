//! ACL 2.0 on the remoting listener: every request passes [`Guard::check`] before dispatch when
//! `authenticationEnabled` or `authorizationEnabled` is on. The rules live in `ferromq-auth`; this
//! module holds the broker's users and ACLs (`config/auth.json`), answers refusals with
//! NO_PERMISSION as Apache's broker does, and serves the AUTH_* admin requests ([`admin`]).

pub(crate) mod admin;
mod denials;
pub(crate) mod mirror;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use ferromq_auth::registry::Checks;
use ferromq_auth::{AuthError, GrpcCall, Registry, UserType};
use ferromq_remoting::{RemotingCommand, ResponseCode};
use parking_lot::{Mutex, RwLock};
use tracing::{info, warn};

use crate::config::BrokerConfig;
use crate::error::BrokerError;
use crate::persist;

/// Who sent an admitted request, when a check ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Caller {
    pub name: String,
    pub kind: UserType,
}

/// The broker's users and ACLs and the checks it runs.
#[derive(Debug)]
pub(crate) struct Guard {
    checks: Checks,
    cluster: String,
    path: PathBuf,
    /// Swapped whole on each change, so a check holds the lock only to clone the `Arc`.
    registry: RwLock<Arc<Registry>>,
    /// Serialises changes: read, change, write the file, swap.
    writer: Mutex<()>,
    denials: denials::Denials,
}

impl Guard {
    /// Loads `config/auth.json` and creates `initAuthenticationUser` when there is no user yet.
    ///
    /// # Errors
    /// `Io` for an unreadable or unwritable file, `Config` for one that does not parse.
    pub(crate) fn open(config: &BrokerConfig) -> Result<Self, BrokerError> {
        let path = config.config_dir().join("auth.json");
        let mut registry = match persist::read_optional(&path)? {
            Some(bytes) => Registry::from_json(&bytes).map_err(|e| {
                BrokerError::Missing(format!("{} does not parse: {e}", path.display()))
            })?,
            None => Registry::default(),
        };
        if let Some(init) = &config.init_authentication_user {
            let created = registry
                .ensure_first_user(&init.username, &init.password)
                .map_err(|e| BrokerError::Missing(format!("initAuthenticationUser: {e}")))?;
            if created {
                persist::write_atomic(&path, &registry.to_json())?;
                info!(user = %init.username, "created the first super user (initAuthenticationUser)");
            }
        }
        let checks = Checks {
            authentication: config.authentication_enabled,
            authorization: config.authorization_enabled,
        };
        if (checks.authentication || checks.authorization) && registry.users.is_empty() {
            warn!("authentication or authorization is on but there is no user: every request will be refused (set initAuthenticationUser)");
        }
        Ok(Self {
            checks,
            cluster: config.cluster_name.clone(),
            path,
            registry: RwLock::new(Arc::new(registry)),
            writer: Mutex::new(()),
            denials: denials::Denials::default(),
        })
    }

    pub(crate) fn registry(&self) -> Arc<Registry> {
        self.registry.read().clone()
    }

    pub(crate) fn authentication_enabled(&self) -> bool {
        self.checks.authentication
    }

    /// Whether any check runs: when neither does, requests skip the registry (no lock, no clone).
    pub(crate) fn any_check(&self) -> bool {
        self.checks.authentication || self.checks.authorization
    }

    /// Admits `req` (returning who sent it, when a check ran) or answers its refusal:
    /// NO_PERMISSION with a remark naming the user and, for a denial, the resource and actions.
    ///
    /// # Errors
    /// The refusal response (`None` inside for a oneway request, which gets no answer).
    pub(crate) fn check(
        &self,
        peer: SocketAddr,
        req: &RemotingCommand,
    ) -> Result<Option<Caller>, Option<RemotingCommand>> {
        if !self.any_check() {
            return Ok(None);
        }
        let registry = self.registry();
        match registry.check(self.checks, req, &self.cluster, Some(peer.ip())) {
            Ok(user) => Ok(user.map(|u| Caller {
                name: u.name.clone(),
                kind: u.kind,
            })),
            Err(e) => {
                self.denials.record(peer, &req.code, &e);
                Err(refusal(req, &e))
            }
        }
    }

    /// Admits a v5 gRPC call (returning who made it, when a check ran) or says why not. The same
    /// users, policies and denial log as remoting requests; the rules are `ferromq_auth`'s.
    ///
    /// # Errors
    /// The refusal, for the adapter to answer in its protocol's terms.
    pub(crate) fn check_grpc(
        &self,
        peer: SocketAddr,
        call: &GrpcCall<'_>,
    ) -> Result<Option<String>, AuthError> {
        if !self.any_check() {
            return Ok(None);
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let registry = self.registry();
        match registry.check_grpc(self.checks, call, now, Some(peer.ip())) {
            Ok(user) => Ok(user.map(|u| u.name.clone())),
            Err(e) => {
                self.denials.record(peer, &call.rpc, &e);
                Err(e)
            }
        }
    }

    /// Applies `change` to a copy of the registry, writes it to `config/auth.json`, then makes it
    /// the one checks read. A failed change or write leaves everything as it was.
    ///
    /// # Errors
    /// The change's own error text, or the write failure.
    pub(crate) fn update<T>(
        &self,
        change: impl FnOnce(&mut Registry) -> Result<T, String>,
    ) -> Result<T, String> {
        let _writer = self.writer.lock();
        let mut next = (*self.registry()).clone();
        let out = change(&mut next)?;
        persist::write_atomic(&self.path, &next.to_json()).map_err(|e| e.to_string())?;
        *self.registry.write() = Arc::new(next);
        Ok(out)
    }
}

/// Signs a request this broker sends itself with `innerClientAuthenticationCredentials`, when
/// set, so that servers with ACL on accept it (a replica's metadata requests to its master, its
/// registrations with name servers that authenticate brokers).
pub(crate) fn sign_inner(config: &BrokerConfig, mut cmd: RemotingCommand) -> RemotingCommand {
    if let Some(inner) = &config.inner_client_authentication_credentials {
        inner.credentials().sign(&mut cmd);
    }
    cmd
}

fn refusal(req: &RemotingCommand, e: &AuthError) -> Option<RemotingCommand> {
    (!req.is_oneway()).then(|| {
        RemotingCommand::response_to(req, ResponseCode::NO_PERMISSION, Some(e.to_string()))
    })
}
