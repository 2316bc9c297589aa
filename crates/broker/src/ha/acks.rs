//! What the master knows of its replicas: each connected replica's acknowledged offset, which of them
//! are in sync, and waiting until enough replicas hold an append (SYNC_MASTER).
//!
//! A replica is in sync while it is connected, has reported within `timeout`, and is no more than
//! `max_gap` bytes behind the master's written offset. Without a controller a SYNC_MASTER send waits
//! until `min_in_sync` in-sync replicas acknowledged its end offset. In controller mode it waits for
//! every replica of the controllers' sync-state set ([`Acks::require`]), the replicas a new master
//! may be elected from, and `min_in_sync` then counts the master too (RocketMQ 5's
//! `minInSyncReplicas`): with the set reduced to the master alone, the master's own write is enough.

use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::watch;

pub use crate::error::ReplicaWaitError;

/// One connected replica, as the master sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicaInfo {
    pub addr: SocketAddr,
    /// The replica's `brokerId`, when it said (controller mode).
    pub broker_id: Option<i64>,
    /// Every byte below this is on the replica.
    pub acked: u64,
    pub in_sync: bool,
    /// Milliseconds since its last report.
    pub last_report_ms: u64,
}

/// A replica whose connection ended, as last known: kept for the replication lag metrics (a stopped
/// replica's lag keeps growing instead of its series vanishing) until a replica of the same identity
/// connects again, or the master restarts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DepartedReplica {
    pub addr: SocketAddr,
    pub broker_id: Option<i64>,
    /// Every byte below this was on the replica when it left.
    pub acked: u64,
}

/// Who a replica is across reconnections: its broker id when it said one (controller mode), else
/// its host (a reconnection comes from another port).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Identity {
    Id(i64),
    Host(IpAddr),
}

impl Identity {
    fn of(addr: SocketAddr, broker_id: Option<i64>) -> Self {
        broker_id.map_or(Identity::Host(addr.ip()), Identity::Id)
    }
}

#[derive(Debug)]
struct Replica {
    addr: SocketAddr,
    broker_id: Option<i64>,
    acked: u64,
    last_report: Instant,
}

/// The replicas of one master. `Send + Sync`.
#[derive(Debug)]
pub struct Acks {
    replicas: Mutex<HashMap<u64, Replica>>,
    departed: Mutex<HashMap<Identity, DepartedReplica>>,
    /// The `min_in_sync`-th highest acknowledged offset among live replicas (0 when fewer are
    /// connected): every SYNC_MASTER waiter watches it.
    quorum: watch::Sender<u64>,
    min_in_sync: usize,
    max_gap: u64,
    timeout: Duration,
    /// Controller mode: the broker ids that must acknowledge every send (the sync-state set without
    /// this master). `None` without a controller.
    required: Mutex<Option<BTreeSet<i64>>>,
}

impl Acks {
    #[must_use]
    pub fn new(min_in_sync: usize, max_gap: u64, timeout: Duration) -> Acks {
        Acks {
            replicas: Mutex::new(HashMap::new()),
            departed: Mutex::new(HashMap::new()),
            quorum: watch::Sender::new(0),
            min_in_sync: min_in_sync.max(1),
            max_gap,
            timeout,
            required: Mutex::new(None),
        }
    }

    /// Controller mode: every send waits for these replicas (by broker id).
    pub fn require(&self, broker_ids: BTreeSet<i64>) {
        *self.required.lock() = Some(broker_ids);
        self.recompute();
    }

    /// A replica connected (`id` unique per connection).
    pub fn connected(&self, id: u64, addr: SocketAddr, broker_id: Option<i64>, acked: u64) {
        self.departed.lock().remove(&Identity::of(addr, broker_id));
        self.replicas.lock().insert(
            id,
            Replica {
                addr,
                broker_id,
                acked,
                last_report: Instant::now(),
            },
        );
        self.recompute();
    }

    /// A replica reported the offset it holds.
    pub fn reported(&self, id: u64, acked: u64) {
        if let Some(r) = self.replicas.lock().get_mut(&id) {
            r.acked = r.acked.max(acked);
            r.last_report = Instant::now();
        }
        self.recompute();
    }

