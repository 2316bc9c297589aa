//! ferromq's own client for RocketMQ's remoting protocol (v4): producer, pull and push consumers,
//! and the typed admin API shared by the CLI and the dashboard.
//!
//! Layout:
//!
//! - [`producer`]: [`Producer`] — sync, async, oneway, batch, per-queue and ordered sends, failover.
//! - [`consumer`]: [`consumer::pull::PullConsumer`] (explicit queues and offsets) and
//!   [`consumer::push::PushConsumer`] (rebalanced long-polling with a callback), with
//!   `rebalance` (queue allocation) and `offset_store` (broker or local offsets).
//! - [`admin`]: [`admin::Admin`] — topics, clusters, groups, consumer progress, message queries.
//! - [`routes`]: the route cache ([`routes::Routes`], [`routes::TopicRoute`]).
//! - [`message`] / [`message_ext`]: [`Message`] to send, [`MessageQueue`], [`MessageExt`] as stored.
//! - [`ids`]: client ids and the `UNIQ_KEY` generator.
//! - [`error`]: the error type, [`ClientError`].
//! - `remote` (one connection pool per client, response checks) and `heartbeat` (registration).
//! - `read_from`: which member of a broker group (master or replica) a consumer reads from.
#![forbid(unsafe_code)]

pub mod admin;
pub mod compression;
pub mod consumer;
pub mod error;
mod heartbeat;
pub mod ids;
pub mod message;
pub mod message_ext;
pub mod producer;
mod read_from;
mod remote;
pub mod routes;

/// TLS settings of producers, consumers and the admin API (`tls` fields of their configs).
pub mod tls {
    pub use ferromq_net::tls::{ClientTls, ServerTrust, TlsClientConfig, TlsError};
}

pub use error::ClientError;
pub use heartbeat::CLIENT_INNER_PRODUCER;
pub use message::{Message, MessageQueue};
pub use message_ext::MessageExt;
pub use producer::{Producer, ProducerConfig, SendResult, SendStatus};
