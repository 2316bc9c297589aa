//! Finding a queue's bounds from its files at startup, checking what is cheap to check.
//!
//! Reading every file of 8,000 queues at each start would cost gigabytes, so the scan reads only:
//! one entry at each file boundary, a forward scan to the first written entry of the first file, a
//! binary search for the last written entry of the last file, and a window of entries on both sides
//! of the head and of the tail, where a crash leaves its damage. In those windows written entries
//! must be non-zero-sized with strictly increasing commit-log offsets (the dispatcher writes them
//! in log order) and nothing may be written after the tail. Anything else is `CorruptConsumeQueue`;
//! the queue is derived data, so recovery rebuilds it from the commit log.

use std::path::Path;
use std::sync::Arc;

use super::queue::Bounds;
use super::{parse_file_name, CqEntry, ENTRY_BYTES};
use crate::error::{Result, StoreError};
use crate::io::{FileKind, FileLayer, SegmentFile};

/// Entries checked on each side of the head and of the tail.
const WINDOW: u64 = 256;
/// Entries read per step while looking for the first written entry; grows 4× per step.
const FIRST_CHUNK: u64 = 256;
const MAX_CHUNK: u64 = 64 * 1024;

/// One queue being scanned: where it is and how to name it in errors.
pub(super) struct QueueDir<'a> {
    pub layer: &'a dyn FileLayer,
    pub dir: &'a Path,
    pub topic: &'a str,
    pub queue_id: u32,
    pub per_file: u64,
}

/// One open file of the queue.
struct File {
    start: u64,
    handle: Arc<dyn SegmentFile>,
}

