//! Users and their ACLs together, and the two checks a request goes through: who sent it
//! (authentication) and whether that user may do what it asks (authorization).

use std::collections::BTreeMap;
use std::net::IpAddr;

use ferromq_remoting::RemotingCommand;
use serde::{Deserialize, Serialize};

use crate::access::{required_access, AccessError};
use crate::action;
use crate::error::{AuthError, ModelError};
use crate::policy::Acl;
use crate::signature::{self, ACCESS_KEY};
use crate::user::{User, UserStatus, UserType};
use crate::wire::{subject_user, AclInfo, UserInfo};

/// Which checks are on (`authenticationEnabled`, `authorizationEnabled`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Checks {
    pub authentication: bool,
    pub authorization: bool,
}

/// Every user and ACL of a broker.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Registry {
    pub users: BTreeMap<String, User>,
    /// Keyed by user name (the subject `User:<name>`).
    pub acls: BTreeMap<String, Acl>,
}

/// The stored form: Apache's admin shapes, so the file reads like what `getUser`/`getAcl` answer.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Stored {
    #[serde(default)]
    users: Vec<UserInfo>,
    #[serde(default)]
    acls: Vec<AclInfo>,
}

impl Registry {
    /// Runs the checks that are on for `cmd`, received from `source` by a broker of `cluster`.
    /// Returns the user name the request was checked as (`None` when both checks are off).
    ///
    /// # Errors
    /// The refusal, whose text is the response remark.
    pub fn check(
        &self,
        checks: Checks,
        cmd: &RemotingCommand,
        cluster: &str,
        source: Option<IpAddr>,
    ) -> Result<Option<&User>, AuthError> {
        if !checks.authentication && !checks.authorization {
            return Ok(None);
        }
        let user = if checks.authentication {
            self.authenticate(cmd)?
        } else {
            // Authorization alone trusts the AccessKey the client names, as Apache does.
            let name = cmd.ext(ACCESS_KEY).ok_or(AuthError::MissingAccessKey)?;
            self.users
                .get(name)
                .ok_or_else(|| AuthError::UnknownUser { user: name.into() })?
        };
        if checks.authorization {
            self.authorize(user, cmd, cluster, source)?;
        }
        Ok(Some(user))
    }

    /// The user who signed `cmd`.
    ///
    /// # Errors
    /// `MissingAccessKey`, `UnknownUser`, `DisabledUser`, `MissingSignature`, `BadSignature`.
    pub fn authenticate(&self, cmd: &RemotingCommand) -> Result<&User, AuthError> {
        let name = cmd
            .ext(ACCESS_KEY)
            .filter(|n| !n.is_empty())
            .ok_or(AuthError::MissingAccessKey)?;
        let user = self
            .users
            .get(name)
            .ok_or_else(|| AuthError::UnknownUser { user: name.into() })?;
        signature::verify(cmd, user)?;
        if user.status == UserStatus::Disabled {
            return Err(AuthError::DisabledUser { user: name.into() });
        }
        Ok(user)
    }

    /// Whether `user` may send `cmd`: a super user may send anything, a normal user needs an
    /// allowing entry for every resource the request touches.
    ///
    /// # Errors
    /// `Unmapped`, `Unreadable` or `Denied`.
    pub fn authorize(
        &self,
        user: &User,
        cmd: &RemotingCommand,
        cluster: &str,
        source: Option<IpAddr>,
    ) -> Result<(), AuthError> {
        if user.kind == UserType::Super {
            return Ok(());
        }
        let accesses = required_access(cmd, cluster).map_err(|e| match e {
            AccessError::Unmapped => AuthError::Unmapped {
                user: user.name.clone(),
                code: cmd.code,
            },
            AccessError::Unreadable(reason) => AuthError::Unreadable {
                user: user.name.clone(),
                reason,
            },
        })?;
        let empty = Acl::default();
        let acl = self.acls.get(&user.name).unwrap_or(&empty);
        for access in accesses {
            acl.decide(&access.resource, access.actions, source)
                .map_err(|reason| AuthError::Denied {
                    user: user.name.clone(),
                    resource: access.resource.to_string(),
                    actions: action::names(access.actions),
                    reason,
                })?;
        }
        Ok(())
    }

    /// Creates `name` as a super user when there is no user at all (`initAuthenticationUser`).
    /// Returns whether it did.
    ///
    /// # Errors
    /// An empty name or password.
    pub fn ensure_first_user(&mut self, name: &str, password: &str) -> Result<bool, ModelError> {
        if !self.users.is_empty() {
            return Ok(false);
        }
        let user = User::new(name, password, UserType::Super)?;
        self.users.insert(user.name.clone(), user);
        Ok(true)
    }

    /// The stored JSON form.
    #[must_use]
    pub fn to_json(&self) -> Vec<u8> {
        let stored = Stored {
            users: self.users.values().map(UserInfo::of).collect(),
            acls: self
                .acls
                .iter()
                .map(|(name, acl)| AclInfo::of(name, acl))
                .collect(),
        };
        serde_json::to_vec_pretty(&stored).unwrap_or_default()
    }

    /// Reads what [`Registry::to_json`] wrote.
    ///
    /// # Errors
    /// The first user or ACL that does not parse (as text for the startup error).
    pub fn from_json(bytes: &[u8]) -> Result<Self, String> {
        let stored: Stored = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        let mut registry = Self::default();
        for info in stored.users {
            let user = info.to_user().map_err(|e| e.to_string())?;
            registry.users.insert(user.name.clone(), user);
        }
        for info in stored.acls {
            let subject = info.subject.as_deref().unwrap_or_default();
            let name = subject_user(subject).map_err(|e| e.to_string())?;
            let acl = info.to_acl().map_err(|e| e.to_string())?;
            registry.acls.insert(name.to_owned(), acl);
        }
        Ok(registry)
    }
}
