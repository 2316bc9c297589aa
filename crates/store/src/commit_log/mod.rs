//! The commit log: every message of every topic, appended to a chain of fixed-size segment files.
//!
//! Layout: `<root>/commitlog/<20-digit base offset>`, each file exactly `commit_log_segment_bytes`
//! long, bases contiguous (`base[i + 1] = base[i] + segment size`). A record never spans two files:
//! when a batch does not fit the tail of the active segment, an 8-byte blank marker fills it and the
//! batch goes to a new segment (see [`ferromq_model::record`] for the record layout).
//!
//! Offsets, all physical byte positions in the log:
//! - `written`: end of the last complete append; readers may read anything below it.
//! - `flushed`: everything below is durable (`flushed <= written`).
//! - `min`: base of the oldest segment still on disk.
//!
//! Concurrency: one writer at a time (the writer lock covers offset assignment, the write and the
//! publication of `written`; under write-behind it covers staging, and the sync writes and publishes);
//! readers take no lock beyond a brief read lock on the segment list; syncs run beside appends. Module map: `append.rs` (the write path), `recover.rs` (the startup scan),
//! `prepare.rs` (creating and warming the next segments in the background), `replica.rs` (copying
//! another log's bytes at the same offsets, and reading whole entries for such a copy).

mod append;
mod prepare;
mod recover;
mod replica;

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use ferromq_model::record::{MAGIC_V1, MAGIC_V2, SYSFLAG_BORNHOST_V6};
use parking_lot::{Mutex, RwLock};
use rustc_hash::FxHashMap;

use crate::clock::Clock;
use crate::config::{FlushMode, StoreConfig};
use crate::error::{Result, StoreError};
use crate::io::{FileKind, FileLayer, SegmentFile};

pub use append::{AppendOutcome, Appended};
pub use prepare::{Preparer, Warming};
pub use recover::RecoveryReport;
pub use replica::ReplicaAppend;

/// The append-only message log. `Send + Sync`; share it as `Arc<CommitLog>`.
#[derive(Debug)]
pub struct CommitLog {
    dir: PathBuf,
    segment_bytes: u64,
    max_message_bytes: usize,
    layer: Arc<dyn FileLayer>,
    clock: Arc<dyn Clock>,
    /// Oldest first, contiguous. Appends push at the back (under the writer lock), retention pops the
    /// front; the active segment is the last one.
    segments: RwLock<VecDeque<Segment>>,
    writer: Mutex<Writer>,
    written: AtomicU64,
    flushed: AtomicU64,
    min: AtomicU64,
    /// A segment was created since the folder was last synced: the next `sync` must sync the folder
    /// too, or a power loss could drop the whole file with its synced content.
    dir_dirty: AtomicBool,
    /// Serialises `sync` calls so `flushed` only moves forward.
    sync_lock: Mutex<()>,
    /// Serialises segment removal.
    remove_lock: Mutex<()>,
    /// Set by the first failed sync; never cleared (a retried fsync may report success for pages the
    /// kernel already dropped).
    poison: OnceLock<String>,
    /// Shared with the [`Preparer`]: the next segment made ahead, and the writer/zeroing hand-shake.
    prep: prepare::Prep,
    /// Write-behind (`SYNC_FLUSH`): appends copy their records into `Writer::staged` and the sync
    /// that makes them durable writes them to the file first ([`CommitLog::commit`]), so a crowd of
    /// appenders costs one `pwrite` per sync instead of one each. An acknowledgement waits for that
    /// sync anyway, and `written` (what readers and replicas see) moves only when the bytes are in
    /// the file.
    write_behind: bool,
    /// Serialises [`CommitLog::commit`] calls, so staged bytes land and publish in log order.
    commit_lock: Mutex<()>,
    /// Called with the new written offset whenever it moves (replication wakes on it).
    on_written: OnceLock<WrittenHook>,
}

