//! The console's topic list: every topic with its queues' offsets and message type, and changing a
//! topic's queue count.

use serde::Serialize;

use super::BrokerService;
use crate::error::BrokerError;
use crate::names;

/// A queue's stored range.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueRange {
    pub queue_id: u32,
    /// The oldest offset still stored.
    pub min_offset: u64,
    /// The offset the next message gets.
    pub max_offset: u64,
}

/// One topic as the console lists it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TopicOverview {
    pub topic: String,
    pub read_queues: i32,
    pub write_queues: i32,
    pub perm: i32,
    /// The `message.type` attribute upper-cased, `NORMAL` without one.
    pub message_type: String,
    /// Written by the broker itself (system, retry and dead-letter topics).
    pub system: bool,
    pub queues: Vec<QueueRange>,
}

/// Topics the broker writes itself, which an operator rarely wants mixed with business topics.
#[must_use]
pub fn is_internal_topic(topic: &str) -> bool {
    topic.starts_with("rmq_sys_")
        || topic.starts_with("SCHEDULE_TOPIC")
        || topic.starts_with("RMQ_SYS_")
        || topic == names::AUTO_CREATE_TOPIC
        || topic.starts_with(names::RETRY_PREFIX)
        || topic.starts_with(names::DLQ_PREFIX)
        || topic.contains("_REPLY_TOPIC")
}

/// Most queues a topic may be given from the console: Java's default `topicQueueNums` limit is
/// far below this; the bound only keeps a typo from creating thousands of queue files.
pub const MAX_CONSOLE_QUEUES: i32 = 1024;

impl BrokerService {
    /// Every topic, sorted by name, with the range of each of its queues.
    #[must_use]
    pub fn console_topics(&self) -> Vec<TopicOverview> {
        let s = &*self.state;
        let mut topics = s.topics.all();
        topics.sort_by(|a, b| a.topic_name.cmp(&b.topic_name));
        topics
            .into_iter()
            .map(|t| {
                let count = u32::try_from(t.read_queue_nums.max(t.write_queue_nums)).unwrap_or(0);
                let queues = (0..count)
                    .map(|q| QueueRange {
                        queue_id: q,
                        min_offset: s.store.min_queue_offset(&t.topic_name, q),
                        max_offset: s.store.max_queue_offset(&t.topic_name, q),
                    })
                    .collect();
                let message_type = t
                    .attributes
                    .get(super::MESSAGE_TYPE_ATTRIBUTE)
                    .map_or_else(|| "NORMAL".to_owned(), |v| v.to_ascii_uppercase());
                TopicOverview {
                    system: is_internal_topic(&t.topic_name),
                    topic: t.topic_name,
                    read_queues: t.read_queue_nums,
                    write_queues: t.write_queue_nums,
                    perm: t.perm,
                    message_type,
                    queues,
                }
            })
            .collect()
    }

    /// Gives an existing topic `queues` read and write queues, keeping its other settings.
    ///
    /// # Errors
    /// `TopicNotExist`, a count outside 1..=[`MAX_CONSOLE_QUEUES`], failing to persist.
    pub fn console_set_queue_count(&self, topic: &str, queues: i32) -> Result<(), BrokerError> {
        if !(1..=MAX_CONSOLE_QUEUES).contains(&queues) {
            return Err(BrokerError::BadBody(format!(
                "queue count must be between 1 and {MAX_CONSOLE_QUEUES}, not {queues}"
            )));
        }
        let mut config = self.topic(topic)?;
        config.read_queue_nums = queues;
        config.write_queue_nums = queues;
        self.create_topic(config, names::AUTO_CREATE_TOPIC)
    }
}

/// The `message.type` values RocketMQ 5 accepts.
const MESSAGE_TYPES: [&str; 5] = ["NORMAL", "FIFO", "DELAY", "TRANSACTION", "MIXED"];

impl BrokerService {
    /// Creates `topic` with `queues` read and write queues and a message type (`NORMAL`, `FIFO`,
    /// `DELAY`, `TRANSACTION` or `MIXED`); an existing topic keeps its other settings.
    ///
    /// # Errors
    /// A bad name, count or type; failing to persist.
    pub fn console_create_topic(
        &self,
        topic: &str,
        queues: i32,
        message_type: &str,
    ) -> Result<(), BrokerError> {
        names::validate_topic(topic)?;
        if !(1..=MAX_CONSOLE_QUEUES).contains(&queues) {
            return Err(BrokerError::BadBody(format!(
                "queue count must be between 1 and {MAX_CONSOLE_QUEUES}, not {queues}"
            )));
        }
        let kind = message_type.to_ascii_uppercase();
        if !MESSAGE_TYPES.contains(&kind.as_str()) {
            return Err(BrokerError::BadBody(format!(
                "message type must be one of {}, not {message_type:?}",
                MESSAGE_TYPES.join(", ")
            )));
        }
        let mut config = self.state.topics.get(topic).unwrap_or_else(|| {
            crate::topics::topic_config(
                topic,
                queues,
                ferromq_remoting::body::route::perm::READ
                    | ferromq_remoting::body::route::perm::WRITE,
            )
        });
        config.read_queue_nums = queues;
        config.write_queue_nums = queues;
        config
            .attributes
            .insert(super::MESSAGE_TYPE_ATTRIBUTE.to_owned(), kind);
        self.create_topic(config, names::AUTO_CREATE_TOPIC)
    }
}