    /// A replica's connection ended.
    pub fn disconnected(&self, id: u64) {
        let gone = self.replicas.lock().remove(&id);
        if let Some(r) = gone {
            // Unless another connection of the same replica is already up (a reconnection that
            // overtook the old connection's end).
            let identity = Identity::of(r.addr, r.broker_id);
            let live = self
                .replicas
                .lock()
                .values()
                .any(|o| Identity::of(o.addr, o.broker_id) == identity);
            if !live {
                self.departed.lock().insert(
                    identity,
                    DepartedReplica {
                        addr: r.addr,
                        broker_id: r.broker_id,
                        acked: r.acked,
                    },
                );
            }
        }
        self.recompute();
    }

    /// Replicas that disconnected and have not come back, sorted by address.
    #[must_use]
    pub fn departed(&self) -> Vec<DepartedReplica> {
        let mut out: Vec<DepartedReplica> = self.departed.lock().values().cloned().collect();
        out.sort_by_key(|r| r.addr);
        out
    }

    fn recompute(&self) {
        let q = {
            let replicas = self.replicas.lock();
            let mut acked: Vec<u64> = replicas.values().map(|r| r.acked).collect();
            acked.sort_unstable_by(|a, b| b.cmp(a));
            // What the k highest acknowledgements all reach (0 with fewer than k replicas).
            let kth = |k: usize| acked.get(k - 1).copied().unwrap_or(0);
            match &*self.required.lock() {
                None => kth(self.min_in_sync),
                Some(required) => {
                    // Every required replica (0 when one is not connected), and enough replicas
                    // besides the master for `min_in_sync`.
                    let of = |id: i64| {
                        replicas
                            .values()
                            .filter(|r| r.broker_id == Some(id))
                            .map(|r| r.acked)
                            .max()
                            .unwrap_or(0)
                    };
                    let all = required.iter().map(|&id| of(id)).min().unwrap_or(u64::MAX);
                    let count = match self.min_in_sync - 1 {
                        0 => u64::MAX,
                        k => kth(k),
                    };
                    all.min(count)
                }
            }
        };
        self.quorum.send_if_modified(|cur| {
            let changed = *cur != q;
            *cur = q;
            changed
        });
    }

    /// Connected replicas, with whether each is in sync against `written` (the master's written offset).
    #[must_use]
    pub fn replicas(&self, written: u64) -> Vec<ReplicaInfo> {
        let now = Instant::now();
        let mut out: Vec<ReplicaInfo> = self
            .replicas
            .lock()
            .values()
            .map(|r| {
                let age = now.duration_since(r.last_report);
                ReplicaInfo {
                    addr: r.addr,
                    broker_id: r.broker_id,
                    acked: r.acked,
                    in_sync: age <= self.timeout && written.saturating_sub(r.acked) <= self.max_gap,
                    last_report_ms: u64::try_from(age.as_millis()).unwrap_or(u64::MAX),
                }
            })
            .collect();
        out.sort_by_key(|r| r.addr);
        out
    }

