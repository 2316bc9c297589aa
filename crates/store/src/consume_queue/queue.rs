//! One consume queue: the entries of one (topic, queue id).
//!
//! Memory per queue is a few hundred bytes: the bounds, the list of file starts and, once used, the
//! handle of the last ("active") file. Older files are opened per read; they are read only by
//! consumers catching up, and keeping them open would multiply file descriptors by the number of
//! files. Active handles too are bounded over the whole store (see `open_files`): a queue whose
//! handle was closed reopens its file on next use.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;

use super::open_files::{OpenFiles, Ticket};
use super::{file_name, CqEntry, ENTRY_BYTES};
use crate::error::{Result, StoreError};
use crate::io::{FileKind, FileLayer, SegmentFile};

mod search;

/// A queue's bounds and files as found on disk (see `scan`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Bounds {
    pub min: u64,
    pub max: u64,
    /// First queue offset of each file, ascending and contiguous
    /// (`files[i + 1] = files[i] + per_file`).
    pub files: Vec<u64>,
    /// The entry at `max - 1`, when there is one.
    pub last: Option<CqEntry>,
}

/// One queue of one topic. `Send + Sync`; shared as `Arc`.
pub struct ConsumeQueue {
    topic: String,
    queue_id: u32,
    dir: PathBuf,
    layer: Arc<dyn FileLayer>,
    per_file: u64,
    state: Mutex<State>,
    /// The store-wide cap on open active handles.
    files: Arc<OpenFiles>,
    /// This queue, for joining the cap's ring.
    me: Weak<ConsumeQueue>,
    /// The active handle was used since the cap's clock hand last passed (a second chance).
    referenced: AtomicBool,
    /// The queue is in the cap's ring; changed only with `state` locked.
    in_ring: AtomicBool,
}

/// The open handle of the last file.
#[derive(Debug)]
struct Active {
    /// First queue offset of the file.
    start: u64,
    file: Arc<dyn SegmentFile>,
    _ticket: Ticket,
}

#[derive(Debug)]
struct State {
    b: Bounds,
    /// Handle of the last file (`b.files.last()`), opened on first use and closed by the cap.
    active: Option<Active>,
    /// What the next flush must sync.
    pending: Pending,
    /// The queue's files were deleted (topic removed or queue rebuilt); puts are ignored.
    removed: bool,
}

/// Changes since the last flush.
#[derive(Debug, Default)]
pub(super) struct Pending {
    /// Files written that are no longer the active one.
    files: Vec<Arc<dyn SegmentFile>>,
    /// Files written, by first queue offset, to be synced through the active handle when it is
    /// theirs, else reopened (the cap closed their handle).
    starts: Vec<u64>,
    /// The active file was written.
    active: bool,
    /// Files were created or deleted.
    dir: bool,
    /// The queue's folder was created, so its parents changed too.
    parents: bool,
}

impl fmt::Debug for ConsumeQueue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.state.lock();
        f.debug_struct("ConsumeQueue")
            .field("topic", &self.topic)
            .field("queue_id", &self.queue_id)
            .field("min_offset", &s.b.min)
            .field("max_offset", &s.b.max)
            .finish_non_exhaustive()
    }
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.files.is_empty()
            && self.starts.is_empty()
            && !self.active
            && !self.dir
            && !self.parents
    }

    /// Puts back work a failed sync did not do, in front of what came since.
    fn merge(&mut self, mut older: Pending) {
        older.files.append(&mut self.files);
        self.files = older.files;
        older.starts.append(&mut self.starts);
        self.starts = older.starts;
        self.active |= older.active;
        self.dir |= older.dir;
        self.parents |= older.parents;
    }
}

/// What one flush of one queue must sync, taken from the queue so that writes go on meanwhile.
#[derive(Debug)]
pub(super) struct FlushWork {
    pending: Pending,
}

impl ConsumeQueue {
    pub(super) fn new(
        topic: &str,
        queue_id: u32,
        dir: PathBuf,
        layer: Arc<dyn FileLayer>,
        per_file: u64,
        bounds: Bounds,
        files: Arc<OpenFiles>,
    ) -> Arc<ConsumeQueue> {
        let state = State {
            b: bounds,
            active: None,
            pending: Pending::default(),
            removed: false,
        };
        Arc::new_cyclic(|me| ConsumeQueue {
            topic: topic.to_owned(),
            queue_id,
            dir,
            layer,
            per_file,
            state: Mutex::new(state),
            files,
            me: me.clone(),
            referenced: AtomicBool::new(false),
            in_ring: AtomicBool::new(false),
        })
    }

