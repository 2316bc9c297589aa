//! Counters reported by `GET_BROKER_RUNTIME_INFO` (totals since the broker started) and by
//! `VIEW_BROKER_STATS_DATA` (per topic and per topic and group, over the last minute, hour and
//! day; see [`crate::rolling`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::{Mutex, RwLock};

use crate::meters::Meters;
use crate::rolling::{RollingCounter, WindowTotals};

/// The per-key statistics kept, by Java's `BrokerStatsManager` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatsItem {
    /// Messages stored, by topic.
    TopicPutNums,
    /// Bytes stored, by topic.
    TopicPutSize,
    /// Messages pulled, by `topic@group`.
    GroupGetNums,
    /// Bytes pulled, by `topic@group`.
    GroupGetSize,
}

impl StatsItem {
    const ALL: usize = 4;

    fn index(self) -> usize {
        match self {
            Self::TopicPutNums => 0,
            Self::TopicPutSize => 1,
            Self::GroupGetNums => 2,
            Self::GroupGetSize => 3,
        }
    }

    /// The item of a Java stats name; `None` for the ones ferromq does not keep.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "TOPIC_PUT_NUMS" => Self::TopicPutNums,
            "TOPIC_PUT_SIZE" => Self::TopicPutSize,
            "GROUP_GET_NUMS" => Self::GroupGetNums,
            "GROUP_GET_SIZE" => Self::GroupGetSize,
            _ => return None,
        })
    }
}

/// One key's totals over the last minute, hour and day.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct StatsWindows {
    pub minute: WindowTotals,
    pub hour: WindowTotals,
    pub day: WindowTotals,
}

/// Totals since the broker started, and windowed counters per key.
#[derive(Debug, Default)]
pub struct Stats {
    pub messages_put: AtomicU64,
    pub messages_got: AtomicU64,
    /// The same counts for metrics scrapers: totals per topic and per (topic, group), counted
    /// with atomics (see `crate::meters`).
    pub meters: Meters,
    /// When the broker last registered with every name server it knows (ms since the epoch; 0:
    /// never since it started).
    pub registered_ms: AtomicU64,
    /// Remoting answer latencies (see `crate::rpc_latency`).
    pub rpc: crate::rpc_latency::RpcLatency,
    /// v5 (gRPC) answer latencies, recorded by the gRPC adapter through the service.
    pub grpc: crate::rpc_latency::GrpcLatency,
    /// Half messages, commits and rollbacks per real topic.
    pub transactions: crate::transaction::meters::TransactionMeters,
    // per item, by key: a read lock to find a key's counter (no allocation), its own lock to
    // count, so sends to different topics do not wait for each other
    series: [RwLock<HashMap<String, Mutex<RollingCounter>>>; StatsItem::ALL],
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Stats {
    /// Records of `sizes` bytes each stored in `topic`.
    pub fn add_put(&self, topic: &str, sizes: impl Iterator<Item = u64> + Clone) {
        let (messages, bytes) = sizes.clone().fold((0, 0), |(n, b), s| (n + 1, b + s));
        self.meters.stored(topic, sizes);
        self.messages_put.fetch_add(messages, Ordering::Relaxed);
        self.add(StatsItem::TopicPutNums, topic, messages);
        self.add(StatsItem::TopicPutSize, topic, bytes);
    }

    /// `messages` records of `bytes` in all pulled from `topic` by `group`.
    pub fn add_got(&self, topic: &str, group: &str, messages: usize, bytes: u64) {
        self.messages_got
            .fetch_add(messages as u64, Ordering::Relaxed);
        self.meters.delivered(topic, group, messages as u64, bytes);
        let key = format!("{topic}@{group}");
        self.add(StatsItem::GroupGetNums, &key, messages as u64);
        self.add(StatsItem::GroupGetSize, &key, bytes);
    }

    fn add(&self, item: StatsItem, key: &str, n: u64) {
        let now = now_ms();
        let series = &self.series[item.index()];
        if let Some(c) = series.read().get(key) {
            c.lock().add(now, n);
            return;
        }
        series
            .write()
            .entry(key.to_owned())
            .or_insert_with(|| Mutex::new(RollingCounter::new(now)))
            .lock()
            .add(now, n);
    }

    /// One key's windows; `None` when nothing was ever counted for it.
    #[must_use]
    pub fn windows(&self, item: StatsItem, key: &str) -> Option<StatsWindows> {
        let now = now_ms();
        let series = self.series[item.index()].read();
        let c = series.get(key)?.lock();
        Some(StatsWindows {
            minute: c.last_minute(now),
            hour: c.last_hour(now),
            day: c.last_day(now),
        })
    }

    /// The whole broker's rate of `item` over the last 10 s, minute and 10 minutes (the sum over
    /// its keys), as RocketMQ's `putTps` / `getTransferredTps` give it.
    #[must_use]
    pub fn broker_rates(&self, item: StatsItem) -> [f64; 3] {
        let now = now_ms();
        self.series[item.index()]
            .read()
            .values()
            .map(|c| c.lock().rates(now))
            .fold([0.0; 3], |acc, r| {
                [acc[0] + r[0], acc[1] + r[1], acc[2] + r[2]]
            })
    }

    #[must_use]
    pub fn put_total(&self) -> u64 {
        self.messages_put.load(Ordering::Relaxed)
    }

    #[must_use]
    pub fn got_total(&self) -> u64 {
        self.messages_got.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_topic_and_by_topic_and_group() {
        let s = Stats::default();
        s.add_put("T", [100, 100].into_iter());
        s.add_put("T", [50].into_iter());
        s.add_put("U", [10].into_iter());
        s.add_got("T", "g", 3, 250);
        assert_eq!(s.put_total(), 4);
        assert_eq!(s.got_total(), 3);
        let put = s.windows(StatsItem::TopicPutNums, "T").expect("counted");
        assert_eq!((put.minute.sum, put.hour.sum, put.day.sum), (3, 3, 3));
        assert!((put.day.avgpt - 1.5).abs() < 1e-9);
        assert_eq!(
            s.windows(StatsItem::TopicPutSize, "T").map(|w| w.day.sum),
            Some(250)
        );
        assert_eq!(
            s.windows(StatsItem::GroupGetNums, "T@g")
                .map(|w| w.minute.sum),
            Some(3)
        );
        assert_eq!(s.windows(StatsItem::GroupGetNums, "U@g"), None);
        assert_eq!(
            StatsItem::from_name("GROUP_GET_NUMS"),
            Some(StatsItem::GroupGetNums)
        );
        assert_eq!(StatsItem::from_name("SNDBCK_PUT_NUMS"), None);
    }
}
