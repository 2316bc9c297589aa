//! The `Handler` trait: what a server (or a client, for server-initiated requests) does with each
//! request it receives.
//!
//! The trait uses `async_trait` because connections hold it as `Arc<dyn Handler>`, and async trait
//! methods are not object-safe in Rust yet; the macro writes the boxed future we would otherwise
//! write by hand, and implementations stay plain `async fn`s.

use std::net::SocketAddr;

use async_trait::async_trait;
use ferromq_remoting::{RemotingCommand, ResponseCode};

use crate::connection::Connection;

/// What a handler knows about the request besides the command itself.
#[derive(Debug, Clone)]
pub struct RequestContext {
    connection: Connection,
}

impl RequestContext {
    pub(crate) fn new(connection: Connection) -> Self {
        Self { connection }
    }

    /// The connection the request arrived on: to call the peer back, to remember it (a broker keeps
    /// its clients' connections), or to learn when it closes.
    #[must_use]
    pub fn connection(&self) -> &Connection {
        &self.connection
    }

    #[must_use]
    pub fn peer_addr(&self) -> SocketAddr {
        self.connection.peer_addr()
    }
}

/// Handles the requests arriving on connections.
///
/// Requests of one connection run concurrently (up to `ConnectionConfig::max_in_flight`), so a
/// handler may wait as long as it likes (long polling). A handler that waits should also watch
/// `ctx.connection().closed()`: shutdown closes every connection and then waits for the handlers.
///
/// The transport fixes up the response (the request's `opaque`, the response flag) and never sends
/// one for a oneway request. Returning `None` sends nothing. Unknown request codes are the
/// handler's business (see [`not_supported`]). A handler that panics is answered with
/// `SYSTEM_ERROR`, like a Java processor that throws.
#[async_trait]
pub trait Handler: Send + Sync + 'static {
    async fn handle(&self, ctx: &RequestContext, req: RemotingCommand) -> Option<RemotingCommand>;

    /// Called once when a connection is established, before any request of it is handled.
    fn on_connect(&self, _conn: &Connection) {}

    /// Called once after a connection has closed (by either side, for any reason).
    fn on_disconnect(&self, _conn: &Connection) {}
}

/// The answer to an unknown request code: `REQUEST_CODE_NOT_SUPPORTED`, as Java answers, with
/// Java's remark `" request type <code> not supported"` (the leading space is Java's) followed by
/// `by ferromq`, so an operator whose tool prints the remark (mqadmin does) knows the request
/// reached a server that lacks it rather than a broken one.
#[must_use]
pub fn not_supported(req: &RemotingCommand) -> RemotingCommand {
    RemotingCommand::response_to(
        req,
        ResponseCode::REQUEST_CODE_NOT_SUPPORTED,
        Some(format!(
            " request type {} not supported by ferromq",
            req.code
        )),
    )
}

/// A handler that supports nothing: the default of a client that expects no server-initiated
/// requests.
#[derive(Debug, Clone, Copy, Default)]
pub struct NotSupported;

#[async_trait]
impl Handler for NotSupported {
    async fn handle(&self, _ctx: &RequestContext, req: RemotingCommand) -> Option<RemotingCommand> {
        Some(not_supported(&req))
    }
}