    #[must_use]
    pub fn topic(&self) -> &str {
        &self.topic
    }

    #[must_use]
    pub fn queue_id(&self) -> u32 {
        self.queue_id
    }

    /// First readable queue offset.
    #[must_use]
    pub fn min_offset(&self) -> u64 {
        self.state.lock().b.min
    }

    /// Next queue offset to write (= number of entries ever written; `RocketMQ`'s `maxOffset`).
    #[must_use]
    pub fn max_offset(&self) -> u64 {
        self.state.lock().b.max
    }

    /// Commit-log offset just past the last entry's record; 0 when the queue has no readable entry.
    ///
    /// # Errors
    /// None today (the last entry is cached); kept fallible for the API's sake.
    pub fn last_physical_end(&self) -> Result<u64> {
        let s = self.state.lock();
        Ok(if s.b.min < s.b.max {
            s.b.last.map_or(0, |e| e.physical_end())
        } else {
            0
        })
    }

    /// Writes the entry for `queue_offset`.
    ///
    /// * `queue_offset == max_offset()`: the normal, dense append.
    /// * `queue_offset < max_offset()` (re-dispatch after recovery): the same entry already there
    ///   is a no-op; a different one is overwritten and everything after it is dropped. Below
    ///   `min_offset()` the entry is written only into an unwritten slot of an existing file (a
    ///   torn head being re-filled), otherwise ignored: those offsets are gone by retention.
    /// * `queue_offset > max_offset()`: allowed only on an empty queue, which then starts there
    ///   (its old files are deleted); otherwise the gap is `CorruptConsumeQueue`.
    ///
    /// Puts on a queue whose topic was removed are ignored.
    ///
    /// # Errors
    /// `CorruptConsumeQueue` for a gap or an entry of size 0; I/O errors from the layer.
    pub fn put(&self, queue_offset: u64, entry: CqEntry) -> Result<()> {
        if entry.size == 0 {
            return Err(self.corrupt(format!(
                "refusing an entry of size 0 at queue offset {queue_offset}"
            )));
        }
        let mut s = self.state.lock();
        if s.removed {
            tracing::debug!(topic = %self.topic, queue = self.queue_id, "put on a removed queue ignored");
            return Ok(());
        }
        let (min, max) = (s.b.min, s.b.max);
        if queue_offset == max {
            return self.append(&mut s, queue_offset, entry);
        }
        if queue_offset > max {
            if min < max {
                return Err(self.corrupt(format!(
                    "put at queue offset {queue_offset} leaves a gap after max offset {max}"
                )));
            }
            self.restart_at(&mut s, queue_offset)?;
            return self.append(&mut s, queue_offset, entry);
        }
        let existing = self.entry_locked(&mut s, queue_offset)?;
        if existing == Some(entry) {
            return Ok(());
        }
        if queue_offset >= min {
            self.write_locked(&mut s, queue_offset, entry)?;
            return self.truncate_locked(&mut s, queue_offset + 1);
        }
        let in_files = s.b.files.first().is_some_and(|&f| queue_offset >= f);
        if existing.is_none() && in_files {
            self.write_locked(&mut s, queue_offset, entry)?;
            s.b.min = queue_offset;
        }
        Ok(())
    }

    /// Puts `entries` at the consecutive queue offsets from `first`, as [`ConsumeQueue::put`] does one
    /// by one. Appending at the end of the queue (the dispatcher's case) takes one write per file
    /// instead of one per entry: a 20-byte `pwrite` per message was the largest part of dispatch.
    ///
    /// # Errors
    /// As [`ConsumeQueue::put`]; entries before the failing one may be written.
    pub fn put_run(&self, first: u64, entries: &[CqEntry]) -> Result<()> {
        let mut s = self.state.lock();
        let appending = !s.removed && first == s.b.max && entries.iter().all(|e| e.size != 0);
        if !appending {
            drop(s);
            for (q, e) in (first..).zip(entries) {
                self.put(q, *e)?;
            }
            return Ok(());
        }
        let mut buf = Vec::with_capacity(entries.len() * 20);
        let (mut q, mut rest) = (first, entries);
        while !rest.is_empty() {
            let start = q - q % self.per_file;
            let room = usize::try_from(start + self.per_file - q).unwrap_or(usize::MAX);
            let (now, later) = rest.split_at(room.min(rest.len()));
            let Some(&last) = now.last() else { break };
            buf.clear();
            for e in now {
                buf.extend_from_slice(&e.encode());
            }
            self.write_appended(&mut s, q, &buf, now.len(), last)?;
            q += now.len() as u64;
            rest = later;
        }
        Ok(())
    }