impl Drop for CommitLog {
    /// Staged appends reach the file (not the disk) as direct writes would have: a log dropped
    /// without a final sync loses to a crash what it would have lost anyway, and no more.
    fn drop(&mut self) {
        if let Err(e) = self.commit() {
            tracing::warn!(error = %e, "writing staged appends at close failed");
        }
    }
}

/// What the log calls with the new written offset (see [`CommitLog::on_written`]).
struct WrittenHook(Box<dyn Fn(u64) + Send + Sync>);

impl std::fmt::Debug for WrittenHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WrittenHook")
    }
}

#[derive(Debug, Clone)]
struct Segment {
    base: u64,
    file: Arc<dyn SegmentFile>,
}

/// State only the appending thread touches.
#[derive(Debug, Default)]
struct Writer {
    /// False until `recover` has found where the log ends; appends are refused before that.
    recovered: bool,
    /// The segment appends go to (the last one); `None` for an empty log.
    active: Option<Segment>,
    /// Next queue offset per topic and queue id.
    queue_offsets: FxHashMap<String, FxHashMap<u32, u64>>,
    /// End of the last append, staged or written (appends continue at `max(end, written)`).
    end: u64,
    /// Write-behind: appended bytes not in the file yet, in log order.
    staged: Vec<Staged>,
    /// Emptied staging buffers, kept for reuse.
    spare: Vec<Vec<u8>>,
}

/// Staged bytes for one segment, from log offset `pos`.
#[derive(Debug)]
struct Staged {
    seg: Segment,
    pos: u64,
    bytes: Vec<u8>,
}

/// Staging buffers kept for reuse, and the largest kept.
const SPARE_BUFFERS: usize = 4;
const SPARE_BUFFER_MAX: usize = 4 << 20;

impl Writer {
    /// Stages `bytes` at log offset `pos` of `seg`, after what is staged already.
    fn stage(&mut self, seg: &Segment, pos: u64, bytes: &[u8]) {
        match self.staged.last_mut() {
            Some(last)
                if last.seg.base == seg.base && last.pos + last.bytes.len() as u64 == pos =>
            {
                last.bytes.extend_from_slice(bytes);
            }
            _ => {
                let mut buf = self.spare.pop().unwrap_or_default();
                buf.extend_from_slice(bytes);
                self.staged.push(Staged {
                    seg: seg.clone(),
                    pos,
                    bytes: buf,
                });
            }
        }
    }
}

