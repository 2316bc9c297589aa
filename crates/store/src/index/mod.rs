//! The message-key index: find records by `<topic>#<key>` (`UNIQ_KEY` and each `KEYS` word).
//!
//! Files are `<root>/index/<20-digit sequence number>`, oldest first, each a hash table with
//! chained entries (layout in [`file`]). Puts arrive from the dispatcher in commit-log order and go
//! to the newest file; a full file is followed by a new one. Queries walk files newest first.
//!
//! Durability: a flush syncs each changed file and then records in it how many entries the sync
//! covered. Recovery keeps only such entries that point below the trusted offset it is given and
//! re-feeds from there, so a torn tail after a power cut is cut, never served.
#![forbid(unsafe_code)]

mod file;
#[cfg(test)]
mod tests;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::RwLock;

use self::file::{mark_bytes, IndexFile};
use crate::consume_queue::{file_name, parse_file_name};
use crate::error::{Result, StoreError};
use crate::io::{FileLayer, SegmentFile};

/// Folder under the store root holding the index files.
const DIR: &str = "index";

/// The key index. Puts take a write lock, queries a read lock (both short: a few memory copies per
/// entry on the memory-mapped files).
pub struct Index {
    dir: PathBuf,
    layer: Arc<dyn FileLayer>,
    hash_slots: u32,
    max_entries: u32,
    state: RwLock<State>,
}

#[derive(Debug)]
struct State {
    /// Oldest first; none of them empty except, briefly, a file just created.
    files: Vec<IndexFile>,
    next_seq: u64,
    /// Damaged files were dropped at open: the index is complete only below this offset.
    complete_below: Option<u64>,
    /// Files were created or deleted since the last flush.
    dir_changed: bool,
}

impl fmt::Debug for Index {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.state.read();
        f.debug_struct("Index")
            .field("dir", &self.dir)
            .field("files", &s.files.len())
            .field("end_offset", &end_of(&s.files))
            .finish_non_exhaustive()
    }
}

/// `|java_string_hash("<topic>#<key>")|`, 0 when the absolute value overflows (as Java's `Math.abs`
/// leaves `Integer.MIN_VALUE` negative and `RocketMQ` then uses 0). No allocation.
#[must_use]
pub(crate) fn key_hash(topic: &str, key: &str) -> i32 {
    let step = |h: i32, u: u16| h.wrapping_mul(31).wrapping_add(i32::from(u));
    if topic.is_ascii() && key.is_ascii() {
        // Every UTF-16 unit of ASCII text is its byte: skip the decoding (most keys are ASCII).
        let bytes = topic
            .bytes()
            .chain(std::iter::once(b'#'))
            .chain(key.bytes());
        let h = bytes.fold(0i32, |h, b| step(h, u16::from(b)));
        return h.checked_abs().unwrap_or(0);
    }
    let units = topic
        .encode_utf16()
        .chain(std::iter::once(u16::from(b'#')))
        .chain(key.encode_utf16());
    let h = units.fold(0i32, step);
    h.checked_abs().unwrap_or(0)
}

fn end_of(files: &[IndexFile]) -> u64 {
    files
        .iter()
        .rev()
        .find(|f| !f.is_empty())
        .map_or(0, |f| f.h.end_phy + 1)
}

/// Offset of the last record indexed (a record boundary), 0 when none.
fn last_kept_record(files: &[IndexFile]) -> u64 {
    files
        .iter()
        .rev()
        .find(|f| !f.is_empty())
        .map_or(0, |f| f.h.end_phy)
}