    /// The entry at `queue_offset`; `None` outside `[min_offset, max_offset)` or when not written.
    ///
    /// # Errors
    /// I/O errors from the layer.
    pub fn get(&self, queue_offset: u64) -> Result<Option<CqEntry>> {
        Ok(self.read(queue_offset, 1)?.into_iter().next())
    }

    /// Up to `max` consecutive entries starting at `from`, one read per file touched. Fewer at the
    /// end of the queue or at an unwritten entry; none when `from` is outside
    /// `[min_offset, max_offset)` — compare with the bounds to tell "too small" from "caught up".
    ///
    /// # Errors
    /// I/O errors from the layer.
    pub fn read(&self, from: u64, max: usize) -> Result<Vec<CqEntry>> {
        // (file, its first queue offset, first entry to read in it, entries to read)
        let mut parts: Vec<(Arc<dyn SegmentFile>, u64, u64, usize)> = Vec::new();
        let count;
        {
            let mut s = self.state.lock();
            if from < s.b.min || from >= s.b.max || max == 0 {
                return Ok(Vec::new());
            }
            let end = s.b.max.min(from.saturating_add(max as u64));
            count = usize::try_from(end - from).unwrap_or(max);
            let mut q = from;
            while q < end {
                let start = q - q % self.per_file;
                let stop = end.min(start + self.per_file);
                let file = self.handle(&mut s, start)?;
                parts.push((
                    file,
                    start,
                    q - start,
                    usize::try_from(stop - q).unwrap_or(count),
                ));
                q = stop;
            }
        }
        // Read outside the lock: handles stay valid even if retention deletes the file meanwhile.
        let mut buf = vec![0u8; count * 20];
        let mut at = 0;
        for (file, start, first, n) in parts {
            file.read_at(first * ENTRY_BYTES, &mut buf[at..at + n * 20])
                .map_err(|e| StoreError::io(self.path_of(start), e))?;
            at += n * 20;
        }
        Ok(buf.chunks_exact(20).map_while(CqEntry::decode).collect())
    }

    /// Makes every entry put before this call durable.
    ///
    /// # Errors
    /// I/O errors from the layer; what was not synced is retried by the next flush.
    pub fn flush(&self) -> Result<()> {
        match self.take_flush_work() {
            Some(work) => self.sync_flush_work(work),
            None => Ok(()),
        }
    }

    /// Syncs what [`ConsumeQueue::take_flush_work`] took, outside the queue's lock so the
    /// dispatcher keeps appending meanwhile; on failure the work goes back for the next flush.
    pub(super) fn sync_flush_work(&self, work: FlushWork) -> Result<()> {
        let result = self.sync_all(&work.pending);
        if result.is_err() {
            self.return_flush_work(work);
        }
        result
    }

    /// Takes what the next flush must sync; `None` when nothing changed since the last one. The
    /// caller syncs it (per file with [`ConsumeQueue::flush`], or the whole file system at once) and
    /// gives it back with [`ConsumeQueue::return_flush_work`] if that failed.
    pub(super) fn take_flush_work(&self) -> Option<FlushWork> {
        let mut s = self.state.lock();
        if s.pending.is_empty() {
            return None;
        }
        let mut pending = std::mem::take(&mut s.pending);
        if std::mem::take(&mut pending.active) {
            // By position, not by handle: work held by a flush of thousands of queues must not
            // keep their files open past the cap. (With no active handle the cap has listed the
            // file in `starts` already.)
            if let Some(a) = &s.active {
                pending.starts.push(a.start);
            }
        }
        Some(FlushWork { pending })
    }

    /// Puts back flush work whose sync failed, for the next flush to retry.
    pub(super) fn return_flush_work(&self, work: FlushWork) {
        self.state.lock().pending.merge(work.pending);
    }

    fn sync_all(&self, work: &Pending) -> Result<()> {
        for f in &work.files {
            f.sync().map_err(|e| StoreError::io(&self.dir, e))?;
        }
        for &start in &work.starts {
            let path = self.path_of(start);
            let active = self
                .state
                .lock()
                .active
                .as_ref()
                .filter(|a| a.start == start)
                .map(|a| a.file.clone());
            match active.map_or_else(|| self.layer.open(&path, FileKind::ConsumeQueue), Ok) {
                Ok(f) => f.sync().map_err(|e| StoreError::io(&path, e))?,
                // Deleted since it was written (retention, topic removal): nothing left to sync.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(StoreError::io(&path, e)),
            }
        }
        let mut dirs: Vec<&Path> = Vec::new();
        if work.dir {
            dirs.push(&self.dir);
        }
        if work.parents {
            dirs.extend(self.dir.parent());
            dirs.extend(self.dir.parent().and_then(Path::parent));
        }
        for d in dirs {
            self.layer.sync_dir(d).map_err(|e| StoreError::io(d, e))?;
        }
        Ok(())
    }