impl CommitLog {
    /// Opens the segments in `<root>/commitlog/` without scanning records (see [`CommitLog::recover`]).
    /// A missing or empty folder is an empty log starting at offset 0.
    ///
    /// # Errors
    /// `ForeignFile` for a name that is not 20 digits, a base that is not a multiple of the segment
    /// size, a gap between segments or a file whose size is not `commit_log_segment_bytes`; `Config`
    /// for a segment size the record format cannot express; `Io` when listing or opening fails.
    pub fn open(
        cfg: &StoreConfig,
        layer: Arc<dyn FileLayer>,
        clock: Arc<dyn Clock>,
    ) -> Result<CommitLog> {
        let seg = cfg.commit_log_segment_bytes;
        // The blank marker stores the bytes left in a segment as an i32.
        if seg < 4096 || seg > i32::MAX as u64 {
            return Err(StoreError::Config(format!(
                "commit_log_segment_bytes {seg} is outside 4 KiB..2 GiB"
            )));
        }
        let dir = cfg.root_dir.join("commitlog");
        let root = cfg.root_dir.as_path();
        let existed = layer
            .list(root)
            .map_err(|e| StoreError::io(root, e))?
            .iter()
            .any(|n| n == "commitlog");
        layer
            .create_dir_all(&dir)
            .map_err(|e| StoreError::io(&dir, e))?;
        if !existed {
            layer.sync_dir(root).map_err(|e| StoreError::io(root, e))?;
        }
        let mut segments = VecDeque::new();
        let names = layer.list(&dir).map_err(|e| StoreError::io(&dir, e))?;
        for (i, name) in names.iter().enumerate() {
            let path = dir.join(name);
            let foreign = |detail: String| StoreError::ForeignFile {
                path: path.clone(),
                detail,
            };
            let base = parse_segment_name(name).ok_or_else(|| {
                foreign("not a commit-log segment (name must be 20 digits)".into())
            })?;
            if base % seg != 0 {
                return Err(foreign(format!(
                    "segment base {base} is not a multiple of commit_log_segment_bytes {seg}"
                )));
            }
            if let Some(prev) = segments.back().map(|s: &Segment| s.base) {
                if base != prev + seg {
                    return Err(foreign(format!(
                        "segment does not follow {prev:020}: segments in between are missing"
                    )));
                }
            }
            let file = layer
                .open(&path, FileKind::CommitLog)
                .map_err(|e| StoreError::io(&path, e))?;
            if i + 1 == names.len()
                && file.len() < seg
                && all_zeros(file.as_ref()).map_err(|e| StoreError::io(&path, e))?
            {
                // A crash while creating the newest segment (at a roll or ahead of one, see
                // `prepare.rs`) leaves it empty or short, and full of zeros. Appends start only once
                // creation returned, so it holds no record: remove it.
                tracing::warn!(path = %path.display(), len = file.len(), "removing a segment whose creation was interrupted");
                drop(file);
                layer.remove(&path).map_err(|e| StoreError::io(&path, e))?;
                layer.sync_dir(&dir).map_err(|e| StoreError::io(&dir, e))?;
                continue;
            }
            if file.len() != seg {
                return Err(foreign(format!(
                    "segment is {} bytes but commit_log_segment_bytes is {seg}; \
                     was the store written with another segment size?",
                    file.len()
                )));
            }
            segments.push_back(Segment { base, file });
        }
        let min = segments.front().map_or(0, |s| s.base);
        Ok(CommitLog {
            dir,
            segment_bytes: seg,
            max_message_bytes: cfg.max_message_bytes,
            layer,
            clock,
            writer: Mutex::new(Writer {
                recovered: segments.is_empty(),
                ..Writer::default()
            }),
            segments: RwLock::new(segments),
            written: AtomicU64::new(min),
            flushed: AtomicU64::new(min),
            min: AtomicU64::new(min),
            dir_dirty: AtomicBool::new(false),
            sync_lock: Mutex::new(()),
            remove_lock: Mutex::new(()),
            poison: OnceLock::new(),
            prep: prepare::Prep::default(),
            write_behind: cfg.flush_mode == FlushMode::SyncFlush,
            commit_lock: Mutex::new(()),
            on_written: OnceLock::new(),
        })
    }

    /// Next queue offset per (topic, queue id), as found in the consume queues after recovery.
    pub fn set_next_queue_offsets(&self, table: HashMap<(String, u32), u64>) {
        let mut w = self.writer.lock();
        w.queue_offsets.clear();
        for ((topic, queue_id), next) in table {
            w.queue_offsets
                .entry(topic)
                .or_default()
                .insert(queue_id, next);
        }
    }

    /// Forgets a deleted topic's queue counters: a topic created again later starts at 0.
    pub fn forget_topic(&self, topic: &str) {
        self.writer.lock().queue_offsets.remove(topic);
    }

    /// End of the last complete append.
    #[must_use]
    pub fn written_offset(&self) -> u64 {
        self.written.load(Ordering::Acquire)
    }

    /// Everything below this offset is durable.
    #[must_use]
    pub fn flushed_offset(&self) -> u64 {
        self.flushed.load(Ordering::Acquire)
    }

    /// Base of the oldest segment (0 for an empty log).
    #[must_use]
    pub fn min_offset(&self) -> u64 {
        self.min.load(Ordering::Acquire)
    }

    /// Bytes per segment file.
    #[must_use]
    pub fn segment_bytes(&self) -> u64 {
        self.segment_bytes
    }

    /// Why the log refuses writes, once a sync has failed.
    #[must_use]
    pub fn poisoned(&self) -> Option<String> {
        self.poison.get().cloned()
    }

