//! The POP journal: one line per delivery that ended (ack or dead-letter) and one per delivery
//! made. The committed offset (the lowest unacked one) alone would make a restart deliver again
//! every message acked above it, and, after a crash, every ack since the offsets last reached
//! disk; with the ended lines a restart skips them. The delivery lines carry each message's
//! attempt number, so after a restart a message comes back with the next attempt (reconsume times
//! keep counting) and one that used its last attempt goes to the dead-letter queue.
//!
//! Format (`config/popAcks.log`), one entry per line, fields separated by one space (topic and
//! group names cannot contain spaces):
//!
//! ```text
//! <queue id> <queue offset> <topic> <group>\n                  a delivery ended
//! d <queue id> <queue offset> <attempt> <topic> <group>\n      attempt <attempt> was delivered
//! r <queue id> <queue offset> <topic> <group>\n                the group's offset was reset here
//! ```
//!
//! A reset line makes a load forget what the lines before it said of that queue: after an offset
//! reset (backwards, say) the messages acked before must be delivered again.
//!
//! (A broker that predates the delivery lines skips them as unreadable.)
//!
//! **Durability** follows the store's flush mode ([`SyncPolicy`]). Each append is one `write`, so
//! it survives the broker process being killed. With SYNC_FLUSH an ended delivery is also fsync'd
//! before the call returns (so before the ack is answered); acks arriving together share one fsync
//! (group commit: whoever syncs covers every line written before it started). With ASYNC_FLUSH, and
//! for delivery lines in both modes, the file is fsync'd by [`AckJournal::flush`], which the revive
//! pass calls at least once a second.
//!
//! A torn or unreadable line is skipped on load. The file is rewritten (atomically, fsync'd) at
//! open and whenever it grew by [`COMPACT_AFTER`] lines, keeping only entries at or above their
//! queue's committed offset.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use ferromq_store::FlushMode;
use parking_lot::Mutex;
use tracing::warn;

use super::leases::QueueKey;

/// Appended lines after which the revive pass compacts the file.
pub const COMPACT_AFTER: u64 = 10_000;

/// What the journal holds for one queue.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Journaled {
    /// Offsets whose delivery ended (acked or dead-lettered).
    pub ended: BTreeSet<u64>,
    /// The last attempt delivered, by offset, for messages not ended.
    pub attempts: BTreeMap<u64, u32>,
}

impl Journaled {
    fn is_empty(&self) -> bool {
        self.ended.is_empty() && self.attempts.is_empty()
    }
}

/// Journal content per queue.
pub type Snapshot = HashMap<QueueKey, Journaled>;

/// When ended deliveries reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncPolicy {
    /// Before the ack is answered (the store's SYNC_FLUSH).
    EveryAck,
    /// By the periodic [`AckJournal::flush`] (ASYNC_FLUSH).
    Periodic,
}

impl From<FlushMode> for SyncPolicy {
    fn from(mode: FlushMode) -> Self {
        match mode {
            FlushMode::SyncFlush => Self::EveryAck,
            FlushMode::AsyncFlush => Self::Periodic,
        }
    }
}

#[derive(Debug)]
struct Appender {
    file: Option<Arc<File>>,
    /// Lines since the last rewrite.
    appended: u64,
    /// Appends since open: the sequence number of the last one.
    written: u64,
}

/// One line.
enum Entry {
    Ended(QueueKey, u64),
    Delivered(QueueKey, u64, u32),
    Reset(QueueKey),
}

/// The journal file and what it held at open, not yet claimed by a queue.
#[derive(Debug)]
pub struct AckJournal {
    path: PathBuf,
    policy: SyncPolicy,
    loaded: Mutex<Snapshot>,
    appender: Mutex<Appender>,
    /// Held while one caller fsyncs, so callers arriving meanwhile wait and then find their lines
    /// already covered (the group commit). Taken before `appender`, never the other way round.
    syncing: Mutex<()>,
    /// Every append up to this sequence number is on disk.
    durable: AtomicU64,
    fsyncs: AtomicU64,
}

