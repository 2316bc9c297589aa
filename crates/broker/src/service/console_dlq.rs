//! The console's dead-letter queues: a group's dead letters, and sending one or all of them back
//! to the topic they came from, so the group (and any other group of that topic) gets them again.

use std::borrow::Cow;

use ferromq_model::properties::{self, keys};
use ferromq_model::record::SYSFLAG_TRANSACTION_MASK;
use serde::Serialize;

use super::console_messages::{decode, ConsoleMessage, MAX_SEARCH_RESULTS};
use super::send::{SendMessages, SendRequest};
use super::BrokerService;
use crate::error::BrokerError;
use crate::names;
use crate::transaction::edit_properties;

/// Where a POP dead letter keeps its origin (set by `pop_ack::dead_letter`).
const DLQ_ORIGIN_TOPIC: &str = "DLQ_ORIGIN_TOPIC";
const DLQ_ORIGIN_MESSAGE_ID: &str = "DLQ_ORIGIN_MESSAGE_ID";

/// A page of a group's dead letters.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetters {
    pub group: String,
    pub topic: String,
    pub min_offset: u64,
    pub max_offset: u64,
    /// Each with the topic a resend goes to.
    pub messages: Vec<DeadLetter>,
}

/// One dead letter.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetter {
    #[serde(flatten)]
    pub message: ConsoleMessage,
    /// The topic it was first sent to; `None` when the record does not say.
    pub origin_topic: Option<String>,
}

/// What a resend did.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Resent {
    /// Queue offset in the dead-letter queue → topic it went to.
    pub resent: Vec<(u64, String)>,
}

fn dlq_of(group: &str) -> Result<String, BrokerError> {
    names::validate_group(group)?;
    Ok(format!("{}{group}", names::DLQ_PREFIX))
}

impl BrokerService {
    /// Up to [`MAX_SEARCH_RESULTS`] dead letters of `group` from queue offset `from` (the oldest
    /// kept when `None`). A group without dead letters has an empty page.
    ///
    /// # Errors
    /// A bad group name, store failures.
    pub fn console_dead_letters(
        &self,
        group: &str,
        from: Option<u64>,
    ) -> Result<DeadLetters, BrokerError> {
        let topic = dlq_of(group)?;
        let s = &*self.state;
        let min = s.store.min_queue_offset(&topic, 0);
        let max = s.store.max_queue_offset(&topic, 0);
        let mut messages = Vec::new();
        if s.topics.get(&topic).is_some() {
            for (_, bytes) in
                self.read_queue(&topic, 0, from.unwrap_or(min).max(min), MAX_SEARCH_RESULTS)?
            {
                let message = decode(&bytes)?;
                messages.push(DeadLetter {
                    origin_topic: origin_topic(&message),
                    message,
                });
            }
        }
        Ok(DeadLetters {
            group: group.to_owned(),
            topic,
            min_offset: min,
            max_offset: max,
            messages,
        })
    }

    /// Sends the dead letter at queue offset `offset` of `group`'s dead-letter queue (every one
    /// still stored when `None`) back to its original topic, as a new message with the same body,
    /// keys, tag and unique key and no reconsume history.
    ///
    /// # Errors
    /// A bad group, no such dead letter, one whose origin is unknown, send refusals.
    pub async fn console_resend_dead_letters(
        &self,
        group: &str,
        offset: Option<u64>,
    ) -> Result<Resent, BrokerError> {
        let topic = dlq_of(group)?;
        let s = &*self.state;
        if s.topics.get(&topic).is_none() {
            return Err(BrokerError::NotFound(format!(
                "{group} has no dead letters"
            )));
        }
        let (min, max) = (
            s.store.min_queue_offset(&topic, 0),
            s.store.max_queue_offset(&topic, 0),
        );
        let range = match offset {
            Some(o) if o < min || o >= max => {
                return Err(BrokerError::NotFound(format!(
                    "no dead letter at offset {o} of {topic} (stored: {min}..{max})"
                )))
            }
            Some(o) => o..o + 1,
            None => min..max,
        };
        let mut resent = Vec::new();
        let mut next = range.start;
        while next < range.end {
            let want = usize::try_from(range.end - next)
                .unwrap_or(usize::MAX)
                .min(MAX_SEARCH_RESULTS);
            let got = self.read_queue(&topic, 0, next, want)?;
            if got.is_empty() {
                break;
            }
            for (queue_offset, bytes) in got {
                next = queue_offset + 1;
                let to = self.resend_one(&bytes).await?;
                resent.push((queue_offset, to));
            }
        }
        Ok(Resent { resent })
    }

    async fn resend_one(&self, bytes: &[u8]) -> Result<String, BrokerError> {
        let Ok(ferromq_model::record::Entry::Message(v)) =
            ferromq_model::record::read(bytes, false)
        else {
            return Err(BrokerError::Missing("dead letter does not decode".into()));
        };
        let [retry_topic, pop_origin] =
            properties::get_all(v.properties, [keys::RETRY_TOPIC, DLQ_ORIGIN_TOPIC]);
        let Some(origin) = retry_topic.or(pop_origin).map(str::to_owned) else {
            return Err(BrokerError::BadBody(format!(
                "dead letter at offset {} does not name its original topic",
                v.queue_offset
            )));
        };
        // A fresh message: no retry bookkeeping, no delay, no POP checkpoint.
        let props = edit_properties(
            v.properties,
            &[
                keys::DELAY_TIME_LEVEL,
                keys::RETRY_TOPIC,
                keys::ORIGIN_MESSAGE_ID,
                keys::RECONSUME_TIME,
                keys::MAX_RECONSUME_TIMES,
                keys::REAL_TOPIC,
                keys::REAL_QUEUE_ID,
                DLQ_ORIGIN_TOPIC,
                DLQ_ORIGIN_MESSAGE_ID,
                super::POP_CK,
            ],
            &[],
        );
        self.send(SendRequest {
            topic: origin.clone(),
            queue_id: None,
            default_topic: "",
            default_topic_queue_nums: 0,
            flag: v.flag,
            sys_flag: v.sys_flag & !SYSFLAG_TRANSACTION_MASK,
            born_timestamp: crate::topics::now_ms(),
            born_host: self.state.advertised,
            reconsume_times: 0,
            max_reconsume_times: None,
            messages: SendMessages::One {
                properties: Cow::Owned(props),
                body: v.body,
            },
        })
        .await?;
        Ok(origin)
    }
}

fn origin_topic(m: &ConsoleMessage) -> Option<String> {
    m.properties
        .get(keys::RETRY_TOPIC)
        .or_else(|| m.properties.get(DLQ_ORIGIN_TOPIC))
        .cloned()
}
