//! Counters reported by `GET_BROKER_RUNTIME_INFO`.

use std::sync::atomic::{AtomicU64, Ordering};

/// Totals since the broker started.
#[derive(Debug, Default)]
pub struct Stats {
    pub messages_put: AtomicU64,
    pub messages_got: AtomicU64,
}

impl Stats {
    pub fn add_put(&self, n: usize) {
        self.messages_put.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub fn add_got(&self, n: usize) {
        self.messages_got.fetch_add(n as u64, Ordering::Relaxed);
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
