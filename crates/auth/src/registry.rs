//! Users and their ACLs together, and the two checks a request goes through: who sent it
//! (authentication) and whether that user may do what it asks (authorization).

use std::collections::BTreeMap;
use std::net::IpAddr;

use ferromq_remoting::RemotingCommand;
use serde::{Deserialize, Serialize};

use crate::access::{required_access, Access, AccessError};
use crate::action;
use crate::error::{AuthError, ModelError};
use crate::grpc_access::Named;
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

/// How far a v5 call's `x-mq-date-time` may be from the broker's clock, either way: Apache's
/// clients sign the time of each call, so a call older than this is a replay (or a clock to fix).
pub const GRPC_CLOCK_SKEW_SECS: i64 = 15 * 60;

/// What the checks of one v5 gRPC call read: its metadata and what its request names.
#[derive(Debug, Clone, Default)]
pub struct GrpcCall<'a> {
    /// The RPC's method name (`SendMessage`).
    pub rpc: &'a str,
    /// The `authorization` metadata value.
    pub authorization: Option<&'a str>,
    /// The `x-mq-date-time` metadata value.
    pub date_time: Option<&'a str>,
    pub named: Named<'a>,
    /// A later message of a stream whose opening call passed: the metadata is the opening's, so
    /// its signature and user are checked again but not its age (a client keeps a telemetry
    /// stream open for hours and sends its settings again on it).
    pub continued: bool,
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

    /// The user a v5 gRPC call comes from: its `authorization` metadata parsed and its signature
    /// over `x-mq-date-time` checked, that value within `window_secs` of `now_secs`. For the gRPC
    /// adapter; the authorization of each RPC is not mapped yet.
    ///
    /// # Errors
    /// `BadAuthorization` (malformed or stale), `UnknownUser`, `BadSignature`, `DisabledUser`.
    pub fn authenticate_grpc(
        &self,
        authorization: &str,
        date_time: &str,
        now_secs: i64,
        window_secs: i64,
    ) -> Result<&User, AuthError> {
        let auth = crate::grpc::GrpcAuthorization::parse(authorization)?;
        crate::grpc::check_fresh(date_time, now_secs, window_secs)?;
        let user = self
            .users
            .get(&auth.access_key)
            .ok_or_else(|| AuthError::UnknownUser {
                user: auth.access_key.clone(),
            })?;
        auth.verify(date_time, user)?;
        if user.status == UserStatus::Disabled {
            return Err(AuthError::DisabledUser {
                user: user.name.clone(),
            });
        }
        Ok(user)
    }

    /// Runs the checks that are on for a v5 gRPC call (see [`GrpcCall`]), received from `source`
    /// at `now_secs`. Returns the user the call was checked as (`None` when both checks are off).
    ///
    /// # Errors
    /// The refusal; [`AuthError::is_authentication`] tells UNAUTHORIZED from FORBIDDEN.
    pub fn check_grpc(
        &self,
        checks: Checks,
        call: &GrpcCall<'_>,
        now_secs: i64,
        source: Option<IpAddr>,
    ) -> Result<Option<&User>, AuthError> {
        if !checks.authentication && !checks.authorization {
            return Ok(None);
        }
        let authorization = call
            .authorization
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| AuthError::BadAuthorization {
                reason: format!(
                    "the call carries no {} metadata",
                    crate::grpc::AUTHORIZATION
                ),
            })?;
        let user = if checks.authentication {
            let date_time = call.date_time.ok_or_else(|| AuthError::BadAuthorization {
                reason: format!("the call carries no {} metadata", crate::grpc::DATE_TIME),
            })?;
            let window = if call.continued {
                i64::MAX
            } else {
                GRPC_CLOCK_SKEW_SECS
            };
            self.authenticate_grpc(authorization, date_time, now_secs, window)?
        } else {
            // Authorization alone trusts the Credential the client names, as Apache does.
            let name = crate::grpc::GrpcAuthorization::parse(authorization)?.access_key;
            self.users
                .get(&name)
                .ok_or(AuthError::UnknownUser { user: name })?
        };
        if checks.authorization {
            self.authorize_grpc(user, call.rpc, &call.named, source)?;
        }
        Ok(Some(user))
    }

    /// Whether `user` may call `rpc` naming `named`: a super user may call anything, a normal user
    /// needs an allowing entry for every resource the call names.
    ///
    /// # Errors
    /// `UnmappedRpc`, `Unreadable` or `Denied`.
    pub fn authorize_grpc(
        &self,
        user: &User,
        rpc: &str,
        named: &Named<'_>,
        source: Option<IpAddr>,
    ) -> Result<(), AuthError> {
        if user.kind == UserType::Super {
            return Ok(());
        }
        let accesses = crate::grpc_access::required_access(rpc, named).map_err(|e| match e {
            AccessError::Unmapped => AuthError::UnmappedRpc {
                user: user.name.clone(),
                rpc: rpc.to_owned(),
            },
            AccessError::Unreadable(reason) => AuthError::Unreadable {
                user: user.name.clone(),
                reason,
            },
        })?;
        self.decide_all(user, &accesses, source)
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
        self.decide_all(user, &accesses, source)
    }

    /// Every access allowed by `user`'s ACL, or the first denial.
    fn decide_all(
        &self,
        user: &User,
        accesses: &[Access],
        source: Option<IpAddr>,
    ) -> Result<(), AuthError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::Credentials;

    fn registry() -> Registry {
        let mut r = Registry::default();
        assert_eq!(r.ensure_first_user("root", "pw"), Ok(true));
        assert_eq!(r.ensure_first_user("other", "pw"), Ok(false));
        let alice = User::new("alice", "a-pw", UserType::Normal).expect("user");
        r.users.insert(alice.name.clone(), alice);
        r
    }

    const ON: Checks = Checks {
        authentication: true,
        authorization: true,
    };

    #[test]
    fn super_users_pass_even_unmapped_codes_normal_users_do_not() {
        let r = registry();
        let mut cmd = RemotingCommand::request(4242);
        Credentials::new("root", "pw").sign(&mut cmd);
        assert!(r.check(ON, &cmd, "c", None).is_ok());
        let mut cmd = RemotingCommand::request(4242);
        Credentials::new("alice", "a-pw").sign(&mut cmd);
        assert!(matches!(
            r.check(ON, &cmd, "c", None),
            Err(AuthError::Unmapped { .. })
        ));
    }

    #[test]
    fn disabled_users_are_refused_and_json_round_trips() {
        let mut r = registry();
        if let Some(a) = r.users.get_mut("alice") {
            a.status = UserStatus::Disabled;
        }
        let mut cmd = RemotingCommand::request(34);
        Credentials::new("alice", "a-pw").sign(&mut cmd);
        assert!(matches!(
            r.authenticate(&cmd),
            Err(AuthError::DisabledUser { .. })
        ));
        assert_eq!(Registry::from_json(&r.to_json()), Ok(r));
    }

    #[test]
    fn grpc_authentication() {
        use hmac::{Hmac, KeyInit, Mac};
        let r = registry();
        let date = "20240102T030405Z";
        let now = crate::grpc::parse_date_time(date).expect("date");
        let mut mac = <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(b"pw").expect("key");
        mac.update(date.as_bytes());
        let hex: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let header = format!(
            "MQv2-HMAC-SHA1 Credential=root, SignedHeaders=x-mq-date-time, Signature={hex}"
        );
        assert_eq!(
            r.authenticate_grpc(&header, date, now, 900)
                .map(|u| u.name.as_str()),
            Ok("root")
        );
        assert!(r.authenticate_grpc(&header, date, now + 3600, 900).is_err());
        let stranger = header.replace("root", "nobody");
        assert!(matches!(
            r.authenticate_grpc(&stranger, date, now, 900),
            Err(AuthError::UnknownUser { .. })
        ));
    }

    /// What a v5 client sends; `grpc_authentication` above checks the signature bytes by hand.
    fn grpc_header(user: &str, secret: &str, date: &str) -> String {
        crate::grpc::authorization_value(user, secret, date)
    }

    #[test]
    fn grpc_calls_are_authenticated_then_authorized_per_rpc() {
        let mut r = registry();
        let acl: Acl = crate::wire::AclInfo {
            subject: Some("User:alice".into()),
            policies: vec![crate::wire::PolicyInfo {
                policy_type: None,
                entries: vec![crate::wire::PolicyEntryInfo {
                    resource: "Topic:orders".into(),
                    actions: vec!["Pub".into()],
                    source_ips: vec![],
                    decision: "Allow".into(),
                }],
            }],
        }
        .to_acl()
        .expect("acl");
        r.acls.insert("alice".into(), acl);
        let date = "20240102T030405Z";
        let now = crate::grpc::parse_date_time(date).expect("date");
        let header = grpc_header("alice", "a-pw", date);
        let call = |rpc: &'static str, topic: &'static str| GrpcCall {
            rpc,
            authorization: Some(header.as_str()),
            date_time: Some(date),
            named: Named {
                topics: vec![topic],
                group: None,
            },
            continued: false,
        };
        let ok = r.check_grpc(ON, &call("SendMessage", "orders"), now, None);
        assert_eq!(
            ok.map(|u| u.map(|u| u.name.clone())),
            Ok(Some("alice".into()))
        );
        let denied = r
            .check_grpc(ON, &call("SendMessage", "secret"), now, None)
            .expect_err("denied");
        assert!(!denied.is_authentication());
        assert_eq!(
            denied.to_string(),
            "User:alice has no permission for Pub on Topic:secret: no matched acl policy"
        );
        let unmapped = r
            .check_grpc(ON, &call("Admin", "orders"), now, None)
            .expect_err("unmapped");
        assert!(
            matches!(unmapped, AuthError::UnmappedRpc { .. }),
            "{unmapped}"
        );
        let stale = r
            .check_grpc(
                ON,
                &call("SendMessage", "orders"),
                now + GRPC_CLOCK_SKEW_SECS + 1,
                None,
            )
            .expect_err("stale");
        assert!(stale.is_authentication());
        let mut later = call("SendMessage", "orders");
        later.continued = true;
        assert!(r.check_grpc(ON, &later, now + 86_400, None).is_ok());
        let mut bare = call("SendMessage", "orders");
        bare.authorization = None;
        assert!(r
            .check_grpc(ON, &bare, now, None)
            .expect_err("no header")
            .is_authentication());
        // Authorization alone trusts the named credential; both off checks nothing.
        let only_authz = Checks {
            authentication: false,
            authorization: true,
        };
        let mut unsigned = call("SendMessage", "orders");
        unsigned.date_time = None;
        assert!(r.check_grpc(only_authz, &unsigned, now, None).is_ok());
        assert_eq!(r.check_grpc(Checks::default(), &bare, now, None), Ok(None));
    }
}
