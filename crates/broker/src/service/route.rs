//! What a client needs to address this broker's queues of one topic, without a name server: the
//! broker's name, the topic's queue counts and permission, and the message types the topic takes
//! (its `message.type` attribute). The v5 gRPC endpoint answers route queries with it; the
//! message-type rule lives here so every adapter reads the attribute the same way.

use ferromq_remoting::body::register::TopicConfig;

use super::BrokerService;
use crate::error::BrokerError;

/// The topic attribute naming the kind of messages a topic takes (RocketMQ 5's `message.type`).
pub const MESSAGE_TYPE_ATTRIBUTE: &str = "message.type";

/// A kind of message, as RocketMQ 5 topics restrict them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    Normal,
    /// Ordered within a message group.
    Fifo,
    /// Delivered at a time (delay level or timer).
    Delay,
    /// A half message until its producer commits.
    Transaction,
}

impl MessageKind {
    pub const ALL: [MessageKind; 4] = [
        MessageKind::Normal,
        MessageKind::Fifo,
        MessageKind::Delay,
        MessageKind::Transaction,
    ];

    fn parse(name: &str) -> Option<Self> {
        match name.trim().to_ascii_uppercase().as_str() {
            "NORMAL" => Some(MessageKind::Normal),
            "FIFO" => Some(MessageKind::Fifo),
            "DELAY" => Some(MessageKind::Delay),
            "TRANSACTION" => Some(MessageKind::Transaction),
            _ => None,
        }
    }
}

/// One topic as this broker serves it.
#[derive(Debug, Clone)]
pub struct TopicRoute {
    pub broker_name: String,
    pub config: TopicConfig,
    /// The kinds the topic takes: its `message.type` attribute, all of them for `MIXED`, `NORMAL`
    /// when the attribute is absent (as RocketMQ 5 does).
    pub accepts: Vec<MessageKind>,
}

impl TopicRoute {
    /// Whether a message of `kind` may be sent to the topic.
    #[must_use]
    pub fn accepts(&self, kind: MessageKind) -> bool {
        self.accepts.contains(&kind)
    }
}

impl BrokerService {
    /// The route of `topic` on this broker.
    ///
    /// # Errors
    /// `TopicNotExist`.
    pub fn route(&self, topic: &str) -> Result<TopicRoute, BrokerError> {
        let config = self.topic(topic)?;
        let accepts = accepted_kinds(&config);
        Ok(TopicRoute {
            broker_name: self.state.config.broker_name.clone(),
            config,
            accepts,
        })
    }

    /// The largest message body this broker stores, in bytes (`maxMessageSize`, live).
    #[must_use]
    pub fn max_message_size(&self) -> usize {
        self.state.live.max_message_size()
    }
}

fn accepted_kinds(config: &TopicConfig) -> Vec<MessageKind> {
    match config
        .attributes
        .get(MESSAGE_TYPE_ATTRIBUTE)
        .map(String::as_str)
    {
        None => vec![MessageKind::Normal],
        Some(v) if v.trim().eq_ignore_ascii_case("MIXED") => MessageKind::ALL.to_vec(),
        // An unknown value takes nothing, rather than silently everything.
        Some(v) => MessageKind::parse(v).into_iter().collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_type(value: Option<&str>) -> TopicConfig {
        let mut c = TopicConfig::default();
        if let Some(v) = value {
            c.attributes
                .insert(MESSAGE_TYPE_ATTRIBUTE.into(), v.to_owned());
        }
        c
    }

    #[test]
    fn message_type_attribute_decides_the_accepted_kinds() {
        assert_eq!(accepted_kinds(&with_type(None)), vec![MessageKind::Normal]);
        assert_eq!(
            accepted_kinds(&with_type(Some("FIFO"))),
            vec![MessageKind::Fifo]
        );
        assert_eq!(
            accepted_kinds(&with_type(Some("transaction"))),
            vec![MessageKind::Transaction]
        );
        assert_eq!(
            accepted_kinds(&with_type(Some("MIXED"))),
            MessageKind::ALL.to_vec()
        );
        assert!(accepted_kinds(&with_type(Some("bogus"))).is_empty());
    }
}
