//! Server-side queue assignment (RocketMQ 5's `QUERY_ASSIGNMENT`) and the per (topic, group)
//! request mode behind it. A remoting consumer that lets the broker rebalance asks which queues are
//! its own and how to consume each: by pulling (the group's allocation strategy over its live
//! consumers, exactly what the client would have computed) or by popping (the group was switched to
//! POP; then `popShareQueueNum` says how many other consumers' queues it shares, see
//! `crate::allocate::allocate_pop`).
//!
//! The queues shared out are the topic's readable queues on every broker, as the name servers
//! route them (a client asks one broker and uses the answer for the whole topic); with no name
//! server answering, or none knowing the topic yet (it registers right after creation), this
//! broker's own queues.

use ferromq_remoting::body::assignment::{
    MessageQueueAssignment, MessageRequestMode, MessageRequestModeWrapper,
    SetMessageRequestModeRequestBody,
};
use ferromq_remoting::body::heartbeat::MessageModel;
use ferromq_remoting::body::lock::MessageQueue;
use ferromq_remoting::body::route::perm;
use tracing::{info, warn};

use super::BrokerService;
use crate::allocate::{allocate_pop, PopShare, Strategy};
use crate::error::BrokerError;
use crate::names;

/// What a consumer asks in `QUERY_ASSIGNMENT`.
#[derive(Debug, Clone)]
pub struct AssignmentQuery {
    pub topic: String,
    pub group: String,
    pub client_id: String,
    /// The client's allocation strategy name (`AVG`, `AVG_BY_CIRCLE`).
    pub strategy: String,
    pub model: MessageModel,
}

/// A group's mode when none was set: PULL, as Apache's `defaultMessageRequestMode`.
const DEFAULT_MODE: MessageRequestMode = MessageRequestMode::Pull;

impl BrokerService {
    /// Sets how `mode.consumer_group` consumes `mode.topic`, persisted before it is answered.
    ///
    /// # Errors
    /// A retry topic (`NO_PERMISSION`, as Java), bad names, an unknown mode, failing to persist.
    pub fn set_request_mode(
        &self,
        mode: SetMessageRequestModeRequestBody,
    ) -> Result<(), BrokerError> {
        if mode.topic.starts_with(names::RETRY_PREFIX) {
            return Err(BrokerError::Forbidden(
                "retry topic is not allowed to set mode".into(),
            ));
        }
        names::validate_topic(&mode.topic)?;
        names::validate_group(&mode.consumer_group)?;
        if mode.mode.is_none() {
            return Err(BrokerError::BadBody("mode must be PULL or POP".into()));
        }
        info!(topic = %mode.topic, group = %mode.consumer_group, mode = ?mode.mode, share = mode.pop_share_queue_num, "message request mode set");
        self.state.request_modes.set(mode)
    }

    /// Every request mode set on this broker (`GET_ALL_MESSAGE_REQUEST_MODE`).
    #[must_use]
    pub fn request_modes(&self) -> MessageRequestModeWrapper {
        self.state.request_modes.all()
    }

    /// The queues `query.client_id` consumes and how. `None`: no usable answer (unknown topic, no
    /// live consumer in the group, an unknown strategy, no queue); the client keeps what it has.
    /// An empty list: it has no queue now.
    ///
    /// # Errors
    /// A bad topic or group name.
    pub async fn query_assignment(
        &self,
        query: &AssignmentQuery,
    ) -> Result<Option<Vec<MessageQueueAssignment>>, BrokerError> {
        names::validate_topic(&query.topic)?;
        names::validate_group(&query.group)?;
        let s = &*self.state;
        let (mode, share) = match s.request_modes.get(&query.topic, &query.group) {
            Some(set) => (set.mode.unwrap_or(DEFAULT_MODE), set.pop_share_queue_num),
            // Unset (and always for retry topics): pulled. The share only matters for POP.
            None => (DEFAULT_MODE, 0),
        };
        let routed = s
            .topic_routes
            .readable_queues(&s.config.namesrv_addrs, &query.topic)
            .await;
        let Some(all) = routed.or_else(|| self.local_queues(&query.topic)) else {
            return Ok(None);
        };
        let queues = match query.model {
            MessageModel::Broadcasting => all,
            MessageModel::Clustering => {
                let clients = s.clients.consumer_ids(&query.group);
                if clients.is_empty() {
                    warn!(group = %query.group, topic = %query.topic, "no assignment: the group has no live consumer");
                    return Ok(None);
                }
                let Some(strategy) = Strategy::named(&query.strategy) else {
                    warn!(group = %query.group, strategy = %query.strategy, "no assignment: unsupported allocation strategy");
                    return Ok(None);
                };
                let allocated = if mode == MessageRequestMode::Pop {
                    allocate_pop(strategy, &query.client_id, &all, &clients, share).map(|a| match a
                    {
                        PopShare::Queues(q) => q,
                        // Any queue of each broker: one assignment per broker once deduplicated.
                        PopShare::AnyQueue => all
                            .iter()
                            .map(|q| MessageQueue {
                                queue_id: -1,
                                ..q.clone()
                            })
                            .collect(),
                    })
                } else {
                    strategy.allocate(&query.client_id, &all, &clients)
                };
                match allocated {
                    Ok(q) => q,
                    Err(e) => {
                        warn!(group = %query.group, topic = %query.topic, error = %e, "no assignment");
                        return Ok(None);
                    }
                }
            }
        };
        // A set, as Java's answer: a queue shared with a following consumer may come twice.
        let mut queues = queues;
        queues.sort();
        queues.dedup();
        Ok(Some(
            queues
                .into_iter()
                .map(|message_queue| MessageQueueAssignment {
                    message_queue,
                    mode,
                    attachments: std::collections::BTreeMap::new(),
                })
                .collect(),
        ))
    }

    /// This broker's readable queues of `topic`, sorted; `None` for a topic it does not have.
    fn local_queues(&self, topic: &str) -> Option<Vec<MessageQueue>> {
        let s = &*self.state;
        let config = s.topics.get(topic)?;
        if config.perm & perm::READ == 0 {
            return Some(Vec::new());
        }
        Some(
            (0..config.read_queue_nums.max(0))
                .map(|queue_id| MessageQueue {
                    broker_name: s.config.broker_name.clone(),
                    queue_id,
                    topic: topic.to_owned(),
                })
                .collect(),
        )
    }
}
