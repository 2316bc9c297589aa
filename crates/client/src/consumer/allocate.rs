//! [`Allocation`]: RocketMQ's queue allocation strategies (`AllocateMessageQueueStrategy`), chosen
//! per push consumer. Every member of a group must use the same strategy: each computes only its
//! own share, and the shares cover every queue exactly once only when all compute alike.
//!
//! Inputs are sorted first (queues by topic, broker, id; client ids as Java strings), as Java's
//! `RebalanceImpl` does before calling a strategy, so a member's place does not depend on the
//! order brokers list things in. A client id missing from the list gets nothing.

use std::collections::{BTreeMap, BTreeSet};

use md5::{Digest, Md5};

use super::rebalance::{averagely_share, normalized};
use crate::message::MessageQueue;

/// Java's default number of virtual nodes per consumer on the consistent-hash ring.
pub const DEFAULT_VIRTUAL_NODES: usize = 10;

/// How the queues of a topic are split among the consumers of a group.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Allocation {
    /// Contiguous shares, the first `queues % consumers` members one queue more
    /// (`AllocateMessageQueueAveragely`, the default).
    #[default]
    Averagely,
    /// Round-robin: member `i` gets queues `i`, `i + n`, `i + 2n`, ...
    /// (`AllocateMessageQueueAveragelyByCircle`).
    AveragelyByCircle,
    /// Exactly these queues, whoever else is in the group (`AllocateMessageQueueByConfig`).
    /// Queues of the topic that do not exist are left out.
    ByConfig(Vec<MessageQueue>),
    /// Only queues of brokers named `<room>@<name>` whose room is listed, split averagely with
    /// the remainder dealt one each from the end (`AllocateMessageQueueByMachineRoom`).
    ByMachineRoom { rooms: BTreeSet<String> },
    /// A ring of `virtual_nodes` MD5 points per consumer; each queue goes to the first point at or
    /// after its own hash (`AllocateMessageQueueConsistentHash`). Moves few queues when members
    /// come and go.
    ConsistentHash { virtual_nodes: usize },
}

impl Allocation {
    /// `me`'s share of `queues` among `consumer_ids`, sorted.
    #[must_use]
    pub fn allocate(
        &self,
        queues: &[MessageQueue],
        consumer_ids: &[String],
        me: &str,
    ) -> Vec<MessageQueue> {
        let Some((all, cids, index)) = normalized(queues, consumer_ids, me) else {
            return Vec::new();
        };
        if all.is_empty() {
            return Vec::new();
        }
        match self {
            Allocation::Averagely => averagely_share(all, cids.len(), index),
            Allocation::AveragelyByCircle => all
                .into_iter()
                .enumerate()
                .filter(|(i, _)| i % cids.len() == index)
                .map(|(_, q)| q)
                .collect(),
            Allocation::ByConfig(wanted) => {
                let mut mine: Vec<MessageQueue> =
                    wanted.iter().filter(|q| all.contains(q)).cloned().collect();
                mine.sort();
                mine.dedup();
                mine
            }
            Allocation::ByMachineRoom { rooms } => by_machine_room(&all, cids.len(), index, rooms),
            Allocation::ConsistentHash { virtual_nodes } => {
                consistent_hash(&all, &cids, me, *virtual_nodes)
            }
        }
    }
}

fn by_machine_room(
    all: &[MessageQueue],
    consumers: usize,
    index: usize,
    rooms: &BTreeSet<String>,
) -> Vec<MessageQueue> {
    let in_rooms: Vec<&MessageQueue> = all
        .iter()
        .filter(|q| room_of(&q.broker_name).is_some_and(|r| rooms.contains(r)))
        .collect();
    let (per, rem) = (in_rooms.len() / consumers, in_rooms.len() % consumers);
    let mut mine: Vec<MessageQueue> = in_rooms[per * index..per * (index + 1)]
        .iter()
        .map(|q| (*q).clone())
        .collect();
    if index < rem {
        mine.push(in_rooms[index + per * consumers].clone());
    }
    mine
}

