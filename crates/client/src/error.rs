//! `ClientError`: everything a client call can fail with.

use std::path::PathBuf;

use ferromq_net::NetError;
use ferromq_remoting::{DecodeError, ResponseCode};

/// A failed client call.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The request did not get an answer: connect failure, timeout, closed connection.
    #[error("request to {addr} failed: {source}")]
    Net {
        addr: String,
        #[source]
        source: NetError,
    },
    /// The server answered with a failure code.
    #[error("{addr} refused the request: {code} {remark}")]
    Server {
        addr: String,
        code: ResponseCode,
        /// The server's explanation (empty when it gave none).
        remark: String,
    },
    /// The server answered with something we cannot read.
    #[error("malformed response from {addr}: {source}")]
    Decode {
        addr: String,
        #[source]
        source: DecodeError,
    },
    /// The configuration lists no name server.
    #[error("no name server address configured")]
    NoNameServer,
    /// The route has no queue we can produce to (no writable queue with a known master).
    #[error("topic {topic} has no writable queue")]
    NoWritableQueue { topic: String },
    /// No address is known for a broker (it left the route, or the route was never fetched).
    #[error("no address known for broker {broker_name}")]
    BrokerNotFound { broker_name: String },
    /// The message cannot be sent as it is (empty topic or body, too large, batch rules...).
    #[error("invalid message: {0}")]
    InvalidMessage(String),
    /// A call argument or configuration value is unusable.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The local offset file of a broadcasting consumer cannot be read or written.
    #[error("offset file {path}: {source}")]
    OffsetFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The client was shut down.
    #[error("the client is shut down")]
    Shutdown,
}

/// Response codes on which Java producers retry a send (`DefaultMQProducer.retryResponseCodes`).
const SEND_RETRY_CODES: [ResponseCode; 8] = [
    ResponseCode::TOPIC_NOT_EXIST,
    ResponseCode::SERVICE_NOT_AVAILABLE,
    ResponseCode::SYSTEM_ERROR,
    ResponseCode::SYSTEM_BUSY,
    ResponseCode::NO_PERMISSION,
    ResponseCode::NO_BUYER_ID,
    ResponseCode::NOT_IN_CURRENT_UNIT,
    ResponseCode::GO_AWAY,
];

impl ClientError {
    /// The server's response code, when the server refused.
    #[must_use]
    pub fn code(&self) -> Option<ResponseCode> {
        match self {
            Self::Server { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Whether a producer should try again (on another broker): transport failures and the retry
    /// codes of the Java producer.
    #[must_use]
    pub fn is_retryable_send(&self) -> bool {
        match self {
            Self::Net { source, .. } => !matches!(source, NetError::Shutdown | NetError::Encode(_)),
            Self::Server { code, .. } => SEND_RETRY_CODES.contains(code),
            Self::BrokerNotFound { .. } => true,
            _ => false,
        }
    }

    pub(crate) fn net(addr: &str, source: NetError) -> Self {
        match source {
            NetError::Shutdown => Self::Shutdown,
            source => Self::Net {
                addr: addr.to_owned(),
                source,
            },
        }
    }

    pub(crate) fn decode(addr: &str, source: DecodeError) -> Self {
        Self::Decode {
            addr: addr.to_owned(),
            source,
        }
    }
}
