//! The timer log: an append-only chain of fixed 40-byte entries in segment files named by their
//! start position (20 digits), under `timer/log/`.
//!
//! Entry layout (big-endian):
//!
//! ```text
//! off size field
//!   0   8  slot time (ms): the wheel slot this entry is chained into
//!   8   8  delivery time (ms); later than the slot's end for an entry beyond the wheel's span
//!  16   8  commit-log offset of the parked message
//!  24   8  position of the previous entry of the same slot (u64::MAX: none)
//!  32   4  size of the parked message; the top bit set marks a cancel marker (a recall)
//!  36   4  crc32 of bytes 0..36
//! ```
//!
//! Positions are global byte offsets, so a chain can cross segments. Segments wholly below the
//! oldest pending entry are deleted.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};

pub(crate) const ENTRY: u64 = 40;
pub(crate) const NONE: u64 = u64::MAX;
/// The size word's top bit: the entry is a recall's cancel marker. Sizes never reach it (records
/// are far below 2 GiB), so entries written before recalls existed read as plain messages.
const CANCEL_BIT: u32 = 1 << 31;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LogEntry {
    pub slot_ms: i64,
    pub deliver_ms: i64,
    pub phys: u64,
    pub prev: u64,
    pub size: u32,
    /// A cancel marker: the message at `phys` names a timer message not to deliver.
    pub cancel: bool,
}

impl LogEntry {
    fn encode(&self) -> [u8; ENTRY as usize] {
        let mut b = [0u8; ENTRY as usize];
        b[0..8].copy_from_slice(&self.slot_ms.to_be_bytes());
        b[8..16].copy_from_slice(&self.deliver_ms.to_be_bytes());
        b[16..24].copy_from_slice(&self.phys.to_be_bytes());
        b[24..32].copy_from_slice(&self.prev.to_be_bytes());
        let size = if self.cancel {
            self.size | CANCEL_BIT
        } else {
            self.size & !CANCEL_BIT
        };
        b[32..36].copy_from_slice(&size.to_be_bytes());
        let crc = crc32fast::hash(&b[0..36]);
        b[36..40].copy_from_slice(&crc.to_be_bytes());
        b
    }

    /// `None` when the checksum does not match (a torn or never-written entry).
    fn decode(b: &[u8; ENTRY as usize]) -> Option<Self> {
        let word = |r: std::ops::Range<usize>| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[r]);
            a
        };
        let mut crc = [0u8; 4];
        crc.copy_from_slice(&b[36..40]);
        if crc32fast::hash(&b[0..36]) != u32::from_be_bytes(crc) {
            return None;
        }
        let mut size = [0u8; 4];
        size.copy_from_slice(&b[32..36]);
        let size = u32::from_be_bytes(size);
        Some(Self {
            slot_ms: i64::from_be_bytes(word(0..8)),
            deliver_ms: i64::from_be_bytes(word(8..16)),
            phys: u64::from_be_bytes(word(16..24)),
            prev: u64::from_be_bytes(word(24..32)),
            size: size & !CANCEL_BIT,
            cancel: size & CANCEL_BIT != 0,
        })
    }
}

#[derive(Debug)]
pub(crate) struct TimerLog {
    dir: PathBuf,
    segment_bytes: u64,
    /// Open segments by start position.
    segments: BTreeMap<u64, File>,
    end: u64,
    /// Segments written since the last sync.
    dirty: Vec<u64>,
}

impl TimerLog {
    /// Opens the log and cuts it to `valid_end` (what the last checkpoint vouches for); entries
    /// past it are taken in again from the timer topic.
    pub(crate) fn open(dir: &Path, segment_bytes: u64, valid_end: u64) -> io::Result<Self> {
        fs::create_dir_all(dir)?;
        let segment_bytes = (segment_bytes / ENTRY).max(1) * ENTRY;
        let mut segments = BTreeMap::new();
        for entry in fs::read_dir(dir)? {
            let entry = entry?;
            let Some(start) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            if start > 0 && start >= valid_end {
                fs::remove_file(entry.path())?;
                continue;
            }
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .open(entry.path())?;
            segments.insert(start, file);
        }
        if let Some((&start, file)) = segments.iter().next_back() {
            if start + file.metadata()?.len() > valid_end {
                file.set_len(valid_end - start)?;
                file.sync_data()?;
            }
        }
        Ok(Self {
            dir: dir.to_owned(),
            segment_bytes,
            segments,
            end: valid_end,
            dirty: Vec::new(),
        })
    }

    /// Position after the last entry.
    pub(crate) fn end(&self) -> u64 {
        self.end
    }

    /// First position still on disk.
    pub(crate) fn start(&self) -> u64 {
        self.segments.keys().next().copied().unwrap_or(self.end)
    }

    pub(crate) fn append(&mut self, entry: &LogEntry) -> io::Result<u64> {
        let pos = self.end;
        let start = pos / self.segment_bytes * self.segment_bytes;
        if !self.segments.contains_key(&start) {
            let path = self.dir.join(format!("{start:020}"));
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(path)?;
            // The new name must survive a power cut along with the data.
            File::open(&self.dir)?.sync_all()?;
            self.segments.insert(start, file);
        }
        let file = &self.segments[&start];
        file.write_all_at(&entry.encode(), pos - start)?;
        if self.dirty.last() != Some(&start) {
            self.dirty.push(start);
        }
        self.end = pos + ENTRY;
        Ok(pos)
    }

