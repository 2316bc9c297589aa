//! Who may change the broker through the console. With `authenticationEnabled` or
//! `authorizationEnabled` on, a state-changing console call carries an access key and secret key,
//! checked against the broker's users (the registry the remoting and gRPC checks use) and
//! authorized exactly as the remoting admin request doing the same thing would be.

use std::net::IpAddr;

use ferromq_auth::UserStatus;
use ferromq_remoting::{RemotingCommand, RequestCode};

use super::BrokerService;

/// A state-changing console call, named by what it touches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsoleAction {
    /// Create a topic or change its queue count: UPDATE_AND_CREATE_TOPIC.
    UpdateTopic { topic: String },
    /// DELETE_TOPIC_IN_BROKER.
    DeleteTopic { topic: String },
    /// Reset or skip a group's offsets of a topic: INVOKE_BROKER_TO_RESET_OFFSET.
    ResetOffset { group: String, topic: String },
    /// Send a group's dead letters back: CONSUMER_SEND_MSG_BACK, the request that moves a group's
    /// messages between its topics and its retry and dead-letter queues.
    ResendDeadLetters { group: String },
}

impl ConsoleAction {
    /// The remoting request with the same effect, as the ACL rules read it.
    fn as_request(&self) -> RemotingCommand {
        match self {
            Self::UpdateTopic { topic } => {
                RemotingCommand::request(RequestCode::UPDATE_AND_CREATE_TOPIC)
                    .with_ext("topic", topic)
            }
            Self::DeleteTopic { topic } => {
                RemotingCommand::request(RequestCode::DELETE_TOPIC_IN_BROKER)
                    .with_ext("topic", topic)
            }
            Self::ResetOffset { group, topic } => {
                RemotingCommand::request(RequestCode::INVOKE_BROKER_TO_RESET_OFFSET)
                    .with_ext("topic", topic)
                    .with_ext("group", group)
            }
            Self::ResendDeadLetters { group } => {
                RemotingCommand::request(RequestCode::CONSUMER_SEND_MSG_BACK)
                    .with_ext("group", group)
            }
        }
    }
}

/// Why a console call is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsoleDenied {
    /// No credentials, an unknown user, a wrong secret or a disabled user (HTTP 401).
    #[error("authentication failed: {0}")]
    Unauthenticated(String),
    /// A known user without the permission (HTTP 403).
    #[error("permission denied: {0}")]
    Forbidden(String),
}

/// An access key and secret key, as the caller presented them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleCredentials {
    pub access_key: String,
    pub secret_key: String,
}

/// Compares without stopping at the first difference, so the time taken does not tell how much
/// of a guessed secret was right.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl BrokerService {
    /// Whether the console must ask for credentials before changing anything.
    #[must_use]
    pub fn console_auth_required(&self) -> bool {
        let c = &self.state.config;
        c.authentication_enabled || c.authorization_enabled
    }

    /// Admits `action` from `caller` at `source`, or says why not. Always admits when neither
    /// check is on.
    ///
    /// # Errors
    /// [`ConsoleDenied`].
    pub fn console_authorize(
        &self,
        action: &ConsoleAction,
        caller: Option<&ConsoleCredentials>,
        source: IpAddr,
    ) -> Result<(), ConsoleDenied> {
        let c = &self.state.config;
        if !self.console_auth_required() {
            return Ok(());
        }
        let Some(caller) = caller else {
            return Err(ConsoleDenied::Unauthenticated(
                "this broker has authentication on: send the access key and secret key (HTTP Basic)"
                    .into(),
            ));
        };
        // The same live registry the remoting and gRPC checks read (and a replica's mirroring
        // updates), so a user created or deleted a moment ago counts at once.
        let registry = self.state.guard.registry();
        let unknown = || {
            ConsoleDenied::Unauthenticated(format!(
                "unknown user or wrong secret key for {}",
                caller.access_key
            ))
        };
        let user = registry.users.get(&caller.access_key).ok_or_else(unknown)?;
        if c.authentication_enabled {
            if !same_secret(&user.password, &caller.secret_key) {
                return Err(unknown());
            }
            if user.status == UserStatus::Disabled {
                return Err(ConsoleDenied::Unauthenticated(format!(
                    "user {} is disabled",
                    user.name
                )));
            }
        }
        if c.authorization_enabled {
            registry
                .authorize(user, &action.as_request(), &c.cluster_name, Some(source))
                .map_err(|e| ConsoleDenied::Forbidden(e.to_string()))?;
        }
        Ok(())
    }
}
