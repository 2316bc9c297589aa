//! The console's stuck queues: for every (group, topic, queue) with messages left behind, the
//! oldest of them, how long it has waited and how often it was delivered again.

use serde::Serialize;

use super::console_messages::decode;
use super::BrokerService;

/// The oldest unconsumed message of one group's queue.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StuckQueue {
    pub group: String,
    pub topic: String,
    pub queue_id: u32,
    pub lag_messages: u64,
    /// Queue offset of the oldest unconsumed message.
    pub offset: u64,
    pub msg_id: String,
    pub store_timestamp: i64,
    /// How long it has been stored (ms).
    pub age_ms: u64,
    /// Reconsume times recorded in the message (deliveries through the retry topic).
    pub reconsume_times: i32,
    /// POP deliveries of this queue in flight.
    pub inflight: u64,
    pub keys: Vec<String>,
}

impl BrokerService {
    /// Every group queue with lag, oldest waiting message first.
    #[must_use]
    pub fn console_stuck_queues(&self) -> Vec<StuckQueue> {
        let s = &*self.state;
        let now = u64::try_from(crate::topics::now_ms()).unwrap_or(0);
        let mut out: Vec<StuckQueue> = self
            .metrics()
            .lags
            .into_iter()
            .filter(|l| l.lag_messages > 0)
            .filter_map(|l| {
                let end = s.store.max_queue_offset(&l.topic, l.queue_id);
                let from = end
                    .saturating_sub(l.lag_messages)
                    .max(s.store.min_queue_offset(&l.topic, l.queue_id));
                let (offset, bytes) = self
                    .read_queue(&l.topic, l.queue_id, from, 1)
                    .ok()?
                    .into_iter()
                    .next()?;
                let m = decode(&bytes).ok()?;
                Some(StuckQueue {
                    age_ms: now.saturating_sub(u64::try_from(m.store_timestamp).unwrap_or(now)),
                    group: l.group,
                    topic: l.topic,
                    queue_id: l.queue_id,
                    lag_messages: l.lag_messages,
                    offset,
                    msg_id: m.msg_id,
                    store_timestamp: m.store_timestamp,
                    reconsume_times: m.reconsume_times,
                    inflight: l.inflight,
                    keys: m.keys,
                })
            })
            .collect();
        out.sort_by_key(|s| std::cmp::Reverse(s.age_ms));
        out
    }
}