fn parse_line(line: &str) -> Option<Entry> {
    let mut f = line.split(' ').peekable();
    let delivered = f.next_if_eq(&"d").is_some();
    let reset = !delivered && f.next_if_eq(&"r").is_some();
    let queue = f.next()?.parse().ok()?;
    let offset = f.next()?.parse().ok()?;
    let attempt = if delivered {
        Some(f.next()?.parse().ok()?)
    } else {
        None
    };
    let topic = f.next().filter(|t| !t.is_empty())?;
    let group = f.next().filter(|g| !g.is_empty())?;
    if f.next().is_some() {
        return None;
    }
    let key = (group.to_owned(), topic.to_owned(), queue);
    Some(match attempt {
        Some(a) => Entry::Delivered(key, offset, a),
        None if reset => Entry::Reset(key),
        None => Entry::Ended(key, offset),
    })
}

fn render_ended(out: &mut String, key: &QueueKey, offset: u64) {
    use std::fmt::Write as _;
    let (group, topic, queue) = key;
    let _ = writeln!(out, "{queue} {offset} {topic} {group}");
}

fn render_reset(out: &mut String, key: &QueueKey, offset: u64) {
    use std::fmt::Write as _;
    let (group, topic, queue) = key;
    let _ = writeln!(out, "r {queue} {offset} {topic} {group}");
}

fn render_delivered(out: &mut String, key: &QueueKey, offset: u64, attempt: u32) {
    use std::fmt::Write as _;
    let (group, topic, queue) = key;
    let _ = writeln!(out, "d {queue} {offset} {attempt} {topic} {group}");
}

/// Reads a journal file's bytes: whole lines only (a write cut by a crash leaves a last line
/// without its newline), unreadable lines skipped, entries below `committed` of their queue
/// dropped, and an offset that ended forgets its attempts.
pub fn parse_text(bytes: &[u8], committed: impl Fn(&QueueKey) -> Option<u64>) -> Snapshot {
    let mut loaded = Snapshot::new();
    let text = String::from_utf8_lossy(bytes);
    let whole = text.rfind('\n').map_or("", |end| &text[..end]);
    // Split on '\n' alone (not `lines()`, which also eats a '\r'), so a line reads back exactly
    // as it was rendered.
    for entry in whole.split('\n').filter_map(parse_line) {
        let (Entry::Ended(key, offset) | Entry::Delivered(key, offset, _)) = &entry else {
            if let Entry::Reset(key) = &entry {
                loaded.remove(key);
            }
            continue;
        };
        if committed(key).is_some_and(|c| *offset < c) {
            continue;
        }
        let j = loaded.entry(key.clone()).or_default();
        match entry {
            Entry::Ended(_, offset) => {
                j.ended.insert(offset);
            }
            Entry::Delivered(_, offset, attempt) => {
                let a = j.attempts.entry(offset).or_default();
                *a = (*a).max(attempt);
            }
            Entry::Reset(_) => {}
        }
    }
    for j in loaded.values_mut() {
        let ended = &j.ended;
        j.attempts.retain(|o, _| !ended.contains(o));
    }
    loaded
}

/// The file text a compaction writes for `snapshot`: what [`parse_text`] reads back.
#[must_use]
pub fn render_snapshot(snapshot: &Snapshot) -> String {
    let mut text = String::new();
    for (key, j) in snapshot {
        render(&mut text, key, j);
    }
    text
}

fn render(out: &mut String, key: &QueueKey, j: &Journaled) {
    for &o in &j.ended {
        render_ended(out, key, o);
    }
    for (&o, &a) in &j.attempts {
        render_delivered(out, key, o, a);
    }
}

impl AckJournal {
    /// Loads the journal at `path` (absent: empty), dropping entries below `committed` of their
    /// queue, and rewrites it with what is left.
    ///
    /// # Errors
    /// The file cannot be read or rewritten.
    pub fn open(
        path: PathBuf,
        policy: SyncPolicy,
        committed: impl Fn(&QueueKey) -> Option<u64>,
    ) -> std::io::Result<Self> {
        let loaded = match ferromq_durable::read_optional(&path)? {
            Some(bytes) => parse_text(&bytes, committed),
            None => Snapshot::new(),
        };
        let journal = Self {
            path,
            policy,
            loaded: Mutex::new(loaded),
            appender: Mutex::new(Appender {
                file: None,
                appended: 0,
                written: 0,
            }),
            syncing: Mutex::new(()),
            durable: AtomicU64::new(0),
            fsyncs: AtomicU64::new(0),
        };
        journal.locked_compact(|| Ok(Snapshot::new()))?;
        Ok(journal)
    }

