//! The broker's background work over its whole state: each task runs until the broker's service
//! token is cancelled and is owned (spawned and awaited) by `crate::BrokerHandle`.
//!
//! The modules below `crate::state` hold one concern each and never see the whole state; the tasks
//! here, like the request service, sit above it and combine them.

pub(crate) mod controller_agent;
pub(crate) mod housekeeping;
pub(crate) mod pop_revive;
pub(crate) mod registrar;
pub(crate) mod replica_metadata;
pub(crate) mod transaction_check;
