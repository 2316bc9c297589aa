//! The in-flight table of POP consumption: per (group, topic, queue), which popped messages are
//! invisible until when, how often each was delivered, and where the queue's never-popped part
//! begins. In memory; what survives a restart is the group's committed offset (the lowest offset
//! not yet acked, written by the service through the consumer-offset table) and the journal
//! (`journal`): which deliveries ended above it, and each delivery's attempt number.
//!
//! Each queue has its own lock, so a pop can hold its queue while it reads the store (a short,
//! synchronous read) without blocking other queues; the outer map lock is held only to find the
//! queue.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use super::handle::ReceiptHandle;
use super::journal::{AckJournal, Journaled, Snapshot};

/// (group, topic, queue id).
pub type QueueKey = (String, String, u32);

/// One delivered, not yet acked message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    /// 1 for the first delivery.
    pub attempt: u32,
    pub pop_time_ms: u64,
    pub invisible_ms: u64,
    pub token: u32,
    /// The revive scan already announced that this lease expired (it announces each once).
    pub announced: bool,
}

impl Lease {
    /// When the message becomes deliverable again (ms since the epoch).
    #[must_use]
    pub fn visible_at(&self) -> u64 {
        self.pop_time_ms.saturating_add(self.invisible_ms)
    }
}

/// Why a handle does not name a live delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stale {
    /// No delivery of that offset is in flight: acked, dead-lettered, or never popped here (or
    /// before a restart).
    NotInFlight,
    /// The message was delivered again, or its invisible time changed, since the handle was issued.
    Superseded,
}

/// The bookkeeping of one queue for one group.
#[derive(Debug)]
pub struct QueueLeases {
    /// The first offset never popped.
    pub next: u64,
    /// In-flight deliveries by queue offset.
    pub leases: BTreeMap<u64, Lease>,
    /// The committed offset last written to the offset table.
    pub committed: u64,
    /// Deliveries that ended above the lowest unacked offset (journaled, see `journal`): not to be
    /// delivered again when `next` reaches them after a restart.
    pub ended: BTreeSet<u64>,
    /// Attempts delivered before a restart, by offset, for messages not delivered since: the next
    /// delivery of one is the attempt after.
    pub past_attempts: BTreeMap<u64, u32>,
}

impl QueueLeases {
    fn new(start: u64, journaled: Journaled) -> Self {
        Self {
            next: start,
            leases: BTreeMap::new(),
            committed: start,
            ended: journaled.ended,
            past_attempts: journaled.attempts,
        }
    }

    /// What the journal must keep for this queue: its ended deliveries and the attempts of what is
    /// in flight or was before a restart.
    #[must_use]
    pub fn journaled(&self) -> Journaled {
        let mut attempts = self.past_attempts.clone();
        attempts.extend(self.leases.iter().map(|(o, l)| (*o, l.attempt)));
        Journaled {
            ended: self.ended.clone(),
            attempts,
        }
    }

    /// Ends the delivery of `offset` (acked or dead-lettered). The caller journals it: even one the
    /// committed offset now covers, since that offset reaches disk only every few seconds.
    pub fn end(&mut self, offset: u64) {
        self.leases.remove(&offset);
        self.past_attempts.remove(&offset);
        if offset > self.lowest_unacked() {
            self.ended.insert(offset);
        }
    }

    /// The lowest offset not yet acked: everything below it is done.
    #[must_use]
    pub fn lowest_unacked(&self) -> u64 {
        self.leases
            .keys()
            .next()
            .map_or(self.next, |first| (*first).min(self.next))
    }

