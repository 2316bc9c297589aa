//! RocketMQ ACL 2.0 (RIP-68) without I/O: who a request comes from and what it may do.
//!
//! Layout:
//! - [`user`]: users (name, password, super/normal, enabled/disabled).
//! - [`action`], [`resource`], [`ip_range`]: the vocabulary of a policy entry.
//! - [`policy`]: policy entries, an ACL per subject, and the decision for one access.
//! - [`wire`]: the JSON shapes Apache's admin requests carry (`UserInfo`, `AclInfo`, ...).
//! - [`signature`]: remoting request signatures as the Java `AclClientRPCHook` computes them.
//! - [`grpc`]: the v5 `authorization` metadata and its signature over `x-mq-date-time`.
//! - [`inner`]: the cluster's inner user, checked by servers without a registry of their own.
//! - [`access`]: the one table from request code to the resources and actions it needs.
//! - [`grpc_access`]: the same for v5 gRPC RPCs, over the names the adapter reads from a request.
//! - [`registry`]: users and ACLs together: authenticate a request, then authorize it.
//! - [`error`]: why a request was refused, worded for the response remark.

#![forbid(unsafe_code)]

pub mod access;
pub mod action;
pub mod error;
pub mod grpc;
pub mod grpc_access;
pub mod inner;
pub mod ip_range;
pub mod policy;
pub mod registry;
pub mod resource;
pub mod signature;
pub mod user;
pub mod wire;

pub use access::{required_access, Access, MAPPED_CODES};
pub use action::Action;
pub use error::{AuthError, ModelError};
pub use grpc_access::Named;
pub use policy::{Acl, Decision, PolicyEntry, PolicyType};
pub use registry::{GrpcCall, Registry, GRPC_CLOCK_SKEW_SECS};
pub use resource::{Resource, ResourcePattern, ResourceType};
pub use signature::Credentials;
pub use user::{User, UserStatus, UserType};
