//! The broker-facing side of the failover controller: everything a broker needs to talk to the
//! controllers, and nothing of how they agree among themselves (no Raft).
//!
//! - [`replica`]: [`ReplicaInfo`], what a broker learns about its group (master, epochs,
//!   sync-state set).
//! - [`protocol`]: the requests and responses as remoting commands, in `RocketMQ`'s field names.
//! - [`codes`]: the extension fields of a "not leader" answer.
//! - [`client`]: [`ControllerClient`]: finds the leader and follows it.
//!
//! The controller crate serves this same protocol and re-exports these modules.
#![forbid(unsafe_code)]

pub mod client;
pub mod codes;
pub mod protocol;
pub mod replica;

pub use client::{ClientError, ClientOptions, ControllerClient};
pub use replica::{BrokerId, ReplicaInfo};
