//! `queryMsgTraceById`: what the brokers recorded about a message, read from the trace topic.

use ferromq_model::trace::Event;

use super::Admin;
use crate::error::ClientError;

/// The trace topic brokers (and tracing clients) write to.
pub const TRACE_TOPIC: &str = "RMQ_SYS_TRACE_TOPIC";

impl Admin {
    /// The broker-side steps of message `msg_id` (its unique id, or its offset id when it has none),
    /// oldest first: stored, delayed, delivered to which client, sent back, retried, dead-lettered,
    /// transaction outcome. Client trace entries in the same topic are skipped.
    ///
    /// # Errors
    /// The trace topic's route (absent when no broker records traces); transport failures.
    pub async fn query_message_trace(&self, msg_id: &str) -> Result<Vec<Event>, ClientError> {
        let mut events: Vec<Event> = Vec::new();
        for m in self.query_messages_by_key(TRACE_TOPIC, msg_id, 256).await? {
            let Ok(body) = std::str::from_utf8(&m.body) else {
                continue;
            };
            events.extend(
                Event::decode_all(body)
                    .into_iter()
                    .filter(|e| e.msg_id == msg_id),
            );
        }
        events.sort_by_key(|e| (e.at_ms, e.kind));
        events.dedup();
        Ok(events)
    }
}
