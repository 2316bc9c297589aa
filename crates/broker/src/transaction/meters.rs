//! Transaction counters for metrics scrapers (Apache's `rocketmq_half_messages`,
//! `rocketmq_commit_messages_total`, `rocketmq_rollback_messages_total`), per real topic.
//!
//! One shared read lock per transactional request finds the topic's counters (a write lock and an
//! allocation only the first time a topic is seen); counting is relaxed atomic adds.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;

/// What happened to one topic's transactional messages since the broker started.
#[derive(Debug, Default)]
struct TopicTransactions {
    half: AtomicU64,
    committed: AtomicU64,
    rolled_back: AtomicU64,
    /// Checked `transactionCheckMax` times without an answer and moved aside.
    discarded: AtomicU64,
}

/// One topic's transaction counters as read by a scrape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionCounts {
    pub topic: String,
    pub committed: u64,
    pub rolled_back: u64,
    /// Half messages stored since start and not yet committed, rolled back or discarded. Half
    /// messages stored before a restart and ended after it are not in it (the count stays at 0
    /// rather than going below).
    pub half: u64,
}

/// The transaction counters of every real topic.
#[derive(Debug, Default)]
pub struct TransactionMeters {
    topics: RwLock<HashMap<Box<str>, Arc<TopicTransactions>>>,
}

/// How a half message ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Committed,
    RolledBack,
    Discarded,
}

impl TransactionMeters {
    /// A producer stored a half message for `topic`.
    pub fn half_stored(&self, topic: &str) {
        self.topic(topic).half.fetch_add(1, Ordering::Relaxed);
    }

    /// A half message for `topic` ended (once per half message).
    pub fn ended(&self, topic: &str, how: Ending) {
        let t = self.topic(topic);
        let counter = match how {
            Ending::Committed => &t.committed,
            Ending::RolledBack => &t.rolled_back,
            Ending::Discarded => &t.discarded,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn topic(&self, topic: &str) -> Arc<TopicTransactions> {
        if let Some(t) = self.topics.read().get(topic) {
            return t.clone();
        }
        self.topics.write().entry(topic.into()).or_default().clone()
    }

    /// Every topic's counters, sorted by topic.
    #[must_use]
    pub fn counts(&self) -> Vec<TransactionCounts> {
        let mut out: Vec<TransactionCounts> = self
            .topics
            .read()
            .iter()
            .map(|(topic, t)| {
                let committed = t.committed.load(Ordering::Relaxed);
                let rolled_back = t.rolled_back.load(Ordering::Relaxed);
                let ended = committed + rolled_back + t.discarded.load(Ordering::Relaxed);
                TransactionCounts {
                    topic: topic.to_string(),
                    committed,
                    rolled_back,
                    half: t.half.load(Ordering::Relaxed).saturating_sub(ended),
                }
            })
            .collect();
        out.sort_by(|a, b| a.topic.cmp(&b.topic));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_messages_are_those_not_ended() {
        let m = TransactionMeters::default();
        for _ in 0..4 {
            m.half_stored("T");
        }
        m.ended("T", Ending::Committed);
        m.ended("T", Ending::RolledBack);
        m.ended("T", Ending::Discarded);
        // Ended after a restart: stored before it, so not counted as stored.
        m.ended("U", Ending::Committed);
        assert_eq!(
            m.counts(),
            vec![
                TransactionCounts {
                    topic: "T".into(),
                    committed: 1,
                    rolled_back: 1,
                    half: 1
                },
                TransactionCounts {
                    topic: "U".into(),
                    committed: 1,
                    rolled_back: 0,
                    half: 0
                },
            ]
        );
    }
}