    /// Offsets whose invisible time has passed, lowest first.
    pub fn expired(&self, now_ms: u64) -> impl Iterator<Item = (u64, Lease)> + '_ {
        self.leases
            .iter()
            .filter(move |(_, l)| l.visible_at() <= now_ms)
            .map(|(o, l)| (*o, *l))
    }

    /// The earliest time a lease still invisible at `now_ms` expires.
    #[must_use]
    pub fn next_expiry(&self, now_ms: u64) -> Option<u64> {
        self.leases
            .values()
            .map(Lease::visible_at)
            .filter(|at| *at > now_ms)
            .min()
    }

    /// A FIFO queue delivers nothing while any of its messages is invisible.
    #[must_use]
    pub fn fifo_blocked(&self, now_ms: u64) -> bool {
        self.next_expiry(now_ms).is_some()
    }

    /// The lease `handle` was issued for.
    ///
    /// # Errors
    /// When it is no longer the message's current delivery.
    pub fn check(&self, handle: &ReceiptHandle) -> Result<Lease, Stale> {
        let lease = self.leases.get(&handle.offset).ok_or(Stale::NotInFlight)?;
        if lease.token != handle.token
            || lease.pop_time_ms != handle.pop_time_ms
            || lease.invisible_ms != handle.invisible_ms
        {
            return Err(Stale::Superseded);
        }
        Ok(*lease)
    }

    /// Ends the delivery `handle` names (ack or dead-letter; see [`QueueLeases::end`]).
    ///
    /// # Errors
    /// When it is no longer the message's current delivery.
    pub fn finish(&mut self, handle: &ReceiptHandle) -> Result<(), Stale> {
        self.check(handle)?;
        self.end(handle.offset);
        Ok(())
    }

    /// Starts the queue over at `offset` (the group's offset was reset): nothing in flight, nothing
    /// ended above it.
    fn restart_at(&mut self, offset: u64) {
        self.next = offset;
        self.committed = offset;
        self.leases.clear();
        self.ended.clear();
        self.past_attempts.clear();
    }

    /// Takes the committed offset to write, when it moved since the last write.
    pub fn commit_due(&mut self) -> Option<u64> {
        let now = self.lowest_unacked();
        (now != self.committed).then(|| {
            self.committed = now;
            self.ended = self.ended.split_off(&now);
            self.past_attempts = self.past_attempts.split_off(&now);
            now
        })
    }
}

/// Every queue's leases, the ack journal, and the token source.
#[derive(Debug)]
pub struct Leases {
    queues: Mutex<HashMap<QueueKey, Arc<Mutex<QueueLeases>>>>,
    journal: Option<AckJournal>,
    tokens: AtomicU64,
}

impl Default for Leases {
    fn default() -> Self {
        Self::new(None)
    }
}

impl Leases {
    /// Leases journaling ended deliveries to `journal` (none: memory only).
    #[must_use]
    pub fn new(journal: Option<AckJournal>) -> Self {
        // Seeded from the clock so tokens differ across restarts: a handle from before a restart
        // must not match a delivery after it.
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
            .to_le_bytes();
        let mut s = [0u8; 8];
        s.copy_from_slice(&seed[..8]);
        Self {
            queues: Mutex::new(HashMap::new()),
            journal,
            tokens: AtomicU64::new(u64::from_le_bytes(s)),
        }
    }

    /// The queue's bookkeeping, created starting at `start()` when absent.
    pub fn queue(&self, key: &QueueKey, start: impl FnOnce() -> u64) -> Arc<Mutex<QueueLeases>> {
        let mut queues = self.queues.lock();
        if let Some(q) = queues.get(key) {
            return q.clone();
        }
        let start = start();
        let journaled = self
            .journal
            .as_ref()
            .map(|j| j.claim(key, start))
            .unwrap_or_default();
        let q = Arc::new(Mutex::new(QueueLeases::new(start, journaled)));
        queues.insert(key.clone(), q.clone());
        q
    }

    /// The queue's bookkeeping, if anything was ever popped from it since the broker started.
    #[must_use]
    pub fn existing(&self, key: &QueueKey) -> Option<Arc<Mutex<QueueLeases>>> {
        self.queues.lock().get(key).cloned()
    }

