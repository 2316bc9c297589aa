//! Recalling a timer message before it is due: checks the handle against this broker and the
//! waiting message, then stores a cancel marker for the timer (see [`crate::schedule::recall`]).

use std::net::SocketAddr;
use std::time::Duration;

use ferromq_model::properties::{self, keys};
use ferromq_model::record::{self, Entry, RecordDraft};

use super::BrokerService;
use crate::error::BrokerError;
use crate::schedule::recall::{RecallError, RecallHandle, DEL_UNIQ_KEY};
use crate::schedule::{now_ms, props, TIMER_TOPIC};

/// How long a recall waits for the index to cover a send that was just acknowledged.
const INDEX_WAIT: Duration = Duration::from_secs(3);
/// Apache RocketMQ's tag on cancel markers.
const MARKER_TAG: &str = "_RECALL_TAG_";

/// One recall.
#[derive(Debug, Clone)]
pub struct Recall {
    /// The topic the producer names; must be the handle's.
    pub topic: String,
    pub handle: String,
    pub producer_group: Option<String>,
    pub born_host: SocketAddr,
}

impl BrokerService {
    /// Cancels the delivery of the timer message `req.handle` names; answers its message id (the
    /// unique key). A recall that lands in the last moment before the message is due may come
    /// too late: the timer then delivers it (as in Apache RocketMQ).
    ///
    /// # Errors
    /// Replica or lease refusals, an unknown topic, `Recall` for a handle that is malformed, for
    /// another topic or broker, due already, or naming no timer message waiting here; store
    /// failures.
    pub async fn recall(&self, req: Recall) -> Result<String, BrokerError> {
        self.check_writable()?;
        let s = &*self.state;
        if s.topics.get(&req.topic).is_none() {
            return Err(BrokerError::TopicNotExist(req.topic));
        }
        let h = RecallHandle::decode(&req.handle)?;
        if h.topic != req.topic {
            return Err(RecallError::TopicMismatch {
                handle: h.topic,
                request: req.topic,
            }
            .into());
        }
        if h.broker_name != s.config.broker_name {
            return Err(RecallError::OtherBroker(h.broker_name).into());
        }
        let now = now_ms();
        if h.deliver_ms <= now {
            return Err(RecallError::AlreadyDue(h.deliver_ms).into());
        }
        if h.deliver_ms - now > s.schedule.timer_max_delay_ms {
            return Err(RecallError::TooFar(h.deliver_ms).into());
        }
        if !self.is_parked(&h).await? {
            return Err(RecallError::NoSuchMessage {
                topic: h.topic,
                uniq_key: h.uniq_key,
            }
            .into());
        }
        let deliver = h.deliver_ms.to_string();
        let mut marker = vec![
            (DEL_UNIQ_KEY, h.uniq_key.as_str()),
            (props::TIMER_OUT_MS, deliver.as_str()),
            (keys::REAL_TOPIC, h.topic.as_str()),
            (keys::REAL_QUEUE_ID, "0"),
            (keys::TAGS, MARKER_TAG),
        ];
        if let Some(group) = req.producer_group.as_deref().filter(|g| !g.is_empty()) {
            marker.push((keys::PRODUCER_GROUP, group));
        }
        let marker = properties::encode(marker);
        let put = s.store.put(&RecordDraft {
            topic: TIMER_TOPIC,
            queue_id: 0,
            flag: 0,
            sys_flag: 0,
            born_timestamp: now,
            born_host: req.born_host,
            store_host: s.advertised,
            reconsume_times: 0,
            prepared_transaction_offset: 0,
            body: b"",
            properties: &marker,
        })?;
        // Stored is enough, as for a send: a flush or replica timeout is logged, not refused.
        let _ = super::durability::wait(s, put).await;
        Ok(h.uniq_key)
    }

    /// True when the timer topic holds the message the handle names (same unique key, topic and
    /// delivery time): a handle forged from a guessed key is refused rather than answered OK.
    async fn is_parked(&self, h: &RecallHandle) -> Result<bool, BrokerError> {
        let store = self.state.store.clone();
        let key = h.uniq_key.clone();
        let found = tokio::task::spawn_blocking(move || {
            // The send may have been acknowledged before the index covered it.
            let _ = store.wait_dispatched(store.written_offset(), INDEX_WAIT);
            store.query_by_key(TIMER_TOPIC, &key, 32, 0, i64::MAX)
        })
        .await
        .map_err(|e| BrokerError::Missing(format!("recall lookup failed: {e}")))??;
        let deliver = h.deliver_ms.to_string();
        Ok(found.iter().any(|bytes| {
            let Ok(Entry::Message(m)) = record::read(bytes, false) else {
                return false;
            };
            let [real_topic, out, marker] = properties::get_all(
                m.properties,
                [keys::REAL_TOPIC, props::TIMER_OUT_MS, DEL_UNIQ_KEY],
            );
            real_topic == Some(h.topic.as_str())
                && out == Some(deliver.as_str())
                && marker.is_none()
        }))
    }
}