    /// The loaded entries of one queue at or above `start`; the queue keeps them from now on.
    pub fn claim(&self, key: &QueueKey, start: u64) -> Journaled {
        self.loaded
            .lock()
            .remove(key)
            .map(|mut j| Journaled {
                ended: j.ended.split_off(&start),
                attempts: j.attempts.split_off(&start),
            })
            .unwrap_or_default()
    }

    /// Appends ended deliveries and, with [`SyncPolicy::EveryAck`], waits until they are on disk.
    /// Call without holding a queue's lock (see [`AckJournal::locked_compact`]). A failed write or
    /// fsync is logged: the ack stands, and a restart may deliver the message again.
    pub fn record(&self, key: &QueueKey, offsets: &[u64]) {
        let mut text = String::new();
        for &o in offsets {
            render_ended(&mut text, key, o);
        }
        let Some(seq) = self.append(&text, offsets.len()) else {
            return;
        };
        if self.policy == SyncPolicy::EveryAck {
            self.sync_through(seq);
        }
    }

    /// The group's offset of the queue was reset to `offset`: forgets what was loaded for it and
    /// appends a reset line (on disk before this returns with [`SyncPolicy::EveryAck`]), so a
    /// restart does not skip messages acked before the reset.
    pub fn reset(&self, key: &QueueKey, offset: u64) {
        self.loaded.lock().remove(key);
        let mut text = String::new();
        render_reset(&mut text, key, offset);
        let Some(seq) = self.append(&text, 1) else {
            return;
        };
        if self.policy == SyncPolicy::EveryAck {
            self.sync_through(seq);
        }
    }

    /// Appends deliveries made, `(offset, attempt)`; they reach the disk with the next fsync.
    pub fn record_delivered(&self, key: &QueueKey, deliveries: &[(u64, u32)]) {
        let mut text = String::new();
        for &(o, a) in deliveries {
            render_delivered(&mut text, key, o, a);
        }
        let _ = self.append(&text, deliveries.len());
    }

    /// Writes `text` (`lines` lines); returns its sequence number, `None` when nothing was written.
    fn append(&self, text: &str, lines: usize) -> Option<u64> {
        if lines == 0 {
            return None;
        }
        let mut a = self.appender.lock();
        let result = match a.file.as_deref() {
            Some(mut file) => file.write_all(text.as_bytes()),
            None => Err(std::io::Error::other("journal not open")),
        };
        match result {
            Ok(()) => {
                a.appended += lines as u64;
                a.written += 1;
                Some(a.written)
            }
            Err(e) => {
                warn!(path = %self.path.display(), error = %e, "POP journal write failed");
                None
            }
        }
    }

    /// Makes every append up to `seq` durable: at once if another caller's fsync already covered
    /// it, else with one fsync covering everything written so far.
    fn sync_through(&self, seq: u64) {
        let _turn = self.syncing.lock();
        if self.durable.load(Ordering::Acquire) >= seq {
            return;
        }
        let (target, file) = {
            let a = self.appender.lock();
            (a.written, a.file.clone())
        };
        let Some(file) = file else { return };
        match file.sync_data() {
            Ok(()) => {
                self.fsyncs.fetch_add(1, Ordering::Relaxed);
                self.durable.fetch_max(target, Ordering::AcqRel);
            }
            Err(e) => {
                warn!(path = %self.path.display(), error = %e, "POP journal fsync failed");
            }
        }
    }

    /// Fsyncs what was appended since the last fsync (the periodic flush).
    pub fn flush(&self) {
        let written = self.appender.lock().written;
        if self.durable.load(Ordering::Acquire) < written {
            self.sync_through(written);
        }
    }

    /// How many fsyncs appends caused so far (rewrites not counted).
    #[must_use]
    pub fn fsyncs(&self) -> u64 {
        self.fsyncs.load(Ordering::Relaxed)
    }

    /// Whether every append so far is on disk.
    #[must_use]
    pub fn is_durable(&self) -> bool {
        self.durable.load(Ordering::Acquire) >= self.appender.lock().written
    }

    /// Whether the file grew enough to be worth rewriting.
    #[must_use]
    pub fn needs_compaction(&self) -> bool {
        self.appender.lock().appended >= COMPACT_AFTER
    }

