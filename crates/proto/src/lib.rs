//! The `RocketMQ` 5 gRPC protocol (`apache.rocketmq.v2`) as Rust types: pure, no I/O, no runtime.
//!
//! The messages are generated at build time by `prost` from our own `.proto` files in `proto/`,
//! which carry the wire contract of the public `apache/rocketmq-apis` definitions: the package,
//! names, field numbers and types of v2.0.4 (what the Apache `RocketMQ` 5.3 proxy pins) and the
//! fields v2.1 added (lite topics, priority). The golden-bytes tests pin those field numbers
//! against hand-encoded bytes. `service.proto` also defines `MessagingService`; this crate only
//! generates its messages, and the gRPC adapter generates the service from the same file.
//!
//! Layout:
//!
//! - [`v2`]: the generated messages and enums (`SendMessageRequest`, `TelemetryCommand`, `Code`,
//!   ...); message bodies are `Bytes`, maps are ordered so encodings are deterministic.
//! - [`code`]: what each [`Code`] means and whether it counts as success.
//! - [`status`]: building the [`Status`] every response carries.
//! - [`resource`]: a [`Resource`]'s namespaced name, as the broker stores it.
#![forbid(unsafe_code)]
#![warn(clippy::pedantic)]

pub mod code;
pub mod resource;
pub mod status;

/// The generated `apache.rocketmq.v2` messages and enums.
#[allow(clippy::pedantic)]
pub mod v2 {
    include!(concat!(env!("OUT_DIR"), "/apache.rocketmq.v2.rs"));
}

pub use v2::{Code, Resource, Status};
