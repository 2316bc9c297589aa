//! The ack journal: one line per POP delivery that ended (ack or dead-letter). The committed
//! offset (the lowest unacked one) alone would make a restart deliver again every message acked
//! above it, and, after a crash, every ack since the offsets last reached disk; with the journal a
//! restart skips them.
//!
//! Format (`config/popAcks.log`), one entry per line, fields separated by one space (topic and
//! group names cannot contain spaces):
//!
//! ```text
//! <queue id> <queue offset> <topic> <group>\n
//! ```
//!
//! A line is appended with one `write` and no fsync: it survives the broker process being killed,
//! not the machine losing power (then the restart just redelivers, at least once). A torn or
//! unreadable line is skipped on load. The file is rewritten (atomically) at open and whenever it
//! grew by [`COMPACT_AFTER`] lines, keeping only entries above their queue's committed offset.

use std::collections::{BTreeSet, HashMap};
use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::PathBuf;

use parking_lot::Mutex;
use tracing::warn;

use super::leases::QueueKey;

/// Appended lines after which the revive pass compacts the file.
pub const COMPACT_AFTER: u64 = 10_000;

/// Ended deliveries per queue.
pub type Ended = HashMap<QueueKey, BTreeSet<u64>>;

#[derive(Debug)]
struct Appender {
    file: Option<File>,
    appended: u64,
}

/// The journal file and what it held at open, not yet claimed by a queue.
#[derive(Debug)]
pub struct AckJournal {
    path: PathBuf,
    loaded: Mutex<Ended>,
    appender: Mutex<Appender>,
}

fn parse_line(line: &str) -> Option<(QueueKey, u64)> {
    let mut f = line.split(' ');
    let queue = f.next()?.parse().ok()?;
    let offset = f.next()?.parse().ok()?;
    let topic = f.next().filter(|t| !t.is_empty())?;
    let group = f.next().filter(|g| !g.is_empty())?;
    if f.next().is_some() {
        return None;
    }
    Some(((group.to_owned(), topic.to_owned(), queue), offset))
}

fn render(out: &mut String, key: &QueueKey, offset: u64) {
    use std::fmt::Write as _;
    let (group, topic, queue) = key;
    let _ = writeln!(out, "{queue} {offset} {topic} {group}");
}

impl AckJournal {
    /// Loads the journal at `path` (absent: empty), dropping entries below `committed` of their
    /// queue, and rewrites it with what is left.
    ///
    /// # Errors
    /// The file cannot be read or rewritten.
    pub fn open(
        path: PathBuf,
        committed: impl Fn(&QueueKey) -> Option<u64>,
    ) -> std::io::Result<Self> {
        let mut loaded = Ended::new();
        if let Some(bytes) = ferromq_durable::read_optional(&path)? {
            let text = String::from_utf8_lossy(&bytes);
            // Only whole lines: a write cut by a crash leaves a last line without its newline.
            let whole = text.rfind('\n').map_or("", |end| &text[..end]);
            for line in whole.lines() {
                if let Some((key, offset)) = parse_line(line) {
                    if committed(&key).is_none_or(|c| offset >= c) {
                        loaded.entry(key).or_default().insert(offset);
                    }
                }
            }
        }
        let journal = Self {
            path,
            loaded: Mutex::new(loaded),
            appender: Mutex::new(Appender {
                file: None,
                appended: 0,
            }),
        };
        journal.locked_compact(Ended::new)?;
        Ok(journal)
    }

    /// The loaded entries of one queue at or above `start`; the queue keeps them from now on.
    pub fn claim(&self, key: &QueueKey, start: u64) -> BTreeSet<u64> {
        self.loaded
            .lock()
            .remove(key)
            .map(|mut set| set.split_off(&start))
            .unwrap_or_default()
    }

