//! A consumer hands back a message it failed to consume. The broker stores a copy in
//! `%RETRY%<group>` with the next delay level (3 + reconsume times unless the request names one),
//! or in `%DLQ%<group>` once the reconsume times reach the group's maximum (or the request's delay
//! level is negative).

use std::net::SocketAddr;

use ferromq_model::msg_id::offset_msg_id;
use ferromq_model::properties::{self, keys};
use ferromq_model::record::RecordDraft;
use ferromq_remoting::body::route::perm;
use tracing::info;

use super::retry::{dlq_topic, max_reconsume_times, DLQ_QUEUES};
use super::BrokerService;
use crate::error::BrokerError;
use crate::names;
use crate::transaction::{edit_properties, read_record, view};

/// A message handed back by a consumer of `group`.
#[derive(Debug, Clone)]
pub struct SendBack {
    pub group: String,
    /// Where the message is in the commit log, as the consumer read it.
    pub offset: i64,
    /// 0: the next level; negative: straight to the dead-letter queue.
    pub delay_level: i32,
    /// The consumer's reconsume limit (else the group's `retryMaxTimes`).
    pub max_reconsume_times: Option<i32>,
    /// The topic the consumer read it from (logged only).
    pub origin_topic: Option<String>,
    pub consumer: SocketAddr,
}

impl BrokerService {
    /// Stores the message for a later retry, or dead-letters it.
    ///
    /// # Errors
    /// Replica refusals, a bad or unknown group, a read-only retry topic, an offset that names no
    /// message (`Missing`), store failures.
    pub fn send_back(&self, req: &SendBack) -> Result<(), BrokerError> {
        self.check_writable()?;
        let s = &*self.state;
        names::validate_group(&req.group)?;
        // Java looks the group up, creating it when auto-creation is on.
        if s.subscriptions.get(&req.group).is_none() {
            if !s.live.auto_create_subscription_group() {
                return Err(BrokerError::SubscriptionGroupNotExist(req.group.clone()));
            }
            s.subscriptions.ensure(&req.group)?;
        }
        let retry_topic = names::retry_topic(&req.group);
        s.topics.ensure_retry(&req.group)?;
        let retry = s
            .topics
            .get(&retry_topic)
            .ok_or_else(|| BrokerError::TopicNotExist(retry_topic.clone()))?;
        if retry.perm & perm::WRITE == 0 {
            return Err(BrokerError::NoPermission {
                topic: retry_topic,
                action: "write",
            });
        }
        let missing =
            || BrokerError::Missing(format!("look message by offset failed, {}", req.offset));
        let offset = u64::try_from(req.offset).map_err(|_| missing())?;
        let bytes = read_record(&s.store, offset).map_err(|_| missing())?;
        let msg = view(&bytes)?;

        let max = max_reconsume_times(s, &req.group, req.max_reconsume_times);
        let to_dlq = msg.reconsume_times >= max || req.delay_level < 0;
        let (topic, queue_id, delay) = if to_dlq {
            let dlq = dlq_topic(&req.group);
            s.topics.ensure_internal(&dlq, DLQ_QUEUES)?;
            (dlq, 0, None)
        } else {
            let level = if req.delay_level == 0 {
                3 + msg.reconsume_times
            } else {
                req.delay_level
            };
            let queues = retry.write_queue_nums.max(1).unsigned_abs();
            (retry_topic, pick(queues), Some(level.to_string()))
        };

        // The original topic and id survive every hop: set on the first one only.
        let [origin, retry_topic_prop, uniq] = properties::get_all(
            msg.properties,
            [keys::ORIGIN_MESSAGE_ID, keys::RETRY_TOPIC, keys::UNIQ_KEY],
        );
        let origin_id = origin.map_or_else(
            || offset_msg_id(msg.store_host, msg.physical_offset),
            str::to_owned,
        );
        let mut set: Vec<(&str, &str)> = vec![
            (keys::ORIGIN_MESSAGE_ID, &origin_id),
            (keys::WAIT_STORE_MSG_OK, "false"),
        ];
        if retry_topic_prop.is_none() {
            set.push((keys::RETRY_TOPIC, msg.topic));
        }
        if let Some(level) = &delay {
            set.push((keys::DELAY_TIME_LEVEL, level));
        }
        crate::trace::hooks::step(
            s.trace.as_deref(),
            crate::trace::Kind::SentBack,
            &msg,
            &req.group,
            &req.consumer.to_string(),
            format!(
                "reconsumeTimes={} delayLevel={}",
                msg.reconsume_times,
                delay.as_deref().unwrap_or("dlq")
            ),
        );
        let props = edit_properties(msg.properties, &[keys::DELAY_TIME_LEVEL], &set);
        let result = super::put_message(
            s,
            &RecordDraft {
                topic: &topic,
                queue_id,
                flag: msg.flag,
                sys_flag: msg.sys_flag,
                born_timestamp: msg.born_timestamp,
                born_host: msg.born_host,
                store_host: s.advertised,
                reconsume_times: msg.reconsume_times + 1,
                prepared_transaction_offset: msg.prepared_transaction_offset,
                body: msg.body,
                properties: &props,
            },
        )?;
        s.stats
            .add_put(&topic, result.records.iter().map(|r| u64::from(r.size)));
        if to_dlq {
            info!(
                dlq = %topic,
                group = %req.group,
                origin_topic = ?req.origin_topic,
                msg_id = ?uniq,
                reconsume_times = msg.reconsume_times,
                "message sent to the dead-letter queue"
            );
        }
        Ok(())
    }
}

/// A queue in `0..queues`, spread by the clock.
fn pick(queues: u32) -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    nanos % queues.max(1)
}
