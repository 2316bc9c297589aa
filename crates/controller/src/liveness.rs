//! Broker heartbeats, kept in memory on the Raft leader only.
//!
//! Heartbeats are too frequent to be worth a Raft write each, and a liveness verdict only matters
//! where elections are decided. The price: a new leader knows nothing. It therefore dates every
//! broker's last sign of life to the moment it became leader, so each broker gets a full timeout
//! to heartbeat before it can be judged dead; to be *elected*, a broker must have heartbeated to
//! this leader (its reported offset is what ranks it).

use std::collections::HashMap;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

use crate::election::Candidate;
use crate::state::BrokerId;

/// The latest heartbeat of one broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Beat {
    pub at: Instant,
    pub max_offset: u64,
    pub epoch: u64,
}

#[derive(Debug)]
struct Table {
    /// When this node last became leader (or started).
    since: Instant,
    beats: HashMap<(String, BrokerId), Beat>,
}

/// The heartbeat table.
#[derive(Debug)]
pub struct Liveness {
    table: Mutex<Table>,
}

impl Liveness {
    #[must_use]
    pub fn new(now: Instant) -> Self {
        Self {
            table: Mutex::new(Table {
                since: now,
                beats: HashMap::new(),
            }),
        }
    }

    /// Forgets everything: this node just became leader.
    pub fn reset(&self, now: Instant) {
        let mut t = self.table.lock();
        t.since = now;
        t.beats.clear();
    }

    pub fn record(&self, group: &str, id: BrokerId, beat: Beat) {
        self.table.lock().beats.insert((group.to_owned(), id), beat);
    }

    /// The broker heartbeated within `timeout` — or has not yet had a full `timeout` since this
    /// node became leader to do so.
    #[must_use]
    pub fn presumed_alive(
        &self,
        group: &str,
        id: BrokerId,
        timeout: Duration,
        now: Instant,
    ) -> bool {
        let t = self.table.lock();
        let last = t
            .beats
            .get(&(group.to_owned(), id))
            .map_or(t.since, |b| b.at.max(t.since));
        now.saturating_duration_since(last) <= timeout
    }

    /// The broker heartbeated to this node within `timeout`.
    #[must_use]
    pub fn heard_from(&self, group: &str, id: BrokerId, timeout: Duration, now: Instant) -> bool {
        self.table
            .lock()
            .beats
            .get(&(group.to_owned(), id))
            .is_some_and(|b| now.saturating_duration_since(b.at) <= timeout)
    }

    /// The brokers of `ids` heard from within `timeout`, with their reported offsets.
    #[must_use]
    pub fn candidates(
        &self,
        group: &str,
        ids: impl IntoIterator<Item = BrokerId>,
        timeout: Duration,
        now: Instant,
    ) -> Vec<Candidate> {
        let t = self.table.lock();
        ids.into_iter()
            .filter_map(|id| {
                let b = t.beats.get(&(group.to_owned(), id))?;
                (now.saturating_duration_since(b.at) <= timeout).then_some(Candidate {
                    id,
                    max_offset: b.max_offset,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_leader_gives_every_broker_a_full_timeout() {
        let t0 = Instant::now();
        let timeout = Duration::from_secs(3);
        let l = Liveness::new(t0);
        let beat = |at, max_offset| Beat {
            at,
            max_offset,
            epoch: 1,
        };
        l.record("g", 1, beat(t0, 10));
        let later = t0 + Duration::from_secs(10);
        assert!(!l.presumed_alive("g", 1, timeout, later));
        l.reset(later);
        // Unknown to the new leader, but within its grace period.
        assert!(l.presumed_alive("g", 1, timeout, later + Duration::from_secs(2)));
        assert!(!l.heard_from("g", 1, timeout, later + Duration::from_secs(2)));
        assert!(!l.presumed_alive("g", 1, timeout, later + Duration::from_secs(4)));
        l.record("g", 2, beat(later + Duration::from_secs(1), 42));
        let now = later + Duration::from_secs(2);
        assert_eq!(
            l.candidates("g", [1, 2, 3], timeout, now),
            vec![Candidate {
                id: 2,
                max_offset: 42
            }]
        );
    }
}
