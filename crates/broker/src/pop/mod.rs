//! POP consumption's own state: receipt handles ([`handle`]), the in-flight table ([`leases`])
//! and the journal of ended deliveries ([`journal`]). What pop, ack and the rest mean is in
//! `crate::service::pop`; the timer that dead-letters exhausted messages and wakes waiting pops is
//! `crate::tasks::pop_revive`.

pub mod handle;
pub mod journal;
pub mod leases;

pub use handle::{MalformedHandle, ReceiptHandle};
pub use journal::{AckJournal, SyncPolicy};
pub use leases::{Lease, Leases, QueueLeases, Stale};