    /// Every queue (for the revive scan).
    #[must_use]
    pub fn all(&self) -> Vec<(QueueKey, Arc<Mutex<QueueLeases>>)> {
        self.queues
            .lock()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// The group's offset of the queue was reset to `offset` (the caller commits it): the next pop
    /// starts there, the deliveries in flight are forgotten (their acks are answered as not in
    /// flight; their messages come again from the new offset), and so is what the journal holds of
    /// the queue.
    pub fn reset(&self, key: &QueueKey, offset: u64) {
        if let Some(q) = self.existing(key) {
            q.lock().restart_at(offset);
        }
        if let Some(j) = &self.journal {
            j.reset(key, offset);
        }
    }

    /// Journals ended deliveries (with SYNC_FLUSH, on disk when this returns). Call after
    /// releasing the queue's lock.
    pub fn record_ended(&self, key: &QueueKey, offsets: &[u64]) {
        if let Some(j) = &self.journal {
            j.record(key, offsets);
        }
    }

    /// Journals deliveries made, `(offset, attempt)`. Call after releasing the queue's lock.
    pub fn record_delivered(&self, key: &QueueKey, deliveries: &[(u64, u32)]) {
        if let Some(j) = &self.journal {
            j.record_delivered(key, deliveries);
        }
    }

    /// Fsyncs the journal if anything was appended since the last fsync.
    pub fn flush_journal(&self) {
        if let Some(j) = &self.journal {
            j.flush();
        }
    }

    /// Rewrites the journal when it grew enough. The rewrite keeps each queue's entries at or above
    /// its committed offset in memory, which reaches the offset file only every few seconds: a crash
    /// before that would leave the file's older offset with the entries between it and the newer
    /// one gone, and the acked messages there delivered again. So `persist_offsets` runs after the
    /// entries are gathered and before the old file is replaced; every queue commits its offset to
    /// the offset table under its lock, before the gathering can see the entries it dropped.
    ///
    /// # Errors
    /// Persisting the offsets or the rewrite failed (the old file stays).
    pub fn compact_journal_if_due(
        &self,
        persist_offsets: impl FnOnce() -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        let Some(j) = self.journal.as_ref().filter(|j| j.needs_compaction()) else {
            return Ok(());
        };
        j.locked_compact(|| {
            let mut live = Snapshot::new();
            for (key, q) in self.all() {
                let journaled = q.lock().journaled();
                AckJournal::insert_live(&mut live, key, journaled);
            }
            persist_offsets()?;
            Ok(live)
        })
    }

    /// A fresh delivery token: a 64-bit counter scrambled (splitmix64) so consecutive tokens do not
    /// look alike, cut to Java's non-negative `int`.
    pub fn token(&self) -> u32 {
        let mut z = self
            .tokens
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        u32::try_from(z & u64::from(ReceiptHandle::MAX_TOKEN)).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(pop: u64, token: u32) -> Lease {
        Lease {
            attempt: 1,
            pop_time_ms: pop,
            invisible_ms: 100,
            token,
            announced: false,
        }
    }

    fn handle(offset: u64, l: &Lease) -> ReceiptHandle {
        ReceiptHandle {
            broker_name: "b".into(),
            queue_id: 0,
            offset,
            pop_time_ms: l.pop_time_ms,
            invisible_ms: l.invisible_ms,
            token: l.token,
        }
    }

    #[test]
    fn committed_offset_is_the_lowest_unacked() {
        let mut q = QueueLeases::new(5, Journaled::default());
        assert_eq!(q.commit_due(), None);
        for o in 5..8 {
            q.leases
                .insert(o, lease(1000, u32::try_from(o).expect("small")));
        }
        q.next = 8;
        assert_eq!(q.lowest_unacked(), 5);
        let h6 = handle(6, &q.leases[&6]);
        q.finish(&h6).expect("acks 6");
        assert!(q.ended.contains(&6), "6 lies above 5");
        assert_eq!(q.commit_due(), None, "5 is still in flight");
        let h5 = handle(5, &q.leases[&5]);
        q.finish(&h5).expect("acks 5");
        assert_eq!(q.commit_due(), Some(7));
        assert!(q.ended.is_empty(), "6 is below the committed offset now");
        assert_eq!(q.finish(&h5), Err(Stale::NotInFlight));
    }

    #[test]
    fn a_superseded_handle_is_stale() {
        let mut q = QueueLeases::new(0, Journaled::default());
        q.leases.insert(0, lease(1000, 1));
        let old = handle(0, &q.leases[&0]);
        q.leases.insert(0, lease(2000, 2));
        assert_eq!(q.check(&old), Err(Stale::Superseded));
        let mut forged = handle(0, &q.leases[&0]);
        forged.token ^= 1;
        assert_eq!(q.check(&forged), Err(Stale::Superseded));
    }

    #[test]
    fn expiry_and_fifo_blocking() {
        let mut q = QueueLeases::new(0, Journaled::default());
        q.leases.insert(0, lease(1000, 1));
        q.leases.insert(1, lease(1050, 2));
        assert!(q.fifo_blocked(1000));
        assert_eq!(q.next_expiry(1000), Some(1100));
        assert_eq!(q.expired(1100).map(|(o, _)| o).collect::<Vec<_>>(), [0]);
        assert!(q.fifo_blocked(1100));
        assert!(!q.fifo_blocked(1150));
    }

    #[test]
    fn tokens_vary_and_fit_a_java_int() {
        let l = Leases::default();
        let a: Vec<u32> = (0..1000).map(|_| l.token()).collect();
        assert!(a.iter().all(|t| *t <= ReceiptHandle::MAX_TOKEN));
        let distinct: std::collections::HashSet<_> = a.iter().collect();
        assert!(distinct.len() > 990);
    }
}
