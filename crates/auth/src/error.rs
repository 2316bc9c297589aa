//! Why a request was refused, and why a user or policy could not be read.

use thiserror::Error;

/// A refused request. The `Display` text is the response remark: it names the user, and for a
/// denial the resource and the actions, so that an operator can fix the policy from it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AuthError {
    /// No `AccessKey` ext field (the client does not sign).
    #[error("authentication failed: the request is not signed (no AccessKey)")]
    MissingAccessKey,
    /// `AccessKey` present but no `Signature`.
    #[error("authentication failed for user {user}: the request carries no Signature")]
    MissingSignature { user: String },
    #[error("authentication failed: user {user} is not found")]
    UnknownUser { user: String },
    #[error("authentication failed: user {user} is disabled")]
    DisabledUser { user: String },
    /// Wrong secret key, or a request altered after it was signed.
    #[error("authentication failed for user {user}: check signature failed")]
    BadSignature { user: String },
    /// The v5 `authorization` metadata is malformed or stale.
    #[error("authentication failed: {reason}")]
    BadAuthorization { reason: String },
    /// The request's resource could not be read (a missing header field, a body that is not JSON).
    #[error("authorization failed for user {user}: {reason}")]
    Unreadable { user: String, reason: String },
    /// No entry of the table for this request code: refused whoever asks.
    #[error(
        "authorization failed for user {user}: request code {code} is not covered by any policy"
    )]
    Unmapped { user: String, code: i32 },
    /// No entry of the gRPC table for this RPC: refused whoever asks.
    #[error("authorization failed for user {user}: RPC {rpc} is not covered by any policy")]
    UnmappedRpc { user: String, rpc: String },
    #[error("User:{user} has no permission for {actions} on {resource}: {reason}")]
    Denied {
        user: String,
        resource: String,
        actions: String,
        reason: &'static str,
    },
}

impl AuthError {
    /// True for authentication failures (who), false for authorization failures (what).
    #[must_use]
    pub fn is_authentication(&self) -> bool {
        !matches!(
            self,
            Self::Unreadable { .. }
                | Self::Unmapped { .. }
                | Self::UnmappedRpc { .. }
                | Self::Denied { .. }
        )
    }
}

/// A user, resource, action, decision or IP range that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ModelError {
    #[error("unknown action {0:?} (Pub, Sub, Create, Update, Delete, Get, List or All)")]
    Action(String),
    #[error(
        "unknown resource {0:?} (Cluster, Topic:<name>, Group:<name>, a prefix ending in * or *)"
    )]
    Resource(String),
    #[error("unknown decision {0:?} (Allow or Deny)")]
    Decision(String),
    #[error("unknown policy type {0:?} (Custom or Default)")]
    PolicyType(String),
    #[error("unknown user type {0:?} (Super or Normal)")]
    UserType(String),
    #[error("unknown user status {0:?} (enable or disable)")]
    UserStatus(String),
    #[error("bad source IP {0:?} (an address or a CIDR range, IPv4 or IPv6)")]
    IpRange(String),
    #[error("bad subject {0:?} (User:<name>)")]
    Subject(String),
    #[error("{0} must not be empty")]
    Empty(&'static str),
}
