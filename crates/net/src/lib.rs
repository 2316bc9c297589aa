//! tokio transport for the `RocketMQ` remoting protocol.
//!
//! Layout:
//!
//! - [`codec`]: `tokio_util` codec over the pure frame functions of `ferromq_remoting`.
//! - [`connection`]: one TCP connection (reader task, writer task) and the [`Connection`] handle:
//!   requests in both directions, matched by opaque; used by servers and clients alike.
//! - [`handler`]: the [`Handler`] trait that answers requests, and [`RequestContext`].
//! - [`listen`]: binding a listening socket with a backlog fit for thousands of clients.
//! - [`server`]: the accept loop ([`server::run`]) and [`serve`], which returns a [`ServerHandle`].
//! - [`client`]: [`Client`] (one address, reconnects on demand) and [`ClientPool`].
//! - [`tls`]: TLS by RocketMQ's settings: [`ServerTls`] for listeners (disabled, permissive or
//!   enforcing; certificates reloaded when their files change), [`ClientTls`] for clients.
//! - [`service`]: [`ServiceHandle`], the owner of a service's tasks.
//! - [`error`]: the transport error type, [`NetError`].
#![forbid(unsafe_code)]

pub mod client;
pub mod codec;
pub mod connection;
pub mod error;
pub mod handler;
pub mod listen;
pub mod server;
pub mod service;
pub mod tls;

pub use client::{Client, ClientConfig, ClientPool};
pub use codec::RemotingCodec;
pub use connection::{Connection, ConnectionConfig, ConnectionId};
pub use error::NetError;
pub use handler::{not_supported, Handler, NotSupported, RequestContext};
pub use server::{serve, serve_tls, ServerHandle};
pub use service::ServiceHandle;
pub use tls::{ClientTls, ServerTls, TlsClientConfig, TlsMode, TlsServerConfig};