    /// Rewrites the file with what `gather` returns (each queue's entries at or above its
    /// committed offset) and the loaded entries no queue claimed yet, then appends to the new file;
    /// a `gather` that fails leaves the file as it is.
    /// Appends wait meanwhile, so an entry that `gather` did not see lands in the new file. (An
    /// append happens after its queue's lock is released, and `gather` takes queue locks under
    /// this one: no cycle.)
    ///
    /// # Errors
    /// The rewrite failed (the old file stays, and appends go on to it).
    pub fn locked_compact(
        &self,
        gather: impl FnOnce() -> std::io::Result<Snapshot>,
    ) -> std::io::Result<()> {
        let mut a = self.appender.lock();
        let live = gather()?;
        let mut text = String::new();
        for (key, j) in live.iter().chain(self.loaded.lock().iter()) {
            render(&mut text, key, j);
        }
        // Temporary sibling, fsync, rename, fsync the folder: a crash leaves the old or the new
        // file, and everything written so far is on disk.
        ferromq_durable::write_atomic(&self.path, text.as_bytes())?;
        let file = OpenOptions::new().append(true).open(&self.path)?;
        a.file = Some(Arc::new(file));
        a.appended = 0;
        self.durable.fetch_max(a.written, Ordering::AcqRel);
        Ok(())
    }

    /// Keeps only non-empty queues (for [`AckJournal::locked_compact`]'s `gather`).
    pub fn insert_live(snapshot: &mut Snapshot, key: QueueKey, j: Journaled) {
        if !j.is_empty() {
            snapshot.insert(key, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(q: u32) -> QueueKey {
        ("g".into(), "T".into(), q)
    }

    fn open(path: &std::path::Path, committed: impl Fn(&QueueKey) -> Option<u64>) -> AckJournal {
        AckJournal::open(path.to_owned(), SyncPolicy::Periodic, committed).expect("opens")
    }

    #[test]
    fn a_compacted_journal_reads_back_exactly() {
        // Found by the pop_journal fuzz target: a name ending in '\r' lost it at each read.
        let file = b"d 1 9 1 T g\r\r\n0 5 T g\nd 0 5 2 T g\n3 7 T2 g2\ngarbage\n";
        let loaded = parse_text(file, |_| None);
        assert_eq!(loaded[&("g\r\r".into(), "T".into(), 1)].attempts[&9], 1);
        assert!(loaded[&key(0)].attempts.is_empty(), "offset 5 ended");
        assert_eq!(
            parse_text(render_snapshot(&loaded).as_bytes(), |_| None),
            loaded
        );
    }

    #[test]
    fn entries_survive_a_reopen_and_torn_lines_are_skipped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("popAcks.log");
        let j = open(&path, |_| None);
        j.record(&key(0), &[5, 7]);
        j.record(&key(1), &[3]);
        j.record_delivered(&key(1), &[(4, 1), (6, 1)]);
        j.record_delivered(&key(1), &[(4, 2), (3, 2)]);
        drop(j);
        // A crash in the middle of a write, and garbage.
        let mut f = OpenOptions::new().append(true).open(&path).expect("file");
        f.write_all(b"x y\nd 1 9 T g\n0 9 T").expect("writes");
        drop(f);
        // Queue 0 committed up to 6: its 5 is obsolete.
        let j = open(&path, |k| (k.2 == 0).then_some(6));
        assert_eq!(
            j.claim(&key(0), 6).ended.into_iter().collect::<Vec<_>>(),
            [7]
        );
        let q1 = j.claim(&key(1), 0);
        assert_eq!(q1.ended.into_iter().collect::<Vec<_>>(), [3]);
        // The highest attempt of each, and none for the one that ended.
        assert_eq!(
            q1.attempts.into_iter().collect::<Vec<_>>(),
            [(4, 2), (6, 1)]
        );
        assert_eq!(j.claim(&key(1), 0), Journaled::default(), "claimed once");
        let text = std::fs::read_to_string(&path).expect("reads");
        assert!(!text.contains("0 5 T g"), "compacted at open: {text:?}");
        assert!(!text.contains('x'), "{text:?}");
    }

    #[test]
    fn a_reset_forgets_what_came_before_it_for_its_queue_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("popAcks.log");
        let j = open(&path, |_| None);
        j.record(&key(0), &[5, 7]);
        j.record(&key(1), &[3]);
        j.reset(&key(0), 2);
        j.record(&key(0), &[4]);
        j.record_delivered(&key(0), &[(6, 1)]);
        drop(j);
        let j = open(&path, |_| None);
        let q0 = j.claim(&key(0), 0);
        assert_eq!(q0.ended.into_iter().collect::<Vec<_>>(), [4]);
        assert_eq!(q0.attempts.into_iter().collect::<Vec<_>>(), [(6, 1)]);
        assert_eq!(
            j.claim(&key(1), 0).ended.into_iter().collect::<Vec<_>>(),
            [3]
        );
        // A reset of a queue not claimed yet drops what was loaded for it.
        drop(j);
        let j = open(&path, |_| None);
        j.reset(&key(1), 0);
        assert_eq!(j.claim(&key(1), 0), Journaled::default());
    }

    #[test]
    fn compaction_keeps_live_and_unclaimed_entries() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("popAcks.log");
        let j = open(&path, |_| None);
        j.record(&key(0), &[1, 2, 3]);
        j.record(&key(2), &[8]);
        j.record_delivered(&key(2), &[(9, 3)]);
        drop(j);
        let j = open(&path, |_| None);
        let _ = j.claim(&key(0), 0);
        let mut live = Snapshot::new();
        let mut q0 = Journaled::default();
        q0.ended.insert(3);
        q0.attempts.insert(5, 2);
        AckJournal::insert_live(&mut live, key(0), q0);
        AckJournal::insert_live(&mut live, key(1), Journaled::default());
        j.locked_compact(|| Ok(live)).expect("compacts");
        j.record(&key(0), &[4]);
        drop(j);
        let j = open(&path, |_| None);
        let q0 = j.claim(&key(0), 0);
        assert_eq!(q0.ended.into_iter().collect::<Vec<_>>(), [3, 4]);
        assert_eq!(q0.attempts.into_iter().collect::<Vec<_>>(), [(5, 2)]);
        let q2 = j.claim(&key(2), 0);
        assert_eq!(q2.ended.into_iter().collect::<Vec<_>>(), [8]);
        assert_eq!(q2.attempts.into_iter().collect::<Vec<_>>(), [(9, 3)]);
    }