    /// Refuses every later append and sync (a sync failed, or the thread that syncs died).
    pub fn poison(&self, reason: &str) {
        if self.poison.set(reason.to_owned()).is_ok() {
            tracing::error!(
                reason,
                "commit log poisoned: appends and syncs are refused from now on"
            );
        }
    }

    /// Bytes `[offset, offset + len)`: they must lie in one segment, at or above the minimum offset
    /// and below the written offset.
    ///
    /// # Errors
    /// `OffsetOutOfRange` when they do not; `Io` when the read fails.
    pub fn read(&self, offset: u64, len: usize) -> Result<Bytes> {
        let written = self.written_offset();
        let out_of_range = || StoreError::OffsetOutOfRange {
            offset,
            min: self.min_offset(),
            max: written,
        };
        let end = offset.checked_add(len as u64).ok_or_else(out_of_range)?;
        if offset < self.min_offset() || end > written {
            return Err(out_of_range());
        }
        let seg = self.segment_at(offset).ok_or_else(out_of_range)?;
        if end > seg.base + self.segment_bytes {
            return Err(out_of_range());
        }
        self.read_in(&seg, offset, len)
    }

    /// Up to `max_len` bytes from `offset`, stopping at the end of its segment and at `limit` (clamped
    /// to the written offset); empty when `offset == limit`. For readers that parse many records out of
    /// one large read (dispatch).
    ///
    /// # Errors
    /// `OffsetOutOfRange` when `offset` is below the minimum offset or above `limit`; `Io`.
    pub fn read_chunk(&self, offset: u64, max_len: usize, limit: u64) -> Result<Bytes> {
        match self.chunk_at(offset, max_len, limit)? {
            None => Ok(Bytes::new()),
            Some((seg, len)) => self.read_in(&seg, offset, len),
        }
    }

    /// Calls `f` with up to `max_len` bytes from `offset`, bounded as [`CommitLog::read_chunk`]
    /// bounds them, without a copy when the segment is mapped (else copied into `scratch`, which the
    /// caller keeps from call to call so a large chunk is not allocated and zeroed every time). For the
    /// dispatcher, which parses every record once and keeps nothing.
    ///
    /// # Errors
    /// As [`CommitLog::read_chunk`].
    pub fn visit_chunk<R>(
        &self,
        offset: u64,
        max_len: usize,
        limit: u64,
        scratch: &mut Vec<u8>,
        f: impl FnOnce(&[u8]) -> R,
    ) -> Result<R> {
        let Some((seg, len)) = self.chunk_at(offset, max_len, limit)? else {
            return Ok(f(&[]));
        };
        // Below the written offset nothing is written any more, so the bytes may be borrowed.
        if let Some(bytes) = seg.file.view(offset - seg.base, len) {
            return Ok(f(bytes));
        }
        scratch.resize(len, 0);
        seg.file
            .read_at(offset - seg.base, scratch)
            .map_err(|e| StoreError::io(self.segment_path(seg.base), e))?;
        Ok(f(scratch))
    }

    /// The segment and length of the chunk [`CommitLog::read_chunk`] reads; `None` when empty.
    fn chunk_at(
        &self,
        offset: u64,
        max_len: usize,
        limit: u64,
    ) -> Result<Option<(Segment, usize)>> {
        let limit = limit.min(self.written_offset());
        if offset == limit {
            return Ok(None);
        }
        let out_of_range = || StoreError::OffsetOutOfRange {
            offset,
            min: self.min_offset(),
            max: limit,
        };
        if offset < self.min_offset() || offset > limit {
            return Err(out_of_range());
        }
        let seg = self.segment_at(offset).ok_or_else(out_of_range)?;
        let end = (seg.base + self.segment_bytes)
            .min(limit)
            .min(offset.saturating_add(max_len as u64));
        #[allow(clippy::cast_possible_truncation)] // At most `max_len`.
        Ok(Some((seg, (end - offset) as usize)))
    }