impl Index {
    /// Opens the index under `<root>/index`. A damaged file is deleted with everything newer
    /// (logged); [`truncate_to_log_end`](Self::truncate_to_log_end) then asks for the lost part to
    /// be re-fed.
    ///
    /// # Errors
    /// `ForeignFile` for a file not named by a 20-digit number, `Config` for zero slots or fewer
    /// than two entries per file, I/O errors.
    pub fn open(
        root: &Path,
        layer: Arc<dyn FileLayer>,
        hash_slots: u32,
        max_entries: u32,
    ) -> Result<Index> {
        if hash_slots == 0 || max_entries < 2 || hash_slots >= 1 << 31 || max_entries >= 1 << 31 {
            return Err(StoreError::Config(format!(
                "index needs 1..2^31 hash slots and 2..2^31 entries per file, got {hash_slots} and {max_entries}"
            )));
        }
        let dir = root.join(DIR);
        let mut seqs = Vec::new();
        for name in layer.list(&dir).map_err(|e| StoreError::io(&dir, e))? {
            let Some(seq) = parse_file_name(&name) else {
                let detail = "not an index file (expected a 20-digit name)".to_owned();
                return Err(StoreError::ForeignFile {
                    path: dir.join(name),
                    detail,
                });
            };
            seqs.push(seq);
        }
        seqs.sort_unstable();
        let mut state = State {
            files: Vec::new(),
            next_seq: 0,
            complete_below: None,
            dir_changed: false,
        };
        for (i, &seq) in seqs.iter().enumerate() {
            let path = dir.join(file_name(seq));
            state.next_seq = seq + 1;
            match IndexFile::open(layer.as_ref(), path.clone(), seq)? {
                Ok(f) if f.is_empty() => remove(layer.as_ref(), &path)?,
                Ok(f) => state.files.push(f),
                Err(detail) => {
                    tracing::warn!(path = %path.display(), detail, "damaged index file dropped with newer ones");
                    for &later in &seqs[i..] {
                        remove(layer.as_ref(), &dir.join(file_name(later)))?;
                    }
                    state.complete_below = Some(last_kept_record(&state.files));
                    break;
                }
            }
        }
        state.dir_changed = seqs.len() != state.files.len();
        Ok(Index {
            dir,
            layer,
            hash_slots,
            max_entries,
            state: RwLock::new(state),
        })
    }

    /// Indexes one key of the record at `physical_offset` (call once per key; a record usually has
    /// its `UNIQ_KEY` and each `KEYS` word). Calls must come in commit-log order. A put below the
    /// last indexed offset, or repeating a key already indexed at it, is a replay after recovery
    /// and is skipped.
    ///
    /// # Errors
    /// I/O errors from the layer (e.g. `DiskFull` creating a new file).
    pub fn put(
        &self,
        topic: &str,
        key: &str,
        physical_offset: u64,
        store_timestamp: i64,
    ) -> Result<()> {
        let hash = key_hash(topic, key);
        let mut s = self.state.write();
        if let Some(last) = s.files.iter().rev().find(|f| !f.is_empty()) {
            let end = last.h.end_phy;
            if physical_offset < end
                || (physical_offset == end && last.holds(hash, physical_offset)?)
            {
                return Ok(());
            }
        }
        if s.files.last().is_none_or(IndexFile::is_full) {
            self.roll(&mut s)?;
        }
        match s.files.last_mut() {
            Some(f) => f.append(hash, physical_offset, store_timestamp),
            None => Err(StoreError::Config("index has no file to write to".into())),
        }
    }

    /// Physical offsets of records indexed under `topic#key` and stored within `[begin, end]` (ms,
    /// inclusive), newest first, at most `max` — exactly the caller's `max`, no hidden cap (the
    /// broker applies its own limits). Index times have second precision, so a record stored up to
    /// 999 ms before `begin` may be included.
    ///
    /// Keys are matched by hash: colliding keys return other records too, so the caller must
    /// re-check the key on each record it reads.
    ///
    /// # Errors
    /// I/O errors from the layer.
    pub fn query(
        &self,
        topic: &str,
        key: &str,
        max: usize,
        begin: i64,
        end: i64,
    ) -> Result<Vec<u64>> {
        let mut out = Vec::new();
        if max == 0 || begin > end {
            return Ok(out);
        }
        let hash = key_hash(topic, key);
        let s = self.state.read();
        for f in s.files.iter().rev() {
            if out.len() >= max {
                break;
            }
            if f.is_empty() || f.h.end_ts.saturating_add(999) < begin || f.h.begin_ts > end {
                continue;
            }
            f.lookup(hash, begin, end, max, &mut out)?;
        }
        Ok(out)
    }

    /// Highest physical offset indexed + 1 (0 when empty).
    #[must_use]
    pub fn end_offset(&self) -> u64 {
        end_of(&self.state.read().files)
    }

