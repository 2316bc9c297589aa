//! Queue allocation across the consumers of a group (§9.3).
//!
//! [`allocate_averagely`] is RocketMQ's default strategy (`AllocateMessageQueueAveragely`): with
//! both lists sorted the same way by every member, each consumer computes its own contiguous share
//! and the shares cover every queue exactly once. The other strategies, and the choice a push
//! consumer makes, are in [`super::allocate`].

use crate::message::{java_str_cmp, MessageQueue};

/// This consumer's share of `queues` among `consumer_ids`. Both lists are sorted here (queues by
/// topic, broker, id; ids as Java strings). A consumer missing from the list gets nothing.
#[must_use]
pub fn allocate_averagely(
    queues: &[MessageQueue],
    consumer_ids: &[String],
    me: &str,
) -> Vec<MessageQueue> {
    match normalized(queues, consumer_ids, me) {
        Some((all, cids, index)) => averagely_share(all, cids.len(), index),
        None => Vec::new(),
    }
}

/// Both lists sorted and without duplicates, the way every member of the group sorts them, and
/// `me`'s position among the consumers; `None` when `me` is not one of them.
pub(crate) fn normalized(
    queues: &[MessageQueue],
    consumer_ids: &[String],
    me: &str,
) -> Option<(Vec<MessageQueue>, Vec<String>, usize)> {
    let mut all = queues.to_vec();
    all.sort();
    all.dedup();
    let mut cids = consumer_ids.to_vec();
    cids.sort_by(|a, b| java_str_cmp(a, b));
    cids.dedup();
    let index = cids.iter().position(|c| c == me)?;
    Some((all, cids, index))
}

/// Consumer `index` of `consumers`' contiguous share of the sorted queues `all`.
pub(crate) fn averagely_share(
    all: Vec<MessageQueue>,
    consumers: usize,
    index: usize,
) -> Vec<MessageQueue> {
    let (n, m) = (all.len(), consumers);
    if n == 0 {
        return Vec::new();
    }
    let rem = n % m;
    let size = if n <= m {
        1
    } else if rem > 0 && index < rem {
        n / m + 1
    } else {
        n / m
    };
    let start = if rem > 0 && index < rem {
        index * size
    } else {
        index * size + rem
    };
    let count = size.min(n.saturating_sub(start));
    all.into_iter().skip(start).take(count).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queues(n: u32) -> Vec<MessageQueue> {
        (0..n).map(|i| MessageQueue::new("T", "b", i)).collect()
    }

    fn ids(shares: &[Vec<MessageQueue>]) -> Vec<Vec<u32>> {
        shares
            .iter()
            .map(|s| s.iter().map(|q| q.queue_id).collect())
            .collect()
    }

    #[test]
    fn table() {
        // (queues, consumers, expected queue ids per consumer in sorted id order)
        let cases: &[(u32, usize, &[&[u32]])] = &[
            (8, 3, &[&[0, 1, 2], &[3, 4, 5], &[6, 7]]),
            (2, 3, &[&[0], &[1], &[]]),
            (4, 2, &[&[0, 1], &[2, 3]]),
            (5, 1, &[&[0, 1, 2, 3, 4]]),
            (0, 2, &[&[], &[]]),
            (7, 4, &[&[0, 1], &[2, 3], &[4, 5], &[6]]),
        ];
        for (n, m, expected) in cases {
            let cids: Vec<String> = (0..*m).map(|i| format!("c{i}")).collect();
            let shares: Vec<_> = cids
                .iter()
                .map(|c| allocate_averagely(&queues(*n), &cids, c))
                .collect();
            let want: Vec<Vec<u32>> = expected.iter().map(|e| e.to_vec()).collect();
            assert_eq!(ids(&shares), want, "{n} queues, {m} consumers");
        }
    }

    #[test]
    fn input_order_does_not_matter_and_strangers_get_nothing() {
        let mut qs = queues(6);
        qs.reverse();
        let cids = vec!["b".to_owned(), "a".to_owned()];
        let a = allocate_averagely(&qs, &cids, "a");
        assert_eq!(a.iter().map(|q| q.queue_id).collect::<Vec<_>>(), [0, 1, 2]);
        assert!(allocate_averagely(&qs, &cids, "z").is_empty());
    }
}