    /// Waits until `min_in_sync` replicas hold every byte below `offset` (controller mode: every
    /// required replica, and `min_in_sync` brokers counting the master).
    ///
    /// # Errors
    /// `NotEnoughReplicas` at once when fewer replicas are in sync (RocketMQ's SLAVE_NOT_AVAILABLE:
    /// waiting would only time out); `Timeout` after `timeout`.
    pub async fn wait_for(
        &self,
        offset: u64,
        written: u64,
        timeout: Duration,
    ) -> Result<(), ReplicaWaitError> {
        let replicas = self.replicas(written);
        let in_sync = replicas.iter().filter(|r| r.in_sync).count();
        // (required replicas not in sync, how many are required), without copying the set per send.
        let required = self.required.lock().as_ref().map(|required| {
            let missing = required
                .iter()
                .filter(|&&id| {
                    !replicas
                        .iter()
                        .any(|r| r.in_sync && r.broker_id == Some(id))
                })
                .count();
            (missing, required.len())
        });
        if let Some((missing, required)) = required {
            if missing > 0 || in_sync + 1 < self.min_in_sync {
                return Err(ReplicaWaitError::NotEnoughReplicas {
                    in_sync,
                    needed: required.max(self.min_in_sync - 1),
                });
            }
            if required == 0 && self.min_in_sync <= 1 {
                return Ok(());
            }
        } else if in_sync < self.min_in_sync {
            return Err(ReplicaWaitError::NotEnoughReplicas {
                in_sync,
                needed: self.min_in_sync,
            });
        }
        let mut rx = self.quorum.subscribe();
        // The sender lives as long as `self`: the channel cannot close while we borrow it.
        let acked = matches!(
            tokio::time::timeout(timeout, rx.wait_for(|q| *q >= offset)).await,
            Ok(Ok(_))
        );
        if acked {
            Ok(())
        } else {
            Err(ReplicaWaitError::Timeout {
                offset,
                millis: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn a_replica_that_left_is_remembered_until_it_comes_back() {
        let acks = Acks::new(1, 1 << 20, Duration::from_secs(10));
        acks.connected(1, addr(1), Some(1), 0);
        acks.connected(2, addr(2), Some(2), 0);
        acks.reported(1, 300);
        acks.reported(2, 200);
        acks.disconnected(1);
        acks.disconnected(2);
        let gone = |id, port, acked| DepartedReplica {
            addr: addr(port),
            broker_id: Some(id),
            acked,
        };
        // Same host, told apart by broker id.
        assert_eq!(acks.departed(), vec![gone(1, 1, 300), gone(2, 2, 200)]);
        // Replica 1 reconnects from another port: only replica 2 is still gone.
        acks.connected(3, addr(3), Some(1), 300);
        assert_eq!(acks.departed(), vec![gone(2, 2, 200)]);
        assert_eq!(acks.replicas(300).len(), 1);
        // Without broker ids a reconnection is recognised by its host.
        acks.connected(4, addr(4), None, 50);
        acks.disconnected(4);
        assert_eq!(acks.departed().len(), 2);
        acks.connected(5, addr(5), None, 50);
        assert_eq!(acks.departed(), vec![gone(2, 2, 200)]);
    }

    #[tokio::test]
    async fn a_wait_ends_when_enough_replicas_acknowledge() {
        let acks = std::sync::Arc::new(Acks::new(2, 1 << 20, Duration::from_secs(10)));
        acks.connected(1, addr(1), None, 100);
        acks.connected(2, addr(2), None, 100);
        let waiter = {
            let acks = acks.clone();
            tokio::spawn(async move { acks.wait_for(500, 500, Duration::from_secs(10)).await })
        };
        acks.reported(1, 600);
        // One replica is not enough for two.
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        acks.reported(2, 500);
        assert_eq!(waiter.await.expect("joined"), Ok(()));
    }

    #[tokio::test]
    async fn too_few_replicas_fail_at_once_and_a_silent_one_times_out() {
        let acks = Acks::new(1, 1 << 20, Duration::from_secs(10));
        assert_eq!(
            acks.wait_for(10, 10, Duration::from_secs(10)).await,
            Err(ReplicaWaitError::NotEnoughReplicas {
                in_sync: 0,
                needed: 1
            })
        );
        acks.connected(1, addr(1), None, 0);
        assert!(matches!(
            acks.wait_for(10, 10, Duration::from_millis(20)).await,
            Err(ReplicaWaitError::Timeout { offset: 10, .. })
        ));
        acks.disconnected(1);
        assert!(acks.replicas(10).is_empty());
    }

    #[test]
    fn a_replica_too_far_behind_is_not_in_sync() {
        let acks = Acks::new(1, 1000, Duration::from_secs(10));
        acks.connected(1, addr(1), None, 0);
        acks.connected(2, addr(2), None, 9_500);
        let r = acks.replicas(10_000);
        assert_eq!(
            r.iter().map(|r| (r.acked, r.in_sync)).collect::<Vec<_>>(),
            vec![(0, false), (9_500, true)]
        );
    }

    #[tokio::test]
    async fn in_controller_mode_every_required_replica_acknowledges() {
        let acks = std::sync::Arc::new(Acks::new(1, 1 << 20, Duration::from_secs(10)));
        // The master alone in the sync-state set: its own write is enough.
        acks.require(BTreeSet::new());
        assert_eq!(acks.wait_for(10, 10, Duration::from_secs(10)).await, Ok(()));
        // Replica 2 joins the set; replica 3 is connected but not in it.
        acks.connected(1, addr(1), Some(2), 0);
        acks.connected(2, addr(2), Some(3), 0);
        acks.require([2].into_iter().collect());
        let waiter = {
            let acks = acks.clone();
            tokio::spawn(async move { acks.wait_for(50, 50, Duration::from_secs(10)).await })
        };
        acks.reported(2, 80);
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished(), "replica 3 is not the one required");
        acks.reported(1, 50);
        assert_eq!(waiter.await.expect("joined"), Ok(()));
        // A required replica that is gone fails a send at once.
        acks.disconnected(1);
        assert!(matches!(
            acks.wait_for(60, 60, Duration::from_secs(10)).await,
            Err(ReplicaWaitError::NotEnoughReplicas { .. })
        ));
    }
}
