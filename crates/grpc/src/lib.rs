//! The RocketMQ 5 gRPC endpoint (`apache.rocketmq.v2.MessagingService`), served by the broker
//! process itself: a thin adapter that decodes each RPC into a [`BrokerService`] call and encodes
//! the answer, so v5 clients and remoting clients see the same broker by construction.
//!
//! Layout:
//!
//! - [`GrpcServer::start`] and the [`GrpcHandle`] that owns the listener and every connection
//!   (`server.rs`); `conn.rs` sniffs each connection's first byte (TLS or plaintext HTTP/2 on one
//!   port), `current.rs` holds the broker served (replaced when it restarts in place), `tls.rs` loads the configured certificate or generates a self-signed one.
//! - [`GrpcConfig`] (`config.rs`) and [`GrpcError`] (`error.rs`).
//! - `messaging.rs`: the generated service trait, one method per RPC, each delegating to
//!   `route.rs` (QueryRoute, QueryAssignment), `send.rs` (SendMessage), `receive.rs`
//!   (ReceiveMessage, AckMessage, ChangeInvisibleDuration, ForwardMessageToDeadLetterQueue over the
//!   broker's POP), `transaction.rs`
//!   (EndTransaction, the transaction id format, check-back pushed to producers), `telemetry.rs` (the settings
//!   exchange), `recall.rs` (RecallMessage), `offsets.rs` (UpdateOffset, GetOffset, QueryOffset) and
//!   `pull.rs` (PullMessage); `renew.rs` keeps push consumers' deliveries invisible.
//! - `message.rs`: a stored record as a v5 `Message`. `sessions.rs`: the v5 client sessions (settings, telemetry stream, liveness), keyed by the
//!   `x-mq-client-id` header. `status.rs`: broker errors → v5 `Status`, in one place.
//! - `access.rs`: ACL 2.0, every RPC checked against the broker's users and policies when its
//!   authentication or authorization is on (the RPC table is `ferromq_auth::grpc_access`).
//! - [`pb`]: the tonic server and client generated from `ferromq-proto`'s `service.proto`, over
//!   its prost messages.
//!
//! [`BrokerService`]: ferromq_broker::BrokerService
#![forbid(unsafe_code)]

mod access;
mod config;
mod conn;
mod current;
mod deadline;
mod error;
mod message;
mod messaging;
mod offsets;
mod pull;
mod recall;
mod receive;
mod renew;
mod route;
mod send;
mod server;
mod sessions;
mod status;
mod telemetry;
mod timed;
mod tls;
mod transaction;

pub use access::SERVED_RPCS;
pub use config::{GrpcConfig, TlsFiles};
pub use error::GrpcError;
pub use renew::RenewConfig;
pub use server::{GrpcHandle, GrpcServer};

/// The generated `MessagingService` server and client over `ferromq_proto::v2`'s messages.
#[allow(clippy::pedantic, missing_debug_implementations)]
pub mod pb {
    include!(concat!(env!("OUT_DIR"), "/apache.rocketmq.v2.rs"));
}