    fn read_in(&self, seg: &Segment, offset: u64, len: usize) -> Result<Bytes> {
        let mut buf = vec![0u8; len];
        seg.file
            .read_at(offset - seg.base, &mut buf)
            .map_err(|e| StoreError::io(self.segment_path(seg.base), e))?;
        Ok(Bytes::from(buf))
    }

    /// Makes every appended byte durable: syncs the segments holding `[flushed, written)` (the written
    /// offset read at the start; appends may continue meanwhile) and returns the new flushed offset.
    ///
    /// # Errors
    /// `Poisoned` after any earlier failure; otherwise the sync error (`Io`, `DiskFull`), which poisons
    /// the log.
    pub fn sync(&self) -> Result<u64> {
        let _one_at_a_time = self.sync_lock.lock();
        if let Some(reason) = self.poisoned() {
            return Err(StoreError::Poisoned(reason));
        }
        self.commit()?;
        // Read `written` before collecting segments: a segment is listed before `written` passes its
        // base, so every byte below `target` is in a segment collected below.
        let target = self.written_offset();
        let flushed = self.flushed_offset();
        if target <= flushed {
            return Ok(flushed);
        }
        if let Err(e) = self.sync_range(flushed, target) {
            self.poison(&format!("commit-log sync failed: {e}"));
            return Err(e);
        }
        self.flushed.store(target, Ordering::Release);
        Ok(target)
    }

    /// Registers what to call with the new written offset each time it moves: after a direct
    /// append (from the appending thread), a replica append, or a commit of staged bytes (from the
    /// syncing thread). It must be quick. Once; later calls are ignored.
    pub fn on_written(&self, hook: Box<dyn Fn(u64) + Send + Sync>) {
        let _ = self.on_written.set(WrittenHook(hook));
    }

    /// Calls the [`CommitLog::on_written`] hook.
    fn published(&self, end: u64) {
        if let Some(hook) = self.on_written.get() {
            (hook.0)(end);
        }
    }

    /// Write-behind: writes the staged appends to their segments, in order, and publishes them as
    /// written. A failed write poisons the log: those appends were promised a sync that cannot come.
    ///
    /// # Errors
    /// `Io` (and the log is poisoned).
    pub(crate) fn commit(&self) -> Result<()> {
        let _in_order = self.commit_lock.lock();
        let staged = std::mem::take(&mut self.writer.lock().staged);
        let Some(end) = staged.last().map(|c| c.pos + c.bytes.len() as u64) else {
            return Ok(());
        };
        for c in &staged {
            if let Err(e) = c.seg.file.write_at(c.pos - c.seg.base, &c.bytes) {
                let e = StoreError::io(self.segment_path(c.seg.base), e);
                self.poison(&format!("writing staged appends failed: {e}"));
                return Err(e);
            }
        }
        self.written.store(end, Ordering::Release);
        self.published(end);
        let mut w = self.writer.lock();
        for c in staged {
            if w.spare.len() < SPARE_BUFFERS && c.bytes.capacity() <= SPARE_BUFFER_MAX {
                let mut b = c.bytes;
                b.clear();
                w.spare.push(b);
            }
        }
        Ok(())
    }

    fn sync_range(&self, from: u64, to: u64) -> Result<()> {
        if self.dir_dirty.swap(false, Ordering::AcqRel) {
            self.layer
                .sync_dir(&self.dir)
                .map_err(|e| StoreError::io(&self.dir, e))?;
        }
        let segments: Vec<Segment> = self
            .segments
            .read()
            .iter()
            .filter(|s| s.base < to && s.base + self.segment_bytes > from)
            .cloned()
            .collect();
        for s in segments {
            // Below `to` nobody writes any more: unmapping it first spares writeback a TLB shootdown
            // per page (see `SegmentFile::unmap_written`). Only a saving, so a failure is no error.
            let start = from.max(s.base) - s.base;
            let end = to.min(s.base + self.segment_bytes) - s.base;
            if let Err(e) = s.file.unmap_written(start, end - start) {
                tracing::debug!(base = s.base, error = %e, "unmapping written commit-log pages failed");
            }
            s.file
                .sync_range(start, end - start)
                .map_err(|e| StoreError::io(self.segment_path(s.base), e))?;
        }
        Ok(())
    }

