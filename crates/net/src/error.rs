//! `NetError`: everything that can go wrong between two peers.

use ferromq_remoting::{DecodeError, EncodeError};

/// A transport failure.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// Reading from or writing to the socket failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// The TCP connection could not be established.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    /// The TLS handshake failed: an untrusted certificate, a server that does not speak TLS, a
    /// client certificate the server refused, ...
    #[error("TLS with {addr} failed: {source}")]
    Tls {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    /// The TCP connection was not established within the configured time.
    #[error("connecting to {addr} timed out after {millis} ms")]
    ConnectTimeout { addr: String, millis: u64 },
    /// The peer sent bytes that are not a valid frame; the connection is closed.
    #[error("malformed frame: {0}")]
    Decode(#[from] DecodeError),
    /// The command cannot be represented on the wire; nothing was sent.
    #[error("cannot encode command: {0}")]
    Encode(#[from] EncodeError),
    /// No response arrived in time; a late response is discarded.
    #[error("no response within {millis} ms")]
    Timeout { millis: u64 },
    /// The connection closed before the command was sent or answered.
    #[error("connection closed")]
    ConnectionClosed,
    /// The client (or pool) was shut down.
    #[error("client is shut down")]
    Shutdown,
}

impl NetError {
    /// A `Timeout` for `d`, saturating at `u64::MAX` milliseconds.
    pub(crate) fn timeout(d: std::time::Duration) -> Self {
        Self::Timeout {
            millis: u64::try_from(d.as_millis()).unwrap_or(u64::MAX),
        }
    }
}
