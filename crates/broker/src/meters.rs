//! Monotonic counters for metrics scrapers (Prometheus' `rocketmq_messages_in_total` and friends):
//! messages and bytes stored per topic, with a message size histogram, and messages and bytes
//! delivered per topic and consumer group, pull and POP alike.
//!
//! The hot path finds a key's counters under a shared read lock taken once per request (not per
//! message) and allocates nothing once the key exists; counting itself is relaxed atomic adds.
//! Everything else a scraper wants (lag, storage) is computed from the broker's state when it is
//! read, so it costs nothing while nobody scrapes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;

/// Upper bounds (bytes, inclusive) of the message size histogram's buckets: Apache RocketMQ's
/// `rocketmq_message_size` boundaries (1 KiB, 4 KiB, 512 KiB, 1 MiB, 2 MiB, 4 MiB), then `+Inf`.
pub const SIZE_BUCKETS: [u64; 6] = [
    1024,
    4 * 1024,
    512 * 1024,
    1024 * 1024,
    2 * 1024 * 1024,
    4 * 1024 * 1024,
];

/// Messages and bytes stored in one topic, and their sizes.
#[derive(Debug, Default)]
pub struct TopicMeter {
    pub messages: AtomicU64,
    pub bytes: AtomicU64,
    /// Count per bucket of [`SIZE_BUCKETS`] (not cumulative), the last one for larger messages.
    pub size_buckets: [AtomicU64; SIZE_BUCKETS.len() + 1],
}

impl TopicMeter {
    fn observe(&self, size: u64) {
        let bucket = SIZE_BUCKETS
            .iter()
            .position(|&le| size <= le)
            .unwrap_or(SIZE_BUCKETS.len());
        self.size_buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.messages.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(size, Ordering::Relaxed);
    }
}

/// Messages and bytes delivered from one topic to one group.
#[derive(Debug, Default)]
pub struct GroupMeter {
    pub messages: AtomicU64,
    pub bytes: AtomicU64,
}

/// One topic's counters as read by a scrape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicCounts {
    pub topic: String,
    pub messages: u64,
    pub bytes: u64,
    /// Per bucket of [`SIZE_BUCKETS`] then `+Inf`, not cumulative.
    pub size_buckets: Vec<u64>,
}

/// One (topic, group) pair's delivery counters as read by a scrape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupCounts {
    pub topic: String,
    pub group: String,
    pub messages: u64,
    pub bytes: u64,
}

type GroupsOfTopic = HashMap<Box<str>, Arc<GroupMeter>>;

/// The counters of every topic and (topic, group) since the broker started.
#[derive(Debug, Default)]
pub struct Meters {
    topics: RwLock<HashMap<Box<str>, Arc<TopicMeter>>>,
    // topic → group → meter, so a lookup borrows both names instead of building a joined key
    groups: RwLock<HashMap<Box<str>, GroupsOfTopic>>,
}

impl Meters {
    /// Counts stored messages of `sizes` bytes each in `topic`.
    pub fn stored(&self, topic: &str, sizes: impl IntoIterator<Item = u64>) {
        let meter = self.topic(topic);
        for size in sizes {
            meter.observe(size);
        }
    }

    /// Counts `messages` of `bytes` in all delivered from `topic` to `group`.
    pub fn delivered(&self, topic: &str, group: &str, messages: u64, bytes: u64) {
        let meter = self.group(topic, group);
        meter.messages.fetch_add(messages, Ordering::Relaxed);
        meter.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    fn topic(&self, topic: &str) -> Arc<TopicMeter> {
        if let Some(m) = self.topics.read().get(topic) {
            return m.clone();
        }
        self.topics.write().entry(topic.into()).or_default().clone()
    }

    fn group(&self, topic: &str, group: &str) -> Arc<GroupMeter> {
        if let Some(m) = self.groups.read().get(topic).and_then(|g| g.get(group)) {
            return m.clone();
        }
        self.groups
            .write()
            .entry(topic.into())
            .or_default()
            .entry(group.into())
            .or_default()
            .clone()
    }

    /// Every topic's counters, sorted by topic.
    #[must_use]
    pub fn topic_counts(&self) -> Vec<TopicCounts> {
        let mut out: Vec<TopicCounts> = self
            .topics
            .read()
            .iter()
            .map(|(topic, m)| TopicCounts {
                topic: topic.to_string(),
                messages: m.messages.load(Ordering::Relaxed),
                bytes: m.bytes.load(Ordering::Relaxed),
                size_buckets: m
                    .size_buckets
                    .iter()
                    .map(|b| b.load(Ordering::Relaxed))
                    .collect(),
            })
            .collect();
        out.sort_by(|a, b| a.topic.cmp(&b.topic));
        out
    }

    /// Every (topic, group) pair's counters, sorted by topic then group.
    #[must_use]
    pub fn group_counts(&self) -> Vec<GroupCounts> {
        let mut out: Vec<GroupCounts> = self
            .groups
            .read()
            .iter()
            .flat_map(|(topic, groups)| {
                groups.iter().map(move |(group, m)| GroupCounts {
                    topic: topic.to_string(),
                    group: group.to_string(),
                    messages: m.messages.load(Ordering::Relaxed),
                    bytes: m.bytes.load(Ordering::Relaxed),
                })
            })
            .collect();
        out.sort_by(|a, b| (&a.topic, &a.group).cmp(&(&b.topic, &b.group)));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_sizes_into_apache_buckets() {
        let m = Meters::default();
        m.stored("T", [10, 1024, 1025, 5 * 1024 * 1024]);
        m.stored("T", [3000]);
        m.delivered("T", "g", 2, 100);
        m.delivered("T", "g", 1, 50);
        let t = &m.topic_counts()[0];
        assert_eq!(
            (t.messages, t.bytes),
            (5, 10 + 1024 + 1025 + 3000 + 5 * 1024 * 1024)
        );
        assert_eq!(t.size_buckets, [2, 2, 0, 0, 0, 0, 1]);
        let g = &m.group_counts()[0];
        assert_eq!(
            (g.topic.as_str(), g.group.as_str(), g.messages, g.bytes),
            ("T", "g", 3, 150)
        );
    }
}