    /// Recovery: drops entries pointing at or past `log_end` and entries no flush made durable
    /// (they may be torn after a power cut). Pass the offset below which the index was flushed
    /// complete — the checkpoint's `dispatched`, clamped to the log's end — to cut only what is
    /// suspect. Returns the offset from which the dispatcher must re-feed the index, always a
    /// record boundary: `log_end`, or the last record still indexed when unflushed entries were
    /// dropped (their offsets cannot be trusted) or damaged files were dropped at open.
    ///
    /// # Errors
    /// I/O errors from the layer.
    pub fn truncate_to_log_end(&self, log_end: u64) -> Result<u64> {
        let mut s = self.state.write();
        let mut unflushed_lost = false;
        while let Some(f) = s.files.last_mut() {
            if f.flushed >= f.h.count && f.h.end_phy < log_end {
                // Nothing to cut, but slot pages may have reached the disk without the header.
                f.repair_slots()?;
                break;
            }
            let (left, lost) = f.cut(log_end)?;
            unflushed_lost |= lost;
            if left {
                break;
            }
            let path = f.path.clone();
            remove(self.layer.as_ref(), &path)?;
            tracing::debug!(path = %path.display(), "index file past the recovery point dropped");
            s.files.pop();
            s.dir_changed = true;
        }
        // Re-feeding must start at a record boundary: `log_end`, or the last kept record (its keys
        // are skipped as replays) when entries of unknown offset were dropped.
        let last_kept = last_kept_record(&s.files);
        let mut refeed = if unflushed_lost {
            log_end.min(last_kept)
        } else {
            log_end
        };
        if let Some(c) = s.complete_below.take() {
            refeed = refeed.min(c);
        }
        Ok(refeed)
    }

    /// Retention: deletes files whose entries all point below `min_physical`, never the newest one.
    ///
    /// # Errors
    /// I/O errors from the layer.
    pub fn delete_before_physical(&self, min_physical: u64) -> Result<()> {
        let mut s = self.state.write();
        while s.files.len() > 1 && s.files[0].h.end_phy < min_physical {
            let f = s.files.remove(0);
            remove(self.layer.as_ref(), &f.path)?;
            tracing::debug!(path = %f.path.display(), "expired index file deleted");
            s.dir_changed = true;
        }
        Ok(())
    }

    /// Makes every put before this call durable: syncs each changed file, then records in it how
    /// many entries that sync covered (and syncs again).
    ///
    /// # Errors
    /// I/O errors from the layer; the next flush retries.
    pub fn flush(&self) -> Result<()> {
        let (work, dir_changed) = {
            let mut s = self.state.write();
            let work: Vec<FlushJob> = s
                .files
                .iter()
                .filter(|f| f.flushed < f.h.count)
                .map(|f| FlushJob {
                    seq: f.seq,
                    file: f.file.clone(),
                    mark_pos: f.mark_pos(),
                    count: f.h.count,
                    path: f.path.clone(),
                })
                .collect();
            (work, std::mem::take(&mut s.dir_changed))
        };
        let result = self.sync(&work, dir_changed);
        let mut s = self.state.write();
        match &result {
            Ok(()) => {
                for job in &work {
                    if let Some(f) = s.files.iter_mut().find(|f| f.seq == job.seq) {
                        f.flushed = f.flushed.max(job.count);
                    }
                }
            }
            Err(_) => s.dir_changed |= dir_changed,
        }
        result
    }

    fn sync(&self, work: &[FlushJob], dir_changed: bool) -> Result<()> {
        if dir_changed {
            match self.layer.sync_dir(&self.dir) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(StoreError::io(&self.dir, e))
                }
                _ => {}
            }
        }
        for job in work {
            let io = |e| StoreError::io(&job.path, e);
            job.file.sync().map_err(io)?;
            job.file
                .write_at(job.mark_pos, &mark_bytes(job.count))
                .map_err(io)?;
            job.file.sync().map_err(io)?;
        }
        Ok(())
    }

    /// Starts a new file after the newest one.
    fn roll(&self, s: &mut State) -> Result<()> {
        if s.files.is_empty() {
            self.layer
                .create_dir_all(&self.dir)
                .map_err(|e| StoreError::io(&self.dir, e))?;
        }
        let path = self.dir.join(file_name(s.next_seq));
        let f = IndexFile::create(
            self.layer.as_ref(),
            path,
            s.next_seq,
            self.hash_slots,
            self.max_entries,
        )?;
        tracing::debug!(path = %f.path.display(), "new index file");
        s.next_seq += 1;
        s.files.push(f);
        s.dir_changed = true;
        Ok(())
    }
}

/// One file to make durable: sync it, then mark `count` entries durable in it, then sync again.
struct FlushJob {
    seq: u64,
    file: Arc<dyn SegmentFile>,
    mark_pos: u64,
    count: u32,
    path: PathBuf,
}

fn remove(layer: &dyn FileLayer, path: &Path) -> Result<()> {
    match layer.remove(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(StoreError::io(path, e)),
        _ => Ok(()),
    }
}
