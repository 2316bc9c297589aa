//! [`Failure`]: why a command failed, what to do next, and the exit code scripts can branch on.

use ferromq_client::ClientError;
use ferromq_remoting::ResponseCode;

/// The command did what was asked.
pub const EXIT_OK: i32 = 0;
/// The command line is wrong (clap uses the same code for its own errors).
pub const EXIT_USAGE: i32 = 2;
/// The topic, group, broker, cluster or message does not exist.
pub const EXIT_NOT_FOUND: i32 = 3;
/// A server refused the request or could not be reached.
pub const EXIT_SERVER: i32 = 4;

/// A failed admin command.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error("{message}")]
    Usage { message: String, hint: String },
    #[error("{message}")]
    NotFound { message: String, hint: String },
    #[error("{source}")]
    Server {
        #[source]
        source: ClientError,
        hint: String,
    },
}

impl Failure {
    pub fn usage(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self::Usage {
            message: message.into(),
            hint: hint.into(),
        }
    }

    pub fn not_found(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Self::NotFound {
            message: message.into(),
            hint: hint.into(),
        }
    }

    /// The process exit code.
    #[must_use]
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Usage { .. } => EXIT_USAGE,
            Self::NotFound { .. } => EXIT_NOT_FOUND,
            Self::Server { .. } => EXIT_SERVER,
        }
    }

    /// What the operator can do next.
    #[must_use]
    pub fn hint(&self) -> Option<&str> {
        let hint = match self {
            Self::Usage { hint, .. } | Self::NotFound { hint, .. } | Self::Server { hint, .. } => {
                hint
            }
        };
        (!hint.is_empty()).then_some(hint.as_str())
    }

    /// Classifies a client error; `namesrv` names the name servers for connection hints.
    #[must_use]
    pub fn from_client(e: ClientError, namesrv: &str) -> Self {
        let not_found = |hint: &str| Self::NotFound {
            message: e.to_string(),
            hint: hint.to_owned(),
        };
        match &e {
            ClientError::Server { code, .. } if *code == ResponseCode::TOPIC_NOT_EXIST => {
                not_found("list topics with `ferromq admin topicList`; create one with `ferromq admin updateTopic -c <cluster> -t <topic>`")
            }
            ClientError::Server { code, .. }
                if *code == ResponseCode::SUBSCRIPTION_GROUP_NOT_EXIST =>
            {
                not_found("create the group with `ferromq admin updateSubGroup -c <cluster> -g <group>`")
            }
            ClientError::Server { code, .. } if *code == ResponseCode::CONSUMER_NOT_ONLINE => {
                not_found("no consumer of this group is connected; start one, or use `consumerProgress -g <group>` for its offsets")
            }
            ClientError::Server { code, .. } if *code == ResponseCode::QUERY_NOT_FOUND => {
                not_found("check the id, key or offset; `topicStatus -t <topic>` shows each queue's offsets")
            }
            ClientError::BrokerNotFound { .. } => {
                not_found("`clusterList` shows the brokers the name servers know")
            }
            ClientError::InvalidArgument(m) if m.starts_with("no cluster named") => {
                not_found("`clusterList` shows the cluster names")
            }
            ClientError::InvalidArgument(_) | ClientError::InvalidMessage(_) => Self::Usage {
                message: e.to_string(),
                hint: "see `ferromq admin <command> --help`".to_owned(),
            },
            ClientError::Net { .. } | ClientError::NoNameServer | ClientError::Shutdown => {
                Self::Server {
                    hint: format!("is the server running? the name servers are {namesrv} (-n or NAMESRV_ADDR); brokers are reached at the addresses they registered"),
                    source: e,
                }
            }
            _ => Self::Server {
                hint: "the remark above is the server's explanation; fix the request or the server and retry".to_owned(),
                source: e,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_tell_not_found_from_server_errors() {
        let refused = |code| ClientError::Server {
            addr: "127.0.0.1:1".into(),
            code,
            remark: "r".into(),
        };
        assert_eq!(
            Failure::from_client(refused(ResponseCode::TOPIC_NOT_EXIST), "ns").exit_code(),
            EXIT_NOT_FOUND
        );
        assert_eq!(
            Failure::from_client(refused(ResponseCode::SYSTEM_ERROR), "ns").exit_code(),
            EXIT_SERVER
        );
        let f = Failure::from_client(
            ClientError::InvalidArgument("no cluster named X".into()),
            "ns",
        );
        assert_eq!(f.exit_code(), EXIT_NOT_FOUND);
        assert!(f.hint().is_some_and(|h| h.contains("clusterList")));
    }
}