    /// Deletes the queue's files and folder; later puts are ignored.
    pub(super) fn remove_files(&self) -> Result<()> {
        let mut s = self.state.lock();
        s.removed = true;
        s.active = None;
        s.pending = Pending::default();
        for start in std::mem::take(&mut s.b.files) {
            self.remove_file(start)?;
        }
        s.b = Bounds::default();
        // The folder may be absent (never written) or hold something unexpected; neither is fatal
        // here.
        if let Err(e) = self.layer.remove_dir(&self.dir) {
            tracing::debug!(dir = %self.dir.display(), error = %e, "consume-queue folder not removed");
        }
        Ok(())
    }

    fn append(&self, s: &mut State, q: u64, entry: CqEntry) -> Result<()> {
        self.write_appended(s, q, &entry.encode(), 1, entry)
    }

    /// Writes `count` encoded entries (`bytes`, all in one file, ending with `last`) at the end of the
    /// queue, from `q`.
    fn write_appended(
        &self,
        s: &mut State,
        q: u64,
        bytes: &[u8],
        count: usize,
        last: CqEntry,
    ) -> Result<()> {
        let start = q - q % self.per_file;
        let file = self.file_for_append(s, q)?;
        file.write_at((q - start) * ENTRY_BYTES, bytes)
            .map_err(|e| StoreError::io(self.path_of(start), e))?;
        s.b.max = q + count as u64;
        s.b.last = Some(last);
        s.pending.active = true;
        Ok(())
    }

    /// The file queue offset `q` (at the end of the queue) goes to, created when it is the next one.
    fn file_for_append(&self, s: &mut State, q: u64) -> Result<Arc<dyn SegmentFile>> {
        let start = q - q % self.per_file;
        match s.b.files.last() {
            Some(&last) if last == start => self.handle(s, start),
            Some(&last) if last + self.per_file == start => self.create_file(s, start),
            None => self.create_file(s, start),
            Some(&last) => Err(self.corrupt(format!(
                "append at {q} does not follow the last file at {last}"
            ))),
        }
    }

    /// Writes one entry in place (inside an existing file).
    fn write_locked(&self, s: &mut State, q: u64, entry: CqEntry) -> Result<()> {
        let start = q - q % self.per_file;
        let file = self.handle(s, start)?;
        file.write_at((q - start) * ENTRY_BYTES, &entry.encode())
            .map_err(|e| StoreError::io(self.path_of(start), e))?;
        if s.b.files.last() == Some(&start) {
            s.pending.active = true;
        } else {
            s.pending.files.push(file);
        }
        Ok(())
    }

    /// An empty queue starts over at `q`: its old files hold only dead entries.
    fn restart_at(&self, s: &mut State, q: u64) -> Result<()> {
        for start in std::mem::take(&mut s.b.files) {
            self.remove_file(start)?;
            s.pending.dir = true;
        }
        s.active = None;
        s.b = Bounds {
            min: q,
            max: q,
            files: Vec::new(),
            last: None,
        };
        Ok(())
    }

    /// Drops entries from `new_max` on (`min <= new_max <= max`): deletes the files starting at or
    /// after it and zeroes the rest of the file holding it. The first file is kept even when
    /// emptied, so a reload still finds the queue's position.
    fn truncate_locked(&self, s: &mut State, new_max: u64) -> Result<()> {
        while let Some(&start) = s.b.files.last() {
            if start < new_max || s.b.files.len() == 1 {
                break;
            }
            self.remove_file(start)?;
            s.b.files.pop();
            s.pending.dir = true;
        }
        if s.active
            .as_ref()
            .is_some_and(|a| Some(&a.start) != s.b.files.last())
        {
            s.active = None;
        }
        if let Some(&start) = s.b.files.last() {
            // Zero to the end of the file, not just to `max`: torn writes may have left stale
            // entries past it, which a later reload must not mistake for live ones.
            let from = new_max.max(start);
            let len = (start + self.per_file).saturating_sub(from);
            if len > 0 {
                let file = self.handle(s, start)?;
                file.zero_range((from - start) * ENTRY_BYTES, len * ENTRY_BYTES)
                    .map_err(|e| StoreError::io(self.path_of(start), e))?;
                s.pending.active = true;
            }
        }
        s.b.max = new_max;
        s.b.last = if new_max > s.b.min {
            self.entry_locked(s, new_max - 1)?
        } else {
            None
        };
        Ok(())
    }

