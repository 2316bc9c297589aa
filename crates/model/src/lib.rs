//! The vocabulary every ferromq crate shares, with no I/O.
//!
//! - [`offset`]: `PhysicalOffset` (byte position in the commit log) and `QueueOffset` (entry number in a
//!   consume queue); `u64` inside, signed only at the wire.
//! - [`hash`]: Java `String.hashCode`, which RocketMQ uses for tag codes and index keys.
//! - [`properties`]: the `name\x01value\x02` property string and the system property keys.
//! - [`record`]: the stored message record (RocketMQ's commit-log layout), which is also the body of a
//!   pull response: encode, patch the store-assigned fields, decode and verify.
//! - [`msg_id`]: the offset message id (store host + physical offset, upper-case hex).
#![forbid(unsafe_code)]

pub mod hash;
pub mod msg_id;
pub mod offset;
pub mod properties;
pub mod record;
pub mod trace;

pub use offset::{PhysicalOffset, QueueOffset};