impl QueueDir<'_> {
    /// Validates the queue's files and finds its bounds.
    pub fn scan(&self) -> Result<Bounds> {
        let files = self.file_starts()?;
        let (Some(&first_start), Some(&last_start)) = (files.first(), files.last()) else {
            return Ok(Bounds::default());
        };
        let mut first = None;
        let mut last = None;
        for &start in &files {
            let f = self.open(start)?;
            // Files are filled in order, so every file boundary inside the queue is written on both
            // sides.
            if start != first_start && self.entry(&f, start)?.is_none() {
                return Err(self.corrupt(&format!("file {} starts unwritten", Self::name(start))));
            }
            if start != last_start && self.entry(&f, start + self.per_file - 1)?.is_none() {
                return Err(self.corrupt(&format!(
                    "file {} is not full but later files exist",
                    Self::name(start)
                )));
            }
            if start == first_start {
                first = Some(File {
                    start,
                    handle: f.handle.clone(),
                });
            }
            if start == last_start {
                last = Some(f);
            }
        }
        let (Some(first), Some(last)) = (first, last) else {
            return Ok(Bounds::default());
        };
        let Some(min) = self.first_written(&first)? else {
            // Only possible with a single file (checked above): a queue with a position but no
            // entries.
            return Ok(Bounds {
                min: first_start,
                max: first_start,
                files,
                last: None,
            });
        };
        let (max, last_entry) = self.last_written(&last, min)?;
        let head_end = (min + WINDOW).min(max).min(first_start + self.per_file);
        self.check_run(&first, min, head_end, head_end)?;
        let tail_from = max.saturating_sub(WINDOW).max(min).max(last_start);
        let tail_to = (max + WINDOW).min(last_start + self.per_file);
        self.check_run(&last, tail_from, max, tail_to)?;
        Ok(Bounds {
            min,
            max,
            files,
            last: Some(last_entry),
        })
    }

    /// First queue offsets of the files, validated and ascending.
    fn file_starts(&self) -> Result<Vec<u64>> {
        let file_bytes = self.per_file * ENTRY_BYTES;
        let mut starts = Vec::new();
        for name in self
            .layer
            .list(self.dir)
            .map_err(|e| StoreError::io(self.dir, e))?
        {
            let path = self.dir.join(&name);
            let Some(offset) = parse_file_name(&name) else {
                return Err(StoreError::ForeignFile {
                    path,
                    detail: "not a consume-queue file (expected a 20-digit name)".into(),
                });
            };
            if offset % file_bytes != 0 {
                return Err(StoreError::ForeignFile {
                    path,
                    detail: format!(
                        "offset {offset} is not a multiple of the file size {file_bytes} \
                         (was consume_queue_entries_per_file changed?)"
                    ),
                });
            }
            starts.push(offset / ENTRY_BYTES);
        }
        starts.sort_unstable();
        for w in starts.windows(2) {
            if w[1] != w[0] + self.per_file {
                return Err(self.corrupt(&format!(
                    "no file for queue offsets {}..{} (next file is {})",
                    w[0] + self.per_file,
                    w[1],
                    Self::name(w[1])
                )));
            }
        }
        Ok(starts)
    }

    fn open(&self, start: u64) -> Result<File> {
        let path = self.dir.join(Self::name(start));
        let handle = self
            .layer
            .open(&path, FileKind::ConsumeQueue)
            .map_err(|e| StoreError::io(&path, e))?;
        let want = self.per_file * ENTRY_BYTES;
        if handle.len() != want {
            return Err(self.corrupt(&format!(
                "{} is {} bytes, expected {want} (was consume_queue_entries_per_file changed?)",
                path.display(),
                handle.len()
            )));
        }
        Ok(File { start, handle })
    }

    /// Queue offset of the first written entry of the first file.
    fn first_written(&self, f: &File) -> Result<Option<u64>> {
        let mut at = f.start;
        let mut chunk = FIRST_CHUNK;
        let end = f.start + self.per_file;
        while at < end {
            let n = chunk.min(end - at);
            let entries = self.entries(f, at, n)?;
            if let Some(i) = entries.iter().position(Option::is_some) {
                return Ok(Some(at + i as u64));
            }
            at += n;
            chunk = (chunk * 4).min(MAX_CHUNK);
        }
        Ok(None)
    }

    /// `max_offset` and the entry before it: binary search in the last file for the last written
    /// entry, knowing the entry at `min` (if in this file) or at the file start is written.
    fn last_written(&self, f: &File, min: u64) -> Result<(u64, CqEntry)> {
        let mut lo = min.max(f.start);
        let mut hi = f.start + self.per_file;
        while hi - lo > 1 {
            let mid = lo + (hi - lo) / 2;
            if self.entry(f, mid)?.is_some() {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let entry = self
            .entry(f, lo)?
            .ok_or_else(|| self.corrupt(&format!("entry {lo} vanished during the scan")))?;
        Ok((lo + 1, entry))
    }

    /// Entries `[from, written_end)` must be written, sane and in commit-log order; `[written_end,
    /// to)` must be unwritten.
    fn check_run(&self, f: &File, from: u64, written_end: u64, to: u64) -> Result<()> {
        if from >= to {
            return Ok(());
        }
        let entries = self.entries(f, from, to - from)?;
        let mut prev: Option<u64> = None;
        for (q, e) in (from..).zip(entries) {
            match (q < written_end, e) {
                (true, Some(e)) => {
                    if prev.is_some_and(|p| e.physical_offset <= p) {
                        return Err(self.corrupt(&format!(
                            "entry {q} points at commit-log offset {} after one at {}",
                            e.physical_offset,
                            prev.unwrap_or_default()
                        )));
                    }
                    prev = Some(e.physical_offset);
                }
                (true, None) => {
                    return Err(self.corrupt(&format!("entry {q} is unwritten inside the queue")))
                }
                (false, Some(_)) => {
                    return Err(
                        self.corrupt(&format!("entry {q} is written after the end of the queue"))
                    )
                }
                (false, None) => {}
            }
        }
        Ok(())
    }

    fn entry(&self, f: &File, q: u64) -> Result<Option<CqEntry>> {
        Ok(self.entries(f, q, 1)?.pop().flatten())
    }

    /// `n` entries from queue offset `q` (inside file `f`); `None` for unwritten ones.
    fn entries(&self, f: &File, q: u64, n: u64) -> Result<Vec<Option<CqEntry>>> {
        let len = usize::try_from(n * ENTRY_BYTES).map_err(|_| self.corrupt("read too large"))?;
        let mut buf = vec![0u8; len];
        f.handle
            .read_at((q - f.start) * ENTRY_BYTES, &mut buf)
            .map_err(|e| StoreError::io(self.dir.join(Self::name(f.start)), e))?;
        let mut out = Vec::with_capacity(buf.len() / 20);
        for (i, raw) in buf.chunks_exact(20).enumerate() {
            let e = CqEntry::decode(raw);
            if e.is_some_and(|e| e.size == 0) {
                return Err(self.corrupt(&format!(
                    "entry {} has size 0 but is not blank",
                    q + i as u64
                )));
            }
            out.push(e);
        }
        Ok(out)
    }

    fn name(start: u64) -> String {
        super::file_name(start * ENTRY_BYTES)
    }

    fn corrupt(&self, detail: &str) -> StoreError {
        StoreError::CorruptConsumeQueue {
            topic: self.topic.to_owned(),
            queue_id: self.queue_id,
            detail: format!("{}: {detail}", self.dir.display()),
        }
    }
}