/// The room of a broker named `<room>@<name>`, split as Java's `String.split("@")` (trailing
/// empty parts dropped, exactly two parts required).
fn room_of(broker_name: &str) -> Option<&str> {
    let mut parts: Vec<&str> = broker_name.split('@').collect();
    while parts.last().is_some_and(|p| p.is_empty()) {
        parts.pop();
    }
    match parts.as_slice() {
        [room, _] => Some(room),
        _ => None,
    }
}

fn consistent_hash(
    all: &[MessageQueue],
    cids: &[String],
    me: &str,
    virtual_nodes: usize,
) -> Vec<MessageQueue> {
    // A later point with the same hash replaces an earlier one, as in Java's TreeMap.
    let mut ring: BTreeMap<u32, &str> = BTreeMap::new();
    for cid in cids {
        for i in 0..virtual_nodes {
            ring.insert(md5_prefix(&format!("{cid}-{i}")), cid);
        }
    }
    all.iter()
        .filter(|q| {
            let h = md5_prefix(&java_queue_string(q));
            let owner = ring
                .range(h..)
                .next()
                .or_else(|| ring.iter().next())
                .map(|(_, c)| *c);
            owner == Some(me)
        })
        .cloned()
        .collect()
}

/// The first four bytes of the MD5 digest, big-endian (Java `ConsistentHashRouter.MD5Hash`).
fn md5_prefix(key: &str) -> u32 {
    let digest = Md5::digest(key.as_bytes());
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// Java's `MessageQueue.toString()`, the key a queue is hashed by.
fn java_queue_string(q: &MessageQueue) -> String {
    format!(
        "MessageQueue [topic={}, brokerName={}, queueId={}]",
        q.topic, q.broker_name, q.queue_id
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Members in Java string order: "10.0.0.1@3" < "10.0.0.2@7" < "10.0.0.3@1"; given unsorted.
    const MEMBERS: [&str; 3] = ["10.0.0.2@7", "10.0.0.3@1", "10.0.0.1@3"];
    const SORTED: [&str; 3] = ["10.0.0.1@3", "10.0.0.2@7", "10.0.0.3@1"];

    fn layout(name: &str) -> Vec<MessageQueue> {
        let (brokers, per): (&[&str], u32) = match name {
            "one" => (&["broker-a"], 8),
            "two" => (&["broker-b", "broker-a"], 5),
            _ => (&["sh@broker-b", "hz@broker-a", "bj@broker-c"], 4),
        };
        // Reversed, so the strategies' own sorting is exercised.
        let mut qs: Vec<MessageQueue> = brokers
            .iter()
            .flat_map(|b| (0..per).map(move |i| MessageQueue::new("T", *b, i)))
            .collect();
        qs.reverse();
        qs
    }

    fn hash(virtual_nodes: usize) -> Allocation {
        Allocation::ConsistentHash { virtual_nodes }
    }

    fn rooms(names: &[&str]) -> Allocation {
        Allocation::ByMachineRoom {
            rooms: names.iter().map(|r| (*r).to_owned()).collect(),
        }
    }

    type Share = &'static [(&'static str, u32)];

    /// Expected shares as printed by the Java strategies (`AllocateMessageQueueAveragely`,
    /// `...AveragelyByCircle`, `...ConsistentHash` with 10 and 3 virtual nodes,
    /// `...ByMachineRoom` with rooms hz and bj) for the same inputs, per member in SORTED order.
    #[test]
    fn strategies_match_the_java_outputs() {
        let cases: Vec<(&str, Allocation, [Share; 3])> = vec![
            (
                "one",
                Allocation::Averagely,
                [
                    &[("broker-a", 0), ("broker-a", 1), ("broker-a", 2)],
                    &[("broker-a", 3), ("broker-a", 4), ("broker-a", 5)],
                    &[("broker-a", 6), ("broker-a", 7)],
                ],
            ),
            (
                "one",
                Allocation::AveragelyByCircle,
                [
                    &[("broker-a", 0), ("broker-a", 3), ("broker-a", 6)],
                    &[("broker-a", 1), ("broker-a", 4), ("broker-a", 7)],
                    &[("broker-a", 2), ("broker-a", 5)],
                ],
            ),
            (
                "one",
                hash(10),
                [
                    &[("broker-a", 7)],
                    &[
                        ("broker-a", 0),
                        ("broker-a", 1),
                        ("broker-a", 4),
                        ("broker-a", 6),
                    ],
                    &[("broker-a", 2), ("broker-a", 3), ("broker-a", 5)],
                ],
            ),
            (
                "one",
                hash(3),
                [
                    &[("broker-a", 7)],
                    &[("broker-a", 0), ("broker-a", 5)],
                    &[
                        ("broker-a", 1),
                        ("broker-a", 2),
                        ("broker-a", 3),
                        ("broker-a", 4),
                        ("broker-a", 6),
                    ],
                ],
            ),
            (
                "two",
                Allocation::Averagely,
                [
                    &[
                        ("broker-a", 0),
                        ("broker-a", 1),
                        ("broker-a", 2),
                        ("broker-a", 3),
                    ],
                    &[("broker-a", 4), ("broker-b", 0), ("broker-b", 1)],
                    &[("broker-b", 2), ("broker-b", 3), ("broker-b", 4)],
                ],
            ),
            (
                "two",
                Allocation::AveragelyByCircle,
                [
                    &[
                        ("broker-a", 0),
                        ("broker-a", 3),
                        ("broker-b", 1),
                        ("broker-b", 4),
                    ],
                    &[("broker-a", 1), ("broker-a", 4), ("broker-b", 2)],
                    &[("broker-a", 2), ("broker-b", 0), ("broker-b", 3)],
                ],
            ),
            (
                "two",
                hash(10),
                [
                    &[("broker-b", 1), ("broker-b", 2)],
                    &[
                        ("broker-a", 0),
                        ("broker-a", 1),
                        ("broker-a", 4),
                        ("broker-b", 0),
                        ("broker-b", 3),
                        ("broker-b", 4),
                    ],
                    &[("broker-a", 2), ("broker-a", 3)],
                ],
            ),
            (
                "two",
                hash(3),
                [
                    &[("broker-b", 1), ("broker-b", 2)],
                    &[("broker-a", 0)],
                    &[
                        ("broker-a", 1),
                        ("broker-a", 2),
                        ("broker-a", 3),
                        ("broker-a", 4),
                        ("broker-b", 0),
                        ("broker-b", 3),
                        ("broker-b", 4),
                    ],
                ],
            ),
            (
                "rooms",
                Allocation::Averagely,
                [
                    &[
                        ("bj@broker-c", 0),
                        ("bj@broker-c", 1),
                        ("bj@broker-c", 2),
                        ("bj@broker-c", 3),
                    ],
                    &[
                        ("hz@broker-a", 0),
                        ("hz@broker-a", 1),
                        ("hz@broker-a", 2),
                        ("hz@broker-a", 3),
                    ],
                    &[
                        ("sh@broker-b", 0),
                        ("sh@broker-b", 1),
                        ("sh@broker-b", 2),
                        ("sh@broker-b", 3),
                    ],
                ],
            ),
            (
                "rooms",
                Allocation::AveragelyByCircle,
                [
                    &[
                        ("bj@broker-c", 0),
                        ("bj@broker-c", 3),
                        ("hz@broker-a", 2),
                        ("sh@broker-b", 1),
                    ],
                    &[
                        ("bj@broker-c", 1),
                        ("hz@broker-a", 0),
                        ("hz@broker-a", 3),
                        ("sh@broker-b", 2),
                    ],
                    &[
                        ("bj@broker-c", 2),
                        ("hz@broker-a", 1),
                        ("sh@broker-b", 0),
                        ("sh@broker-b", 3),
                    ],
                ],
            ),
            (
                "rooms",
                hash(10),
                [
                    &[
                        ("bj@broker-c", 3),
                        ("hz@broker-a", 1),
                        ("hz@broker-a", 3),
                        ("sh@broker-b", 0),
                        ("sh@broker-b", 2),
                    ],
                    &[
                        ("bj@broker-c", 0),
                        ("bj@broker-c", 2),
                        ("hz@broker-a", 0),
                        ("sh@broker-b", 1),
                        ("sh@broker-b", 3),
                    ],
                    &[("bj@broker-c", 1), ("hz@broker-a", 2)],
                ],
            ),
            (
                "rooms",
                hash(3),
                [
                    &[("bj@broker-c", 3), ("hz@broker-a", 3), ("sh@broker-b", 2)],
                    &[("bj@broker-c", 1), ("hz@broker-a", 0), ("sh@broker-b", 1)],
                    &[
                        ("bj@broker-c", 0),
                        ("bj@broker-c", 2),
                        ("hz@broker-a", 1),
                        ("hz@broker-a", 2),
                        ("sh@broker-b", 0),
                        ("sh@broker-b", 3),
                    ],
                ],
            ),
            (
                "rooms",
                rooms(&["hz", "bj"]),
                [
                    &[("bj@broker-c", 0), ("bj@broker-c", 1), ("hz@broker-a", 2)],
                    &[("bj@broker-c", 2), ("bj@broker-c", 3), ("hz@broker-a", 3)],
                    &[("hz@broker-a", 0), ("hz@broker-a", 1)],
                ],
            ),
        ];
        let members: Vec<String> = MEMBERS.iter().map(|m| (*m).to_owned()).collect();
        for (name, strategy, expected) in cases {
            let queues = layout(name);
            let mut covered = Vec::new();
            for (me, want) in SORTED.iter().zip(expected) {
                let got: Vec<(String, u32)> = strategy
                    .allocate(&queues, &members, me)
                    .into_iter()
                    .map(|q| (q.broker_name, q.queue_id))
                    .collect();
                let want: Vec<(String, u32)> =
                    want.iter().map(|(b, i)| ((*b).to_owned(), *i)).collect();
                assert_eq!(got, want, "{strategy:?} on {name}, member {me}");
                covered.extend(got);
            }
            // Every strategy but by-room covers each queue exactly once.
            if !matches!(strategy, Allocation::ByMachineRoom { .. }) {
                covered.sort();
                let mut all: Vec<(String, u32)> = queues
                    .iter()
                    .map(|q| (q.broker_name.clone(), q.queue_id))
                    .collect();
                all.sort();
                assert_eq!(covered, all, "{strategy:?} on {name}");
            }
        }
    }

    #[test]
    fn strangers_and_empty_inputs_get_nothing() {
        let members = vec!["a".to_owned(), "b".to_owned()];
        let strategies = [
            Allocation::Averagely,
            Allocation::AveragelyByCircle,
            hash(10),
            rooms(&["hz"]),
            Allocation::ByConfig(layout("one")),
        ];
        for s in &strategies {
            assert!(
                s.allocate(&layout("one"), &members, "z").is_empty(),
                "{s:?}"
            );
            assert!(s.allocate(&[], &members, "a").is_empty(), "{s:?}");
            assert!(s.allocate(&layout("one"), &[], "a").is_empty(), "{s:?}");
        }
    }

    #[test]
    fn by_config_keeps_only_existing_queues_whoever_else_is_there() {
        let wanted = vec![
            MessageQueue::new("T", "broker-a", 6),
            MessageQueue::new("T", "broker-a", 1),
            MessageQueue::new("T", "broker-a", 99),
            MessageQueue::new("Other", "broker-a", 1),
        ];
        let s = Allocation::ByConfig(wanted);
        let members = vec!["a".to_owned(), "b".to_owned()];
        for me in ["a", "b"] {
            let got: Vec<u32> = s
                .allocate(&layout("one"), &members, me)
                .iter()
                .map(|q| q.queue_id)
                .collect();
            assert_eq!(got, [1, 6]);
        }
    }

    #[test]
    fn broker_rooms_split_like_java() {
        assert_eq!(room_of("hz@broker-a"), Some("hz"));
        assert_eq!(room_of("hz@broker-a@"), Some("hz"));
        assert_eq!(room_of("@broker-a"), Some(""));
        assert_eq!(room_of("broker-a"), None);
        assert_eq!(room_of("hz@"), None);
        assert_eq!(room_of("a@b@c"), None);
    }

    #[test]
    fn consistent_hash_points_are_java_md5_prefixes() {
        // Java: the first four digest bytes as an unsigned big-endian number.
        assert_eq!(md5_prefix(""), 0xd41d_8cd9);
        assert_eq!(
            java_queue_string(&MessageQueue::new("T", "b", 3)),
            "MessageQueue [topic=T, brokerName=b, queueId=3]"
        );
    }
}