    /// The entry at `pos`; `None` outside the log or when its checksum fails.
    pub(crate) fn read(&self, pos: u64) -> io::Result<Option<LogEntry>> {
        if pos == NONE || pos < self.start() || pos + ENTRY > self.end {
            return Ok(None);
        }
        let start = pos / self.segment_bytes * self.segment_bytes;
        let Some(file) = self.segments.get(&start) else {
            return Ok(None);
        };
        let mut b = [0u8; ENTRY as usize];
        file.read_exact_at(&mut b, pos - start)?;
        Ok(LogEntry::decode(&b))
    }

    /// Makes every appended entry durable.
    pub(crate) fn sync(&mut self) -> io::Result<()> {
        for start in self.dirty.drain(..) {
            if let Some(f) = self.segments.get(&start) {
                f.sync_data()?;
            }
        }
        Ok(())
    }

    /// Deletes segments that end at or before `pos` (never the one being written).
    pub(crate) fn drop_before(&mut self, pos: u64) -> io::Result<()> {
        let current = self.end / self.segment_bytes * self.segment_bytes;
        let dead: Vec<u64> = self
            .segments
            .keys()
            .copied()
            .filter(|&s| s + self.segment_bytes <= pos && s != current)
            .collect();
        for s in dead {
            self.segments.remove(&s);
            fs::remove_file(self.dir.join(format!("{s:020}")))?;
        }
        Ok(())
    }

    /// Calls `f` with every readable entry in `[from, end)` and its position, in log order,
    /// reading whole chunks so a restart scans millions of entries quickly.
    pub(crate) fn scan(&self, from: u64, mut f: impl FnMut(u64, LogEntry)) -> io::Result<()> {
        const CHUNK_ENTRIES: u64 = 16 * 1024;
        let mut pos = from.max(self.start()) / ENTRY * ENTRY;
        let mut buf = Vec::new();
        while pos < self.end {
            let seg = pos / self.segment_bytes * self.segment_bytes;
            let until = (seg + self.segment_bytes)
                .min(self.end)
                .min(pos + CHUNK_ENTRIES * ENTRY);
            let Some(file) = self.segments.get(&seg) else {
                pos = seg + self.segment_bytes;
                continue;
            };
            buf.resize(usize::try_from(until - pos).unwrap_or(0), 0);
            file.read_exact_at(&mut buf, pos - seg)?;
            for (i, chunk) in buf.chunks_exact(ENTRY as usize).enumerate() {
                let mut b = [0u8; ENTRY as usize];
                b.copy_from_slice(chunk);
                if let Some(e) = LogEntry::decode(&b) {
                    f(pos + i as u64 * ENTRY, e);
                }
            }
            pos = until;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(i: i64) -> LogEntry {
        LogEntry {
            slot_ms: i * 10,
            deliver_ms: i * 10 + 3,
            phys: u64::try_from(i).expect("small") * 100,
            prev: NONE,
            size: 77,
            cancel: i % 3 == 1,
        }
    }

    #[test]
    fn appends_across_segments_reopens_and_cuts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut log = TimerLog::open(dir.path(), 3 * ENTRY, 0).expect("open");
        for i in 0..7 {
            assert_eq!(
                log.append(&entry(i)).expect("append"),
                u64::try_from(i).expect("small") * ENTRY
            );
        }
        log.sync().expect("sync");
        assert_eq!(log.read(2 * ENTRY).expect("read"), Some(entry(2)));
        assert_eq!(log.read(7 * ENTRY).expect("read"), None);
        drop(log);
        // The checkpoint vouches for 5 entries only: the rest is cut.
        let log = TimerLog::open(dir.path(), 3 * ENTRY, 5 * ENTRY).expect("reopen");
        assert_eq!(log.end(), 5 * ENTRY);
        let mut all = Vec::new();
        log.scan(0, |_, e| all.push(e)).expect("scan");
        assert_eq!(all, (0..5).map(entry).collect::<Vec<_>>());
    }

    #[test]
    fn drops_dead_segments_and_detects_torn_entries() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut log = TimerLog::open(dir.path(), 2 * ENTRY, 0).expect("open");
        for i in 0..6 {
            log.append(&entry(i)).expect("append");
        }
        log.drop_before(4 * ENTRY).expect("drop");
        assert_eq!(log.start(), 4 * ENTRY);
        assert_eq!(log.read(ENTRY).expect("read"), None);
        // Flip a byte of entry 5: its checksum no longer matches.
        let f = OpenOptions::new()
            .write(true)
            .open(dir.path().join(format!("{:020}", 4 * ENTRY)))
            .expect("segment");
        f.write_all_at(&[0xFF], ENTRY + 3).expect("flip");
        assert_eq!(log.read(5 * ENTRY).expect("read"), None);
        assert_eq!(log.read(4 * ENTRY).expect("read"), Some(entry(4)));
    }
}