    /// Appends ended deliveries. Call without holding a queue's lock (see
    /// [`AckJournal::locked_compact`]). A failed write is logged: the ack stands, and a restart may
    /// deliver the message again.
    pub fn record(&self, key: &QueueKey, offsets: &[u64]) {
        if offsets.is_empty() {
            return;
        }
        let mut text = String::new();
        for &o in offsets {
            render(&mut text, key, o);
        }
        let mut a = self.appender.lock();
        let result = match a.file.as_mut() {
            Some(file) => file.write_all(text.as_bytes()),
            None => Err(std::io::Error::other("journal not open")),
        };
        match result {
            Ok(()) => a.appended += offsets.len() as u64,
            Err(e) => {
                warn!(path = %self.path.display(), error = %e, "POP ack journal write failed")
            }
        }
    }

    /// Whether the file grew enough to be worth rewriting.
    #[must_use]
    pub fn needs_compaction(&self) -> bool {
        self.appender.lock().appended >= COMPACT_AFTER
    }

    /// Rewrites the file with what `gather` returns (each queue's ended deliveries at or above its
    /// committed offset) and the loaded entries no queue claimed yet, then appends to the new file.
    /// Appends wait meanwhile, so an ack that `gather` did not see lands in the new file. (An ack
    /// takes its queue's lock and then, released, this one; `gather` takes queue locks under this
    /// one: no cycle.)
    ///
    /// # Errors
    /// The rewrite failed (the old file stays, and appends go on to it).
    pub fn locked_compact(&self, gather: impl FnOnce() -> Ended) -> std::io::Result<()> {
        let mut a = self.appender.lock();
        let live = gather();
        self.rewrite(&mut a, &live)
    }

    fn rewrite(&self, a: &mut Appender, live: &Ended) -> std::io::Result<()> {
        let mut text = String::new();
        for (key, offsets) in live.iter().chain(self.loaded.lock().iter()) {
            for &o in offsets {
                render(&mut text, key, o);
            }
        }
        // Temporary sibling, fsync, rename, fsync the folder: a crash leaves the old or the new file.
        ferromq_durable::write_atomic(&self.path, text.as_bytes())?;
        let file = OpenOptions::new().append(true).open(&self.path)?;
        a.file = Some(file);
        a.appended = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(q: u32) -> QueueKey {
        ("g".into(), "T".into(), q)
    }

    #[test]
    fn entries_survive_a_reopen_and_torn_lines_are_skipped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("popAcks.log");
        let j = AckJournal::open(path.clone(), |_| None).expect("opens");
        j.record(&key(0), &[5, 7]);
        j.record(&key(1), &[3]);
        drop(j);
        // A crash in the middle of a write, and garbage.
        let mut f = OpenOptions::new().append(true).open(&path).expect("file");
        f.write_all(b"x y\n0 9 T").expect("writes");
        drop(f);
        // Queue 0 committed up to 6: its 5 is obsolete.
        let j = AckJournal::open(path.clone(), |k| (k.2 == 0).then_some(6)).expect("reopens");
        assert_eq!(j.claim(&key(0), 6).into_iter().collect::<Vec<_>>(), [7]);
        assert_eq!(j.claim(&key(1), 0).into_iter().collect::<Vec<_>>(), [3]);
        assert!(j.claim(&key(1), 0).is_empty(), "claimed once");
        let text = std::fs::read_to_string(&path).expect("reads");
        assert!(!text.contains("0 5 T g"), "compacted at open: {text:?}");
        assert!(!text.contains('x'), "{text:?}");
    }

    #[test]
    fn compaction_keeps_live_and_unclaimed_entries() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("popAcks.log");
        let j = AckJournal::open(path.clone(), |_| None).expect("opens");
        j.record(&key(0), &[1, 2, 3]);
        j.record(&key(2), &[8]);
        drop(j);
        let j = AckJournal::open(path.clone(), |_| None).expect("reopens");
        let _ = j.claim(&key(0), 0);
        let mut live = Ended::new();
        live.entry(key(0)).or_default().insert(3);
        j.locked_compact(|| live).expect("compacts");
        j.record(&key(0), &[4]);
        drop(j);
        let j = AckJournal::open(path, |_| None).expect("reopens");
        assert_eq!(j.claim(&key(0), 0).into_iter().collect::<Vec<_>>(), [3, 4]);
        assert_eq!(j.claim(&key(2), 0).into_iter().collect::<Vec<_>>(), [8]);
    }
}
