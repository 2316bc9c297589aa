//! Which member of a broker group (master id 0, replicas 1, 2, ...) a consumer reads from.
//!
//! Two inputs, as in RocketMQ's client (`PullAPIWrapper.pullFromWhichNodeTable` and
//! `MQClientInstance.findBrokerAddressInSubscribe`):
//!
//! - the broker's suggestion in each pull response (`suggestWhichBrokerId`), kept per queue and
//!   used for that queue's next pulls: a master sends a consumer far behind to a replica, and the
//!   replica sends it back once it has caught up;
//! - the group's addresses in the route: when the wanted member is missing (a master that left
//!   the route because it is down) another member serves, the master first, then the replicas.
//!
//! On top of RocketMQ, an address whose connection just failed is avoided for
//! [`UNREACHABLE_FOR`] while another member of the group is listed, so a consumer does not wait
//! for the name servers to notice a dead master before reading from its replica.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use ferromq_net::NetError;
use ferromq_remoting::body::route::MASTER_ID;
use parking_lot::Mutex;

use crate::error::ClientError;
use crate::message::MessageQueue;

/// How long an address whose connection failed is passed over (when the group has another).
pub(crate) const UNREACHABLE_FOR: Duration = Duration::from_secs(5);

/// A chosen member of a broker group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Member {
    pub(crate) broker_id: i64,
    pub(crate) addr: String,
}

impl Member {
    /// Not the master: offsets are not committed with pulls to it (RocketMQ's client clears the
    /// commit flag for replicas).
    #[must_use]
    pub(crate) fn is_replica(&self) -> bool {
        self.broker_id != MASTER_ID
    }
}

/// Per-queue suggestions and recently unreachable addresses of one client.
#[derive(Debug, Default)]
pub(crate) struct ReadFrom {
    suggested: Mutex<HashMap<MessageQueue, i64>>,
    unreachable: Mutex<HashMap<String, Instant>>,
}

impl ReadFrom {
    /// The member `mq` should be read from next: the last suggestion, the master if none.
    pub(crate) fn wanted(&self, mq: &MessageQueue) -> i64 {
        self.suggested.lock().get(mq).copied().unwrap_or(MASTER_ID)
    }

    /// Records a pull response's suggestion for `mq`'s next pulls.
    pub(crate) fn suggest(&self, mq: &MessageQueue, broker_id: i64) {
        let mut table = self.suggested.lock();
        if broker_id == MASTER_ID {
            table.remove(mq);
        } else {
            table.insert(mq.clone(), broker_id);
        }
    }

    /// Avoid `addr` for [`UNREACHABLE_FOR`].
    pub(crate) fn mark_unreachable(&self, addr: &str) {
        self.unreachable
            .lock()
            .insert(addr.to_owned(), Instant::now() + UNREACHABLE_FOR);
    }

    fn reachable(&self, addr: &str) -> bool {
        let mut marks = self.unreachable.lock();
        match marks.get(addr) {
            Some(until) if *until > Instant::now() => false,
            Some(_) => {
                marks.remove(addr);
                true
            }
            None => true,
        }
    }

    /// RocketMQ's `findBrokerAddressInSubscribe` over one group's addresses: `wanted`, else for a
    /// replica the next id, else (unless `only_wanted`) the master, then the other replicas by id.
    /// Members marked unreachable come last.
    pub(crate) fn choose(
        &self,
        addrs: &BTreeMap<i64, String>,
        wanted: i64,
        only_wanted: bool,
    ) -> Option<Member> {
        let mut order = vec![wanted];
        if wanted != MASTER_ID {
            order.push(wanted.saturating_add(1));
        }
        if !only_wanted {
            order.push(MASTER_ID);
            order.extend(addrs.keys().copied());
        }
        let listed: Vec<Member> = order
            .into_iter()
            .filter_map(|id| {
                addrs.get(&id).map(|a| Member {
                    broker_id: id,
                    addr: a.clone(),
                })
            })
            .collect();
        listed
            .iter()
            .find(|m| self.reachable(&m.addr))
            .or_else(|| listed.first())
            .cloned()
    }
}

/// A failure that says the broker cannot be reached (rather than a slow answer or a refusal).
pub(crate) fn is_unreachable(e: &ClientError) -> bool {
    matches!(
        e,
        ClientError::Net {
            source: NetError::Connect { .. }
                | NetError::ConnectTimeout { .. }
                | NetError::ConnectionClosed
                | NetError::Io(_),
            ..
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(ids: &[i64]) -> BTreeMap<i64, String> {
        ids.iter().map(|i| (*i, format!("h{i}:1"))).collect()
    }

    fn id(m: Option<Member>) -> Option<i64> {
        m.map(|m| m.broker_id)
    }

    #[test]
    fn wanted_member_then_fallbacks() {
        let r = ReadFrom::default();
        assert_eq!(id(r.choose(&group(&[0, 1]), 0, false)), Some(0));
        assert_eq!(id(r.choose(&group(&[0, 1]), 1, false)), Some(1));
        // A replica that is not listed: the next id, else the master.
        assert_eq!(id(r.choose(&group(&[0, 2]), 1, false)), Some(2));
        assert_eq!(id(r.choose(&group(&[0, 3]), 1, false)), Some(0));
        // The master is down: a replica, the lowest id first.
        assert_eq!(id(r.choose(&group(&[2, 1]), 0, false)), Some(1));
        assert_eq!(id(r.choose(&group(&[2, 1]), 0, true)), None);
        assert_eq!(id(r.choose(&group(&[]), 0, false)), None);
    }

    #[test]
    fn unreachable_members_come_last() {
        let r = ReadFrom::default();
        r.mark_unreachable("h0:1");
        assert_eq!(id(r.choose(&group(&[0, 1]), 0, false)), Some(1));
        // Nothing else listed: the unreachable one is still tried.
        assert_eq!(id(r.choose(&group(&[0]), 0, false)), Some(0));
        assert_eq!(id(r.choose(&group(&[0, 1]), 0, true)), Some(0));
    }

    #[test]
    fn suggestions_are_per_queue() {
        let r = ReadFrom::default();
        let (a, b) = (
            MessageQueue::new("T", "b", 0),
            MessageQueue::new("T", "b", 1),
        );
        r.suggest(&a, 1);
        assert_eq!((r.wanted(&a), r.wanted(&b)), (1, 0));
        r.suggest(&a, 0);
        assert_eq!(r.wanted(&a), 0);
    }

    #[test]
    fn only_transport_failures_are_unreachable() {
        let net = |source| ClientError::Net {
            addr: "h:1".into(),
            source,
        };
        assert!(is_unreachable(&net(NetError::ConnectionClosed)));
        assert!(!is_unreachable(&net(NetError::Timeout { millis: 5 })));
        assert!(!is_unreachable(&ClientError::BrokerNotFound {
            broker_name: "b".into()
        }));
    }
}
