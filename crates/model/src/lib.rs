//! The vocabulary every ferromq crate shares, with no I/O.
//!
//! - [`hash`]: Java `String.hashCode`, which RocketMQ uses for tag codes and index keys.
//! - [`properties`]: the `name\x01value\x02` property string and the system property keys.
//! - [`record`]: the stored message record (RocketMQ's commit-log layout), which is also the body of a
//!   pull response: encode, patch the store-assigned fields, decode and verify.
//! - [`msg_id`]: the offset message id (store host + physical offset, upper-case hex).
//!
//! Offsets are plain `u64` everywhere inside (a commit-log byte position is named
//! `physical_offset`, a consume-queue entry number `queue_offset`); they are signed only at the
//! wire, converted once where a request is decoded.
#![forbid(unsafe_code)]

pub mod hash;
pub mod msg_id;
pub mod properties;
pub mod record;
pub mod trace;