    #[test]
    fn sync_flush_fsyncs_each_ack_before_returning() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("popAcks.log");
        let j = AckJournal::open(path, SyncPolicy::EveryAck, |_| None).expect("opens");
        assert!(j.is_durable());
        j.record_delivered(&key(0), &[(0, 1)]);
        assert_eq!(j.fsyncs(), 0, "deliveries wait for the periodic flush");
        assert!(!j.is_durable());
        j.record(&key(0), &[0]);
        assert_eq!(j.fsyncs(), 1);
        assert!(
            j.is_durable(),
            "the ack (and the delivery before it) is on disk"
        );
        j.flush();
        assert_eq!(j.fsyncs(), 1, "nothing left to flush");
    }

    #[test]
    fn async_flush_fsyncs_only_when_flushed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("popAcks.log");
        let j = open(&path, |_| None);
        j.record(&key(0), &[0, 1]);
        j.record(&key(0), &[2]);
        assert_eq!(j.fsyncs(), 0);
        assert!(!j.is_durable());
        j.flush();
        assert_eq!(j.fsyncs(), 1, "one fsync for both");
        assert!(j.is_durable());
    }

    #[test]
    fn concurrent_acks_are_all_durable_when_they_return() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("popAcks.log");
        let j = AckJournal::open(path.clone(), SyncPolicy::EveryAck, |_| None).expect("opens");
        let j = &j;
        std::thread::scope(|scope| {
            for t in 0..4u32 {
                scope.spawn(move || {
                    for o in 0..50 {
                        j.record(&key(t), &[o]);
                    }
                });
            }
        });
        assert!(j.is_durable());
        assert!(j.fsyncs() >= 1 && j.fsyncs() <= 200, "{}", j.fsyncs());
        let j = open(&path, |_| None);
        for t in 0..4 {
            assert_eq!(j.claim(&key(t), 0).ended.len(), 50);
        }
    }
}