    /// Reads one entry regardless of bounds; `None` when unwritten or its file does not exist.
    fn entry_locked(&self, s: &mut State, q: u64) -> Result<Option<CqEntry>> {
        let start = q - q % self.per_file;
        if !s.b.files.contains(&start) {
            return Ok(None);
        }
        let file = self.handle(s, start)?;
        let mut buf = [0u8; 20];
        file.read_at((q - start) * ENTRY_BYTES, &mut buf)
            .map_err(|e| StoreError::io(self.path_of(start), e))?;
        Ok(CqEntry::decode(&buf))
    }

    /// The handle of the file starting at queue offset `start`: cached for the last file, opened
    /// per call for older ones.
    fn handle(&self, s: &mut State, start: u64) -> Result<Arc<dyn SegmentFile>> {
        if let Some(a) = &s.active {
            if a.start == start {
                self.referenced.store(true, Ordering::Relaxed);
                return Ok(a.file.clone());
            }
        }
        let path = self.path_of(start);
        let file = self
            .layer
            .open(&path, FileKind::ConsumeQueue)
            .map_err(|e| StoreError::io(&path, e))?;
        if s.b.files.last() == Some(&start) {
            self.set_active(s, start, file.clone());
        }
        Ok(file)
    }

    /// Caches `file` as the active handle, counted against the store's cap (closing others past it).
    fn set_active(&self, s: &mut State, start: u64, file: Arc<dyn SegmentFile>) {
        let ticket = self.files.admit(self, &self.me);
        s.active = Some(Active {
            start,
            file,
            _ticket: ticket,
        });
        // Our own lock is held, so the cap cannot pick this queue; it never waits on another one.
        self.files.make_room();
    }

    /// Called by the cap with no lock held: joins the ring unless already in it. True when the
    /// caller must push the queue onto the ring.
    pub(super) fn join_ring(&self) -> bool {
        !self.in_ring.swap(true, Ordering::AcqRel)
    }

    /// For the cap's clock hand: closes the active handle unless the queue used it since the hand
    /// last passed or is busy right now. True when the queue has left the ring (its handle is
    /// closed, or it had none); false when it stays for a second chance.
    pub(super) fn try_close_active(&self) -> bool {
        if self.referenced.swap(false, Ordering::Relaxed) {
            return false;
        }
        let Some(mut s) = self.state.try_lock() else {
            return false;
        };
        if let Some(a) = s.active.take() {
            if s.pending.active {
                // Written since the last flush: that flush reopens the file to sync it.
                s.pending.active = false;
                s.pending.starts.push(a.start);
            }
        }
        // Under the queue's lock, so a concurrent `set_active` of this queue sees it and rejoins.
        self.in_ring.store(false, Ordering::Release);
        true
    }

    fn create_file(&self, s: &mut State, start: u64) -> Result<Arc<dyn SegmentFile>> {
        if s.b.files.is_empty() {
            self.layer
                .create_dir_all(&self.dir)
                .map_err(|e| StoreError::io(&self.dir, e))?;
            s.pending.parents = true;
        }
        let path = self.path_of(start);
        let file = self
            .layer
            .create(&path, self.per_file * ENTRY_BYTES, FileKind::ConsumeQueue)
            .map_err(|e| StoreError::io(&path, e))?;
        if let Some(old) = s.active.take() {
            if s.pending.active {
                s.pending.active = false;
                s.pending.starts.push(old.start);
            }
        }
        s.b.files.push(start);
        self.set_active(s, start, file.clone());
        s.pending.dir = true;
        Ok(file)
    }

    /// Deletes the file starting at `start`; one already gone is fine.
    fn remove_file(&self, start: u64) -> Result<()> {
        let path = self.path_of(start);
        match self.layer.remove(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(StoreError::io(&path, e)),
            _ => Ok(()),
        }
    }

    fn path_of(&self, start: u64) -> PathBuf {
        self.dir.join(file_name(start * ENTRY_BYTES))
    }

    fn corrupt(&self, detail: String) -> StoreError {
        StoreError::CorruptConsumeQueue {
            topic: self.topic.clone(),
            queue_id: self.queue_id,
            detail,
        }
    }
}