    /// Segment base offsets, oldest first.
    #[must_use]
    pub fn segment_bases(&self) -> Vec<u64> {
        self.segments.read().iter().map(|s| s.base).collect()
    }

    /// Deletes the oldest segment unless it is the active (last) one and returns its base. Readers that
    /// already hold it keep reading; new reads below the new minimum offset are refused.
    ///
    /// # Errors
    /// `Io` when the file cannot be removed (the log is then unchanged).
    pub fn remove_oldest_segment(&self) -> Result<Option<u64>> {
        let _one_at_a_time = self.remove_lock.lock();
        let (base, next) = {
            let segs = self.segments.read();
            match (segs.front(), segs.get(1)) {
                (Some(first), Some(second)) => (first.base, second.base),
                _ => return Ok(None),
            }
        };
        let path = self.segment_path(base);
        self.layer
            .remove(&path)
            .map_err(|e| StoreError::io(&path, e))?;
        self.min.store(next, Ordering::Release);
        self.segments.write().pop_front();
        // Not critical: a removal lost to a crash brings back an old, intact, contiguous segment.
        if let Err(e) = self.layer.sync_dir(&self.dir) {
            tracing::warn!(dir = %self.dir.display(), error = %e, "syncing the commit-log folder failed");
        }
        tracing::info!(base, "removed commit-log segment");
        Ok(Some(base))
    }

    /// Store timestamp of the first record of the segment at `base`; `None` when the segment is gone,
    /// holds no complete record yet, or its first entry is not a message.
    #[must_use]
    pub fn first_store_timestamp(&self, base: u64) -> Option<i64> {
        // Header through the store timestamp, with an IPv6 born host (the longer case).
        const HEADER: usize = 48 + 20 + 8;
        let seg = self.segment_at(base).filter(|s| s.base == base)?;
        if base + HEADER as u64 > self.written_offset() {
            return None;
        }
        let mut h = [0u8; HEADER];
        seg.file.read_at(0, &mut h).ok()?;
        let magic = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
        if magic != MAGIC_V1 && magic != MAGIC_V2 {
            return None;
        }
        let sys_flag = i32::from_be_bytes([h[36], h[37], h[38], h[39]]);
        let at = if sys_flag & SYSFLAG_BORNHOST_V6 == 0 {
            56
        } else {
            68
        };
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&h[at..at + 8]);
        Some(i64::from_be_bytes(ts))
    }

    /// The segment holding `offset`, if any.
    fn segment_at(&self, offset: u64) -> Option<Segment> {
        let segs = self.segments.read();
        let first = segs.front()?.base;
        let idx = usize::try_from(offset.checked_sub(first)? / self.segment_bytes).ok()?;
        segs.get(idx).cloned()
    }

    fn segment_path(&self, base: u64) -> PathBuf {
        self.dir.join(segment_name(base))
    }
}

/// The file name of the segment starting at `base`.
#[must_use]
pub fn segment_name(base: u64) -> String {
    format!("{base:020}")
}

/// True when every byte of `file` is zero.
fn all_zeros(file: &dyn SegmentFile) -> std::io::Result<bool> {
    const CHUNK: u64 = 1 << 20;
    let mut buf = Vec::new();
    let mut at = 0;
    while at < file.len() {
        let n = CHUNK.min(file.len() - at);
        #[allow(clippy::cast_possible_truncation)] // At most CHUNK.
        buf.resize(n as usize, 0);
        file.read_at(at, &mut buf)?;
        if buf.iter().any(|&b| b != 0) {
            return Ok(false);
        }
        at += n;
    }
    Ok(true)
}

fn parse_segment_name(name: &str) -> Option<u64> {
    if name.len() == 20 && name.bytes().all(|b| b.is_ascii_digit()) {
        name.parse().ok()
    } else {
        None
    }
}
