//! Getting commit-log segments ready before the writer needs them, on a thread owned by a
//! [`Preparer`] handle (the [`crate::flush::Flusher`] owns it).
//!
//! Two jobs:
//! - **Create ahead.** The next segment file is created and fully allocated before the active one
//!   fills, so a roll takes a ready file instead of allocating one under the writer lock.
//! - **Warm ahead** (with `StoreConfig::warm_segments`), in one of two ways ([`Warming`]):
//!   - *Synced* (SYNC_FLUSH). `fallocate` leaves *unwritten* extents on ext4 and XFS: the first
//!     write into a block must also convert its extent, and the fdatasync acknowledging that write
//!     then carries metadata as well. The preparer keeps the `SYNCED_AHEAD` bytes past the append
//!     position written with zeros and synced, so the syncs that acknowledge appends carry data only.
//!   - *Cached* (ASYNC_FLUSH). The first store into a page of an unwritten extent that is not in the
//!     page cache makes the kernel "read" it: ext4 builds the page through its read path and zeroes
//!     it there, which measured about 0.5 GB/s on the reference VM (most of a writer's CPU in
//!     profiles), while writing whole pages of zeros with `pwrite` needs no read and ran at 7 GB/s. So
//!     the preparer keeps the `CACHED_AHEAD` bytes past the append position written with zeros,
//!     without syncing them: appends then store into pages already in the cache. Those zeros reach
//!     the disk only when a periodic flush runs while they are still ahead of the log.
//!
//!   Either way it works in `WARM_CHUNK` steps that follow the writer, into the prepared next
//!   segment too, so warming loads the disk at the rate the log grows: warming a whole 1 GiB segment
//!   at once would starve the appends' own fdatasyncs for seconds (and a store opened for a short
//!   burst would pay for a gigabyte it never uses).
//!
//! The prepared segment carries its final name. Recovery needs nothing special for it: it is the last
//! file and all zeros, so the scan ends before it (or at its first byte, when the segment before it
//! is full), and an unused one is deleted like any segment past the end of the log
//! ([`CommitLog::recover`]). A crash while creating it leaves a short (or empty) last file of zeros,
//! which [`CommitLog::open`] removes.
//!
//! Zeros and records never meet. Before it writes, the writer claims the log up to the end of its
//! append (`claimed`); before it zeroes, the preparer announces where it starts (`zeroing_from`)
//! while holding `zero_lock`. Each side stores its own value, then loads the other's, both SeqCst
//! (Dekker): either the preparer sees the claim and skips the range, or the writer sees the
//! announcement and waits on `zero_lock` until the zeros are in place, before writing over them.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use super::{CommitLog, Segment};
use crate::error::{Result, StoreError};
use crate::io::ZEROS;

/// How far past the append position the log is kept zeroed and synced ([`Warming::Synced`]).
const SYNCED_AHEAD: u64 = 32 << 20;
/// How far past the append position the log is kept zeroed in the page cache ([`Warming::Cached`]):
/// a few milliseconds of appends at full speed, and little for a periodic flush to write twice.
const CACHED_AHEAD: u64 = 8 << 20;
/// Zeros are written and synced in steps of this size: small enough that an append's fdatasync,
/// which waits for every page of the file under writeback, never waits for long.
const WARM_CHUNK_LEN: usize = ZEROS.len();
const WARM_CHUNK: u64 = WARM_CHUNK_LEN as u64;
/// The next segment is created once the active one is half full (or within `SYNCED_AHEAD` of its end).
const CREATE_AT_FRACTION: u64 = 2;
/// The preparer looks around this often even when nobody wakes it (and after an error).
const IDLE_POLL: Duration = Duration::from_millis(100);

/// The part of the commit log shared between the writer and the preparer.
#[derive(Debug)]
pub(super) struct Prep {
    /// The next segment, created ahead of the roll. Every segment creation (roll or preparer) happens
    /// under this lock, and a roll lists its new segment before releasing it, so the two never create
    /// the same file.
    pub(super) next: Mutex<Option<Segment>>,
    /// End of the highest range a writer has claimed (the writer lock orders the claims).
    claimed: AtomicU64,
    /// Where the preparer is writing zeros from; `u64::MAX` when it is not.
    zeroing_from: AtomicU64,
    /// Held by the preparer while it writes zeros.
    zero_lock: Mutex<()>,
    /// An append ending at or past this offset wakes the preparer.
    kick_at: AtomicU64,
    kicked: Mutex<bool>,
    wake: Condvar,
}

impl Default for Prep {
    fn default() -> Self {
        Prep {
            next: Mutex::new(None),
            claimed: AtomicU64::new(0),
            zeroing_from: AtomicU64::new(u64::MAX),
            zero_lock: Mutex::new(()),
            kick_at: AtomicU64::new(u64::MAX),
            kicked: Mutex::new(false),
            wake: Condvar::new(),
        }
    }
}

impl Prep {
    /// The writer's side of the hand-shake: no zeros land below `end` once this returns.
    pub(super) fn claim(&self, end: u64) {
        self.claimed.store(end, Ordering::SeqCst);
        if self.zeroing_from.load(Ordering::SeqCst) < end {
            // The preparer is zeroing into our range: wait for it to finish, then write over it.
            drop(self.zero_lock.lock());
        }
    }

    /// Wakes the preparer when an append ending at `end` came close to the end of what is ready.
    pub(super) fn appended(&self, end: u64) {
        if end >= self.kick_at.load(Ordering::Relaxed) {
            self.kick();
        }
    }

    fn kick(&self) {
        let mut kicked = self.kicked.lock();
        if !*kicked {
            *kicked = true;
            self.wake.notify_one();
        }
    }
}

/// What the preparer writes past the append position (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Warming {
    /// Nothing: it only creates segments ahead.
    Off,
    /// Zeros, synced: the fdatasyncs that acknowledge appends carry no extent conversions.
    Synced,
    /// Zeros in the page cache, not synced: appends store into cached pages.
    Cached,
}

impl Warming {
    /// How far ahead of the append position it keeps the log warm.
    fn ahead(self) -> u64 {
        match self {
            Warming::Off => 0,
            Warming::Synced => SYNCED_AHEAD,
            Warming::Cached => CACHED_AHEAD,
        }
    }
}

/// Owns the preparation thread; stopping it (shutdown or drop) waits for the current step.
pub struct Preparer {
    log: Arc<CommitLog>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl fmt::Debug for Preparer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Preparer")
            .field("running", &self.thread.is_some())
            .finish_non_exhaustive()
    }
}

impl Preparer {
    /// Starts preparing segments of `log`, warming them as `warm` says (see the module docs).
    ///
    /// # Errors
    /// When the OS refuses to start a thread (the log then creates every segment at its roll).
    pub fn start(log: Arc<CommitLog>, warm: Warming) -> std::io::Result<Preparer> {
        let stop = Arc::new(AtomicBool::new(false));
        let (l, s) = (log.clone(), stop.clone());
        let thread = thread::Builder::new()
            .name("ferromq-prepare".into())
            .spawn(move || Worker::new(&l, warm).run(&s))?;
        Ok(Preparer {
            log,
            stop,
            thread: Some(thread),
        })
    }

    /// Stops the thread and waits for it. A prepared segment stays on disk for the next roll (or for
    /// recovery to delete, if the store closes first).
    pub fn shutdown(mut self) {
        self.stop_thread();
    }

    fn stop_thread(&mut self) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        self.stop.store(true, Ordering::Release);
        self.log.prep.kick();
        if thread.join().is_err() {
            tracing::error!("the segment preparation thread panicked");
        }
    }
}

impl Drop for Preparer {
    fn drop(&mut self) {
        self.stop_thread();
    }
}

/// What one step of the preparer did.
enum Step {
    /// Did some work; look again at once.
    Worked,
    /// Nothing to do until an append ends at or past this offset.
    Idle(u64),
    /// Something failed; retry after the idle poll.
    Failed,
}

/// The thread's state.
struct Worker<'a> {
    log: &'a CommitLog,
    warm: Warming,
    /// Everything from the append position up to here is zeroed (and synced, when `Synced`).
    warmed: u64,
}

impl<'a> Worker<'a> {
    fn new(log: &'a CommitLog, warm: Warming) -> Worker<'a> {
        Worker {
            log,
            warm,
            warmed: 0,
        }
    }

    fn run(&mut self, stop: &AtomicBool) {
        let prep = &self.log.prep;
        while !stop.load(Ordering::Acquire) {
            let wait_until_kicked = match self.step() {
                Step::Worked => continue,
                Step::Failed => false,
                Step::Idle(kick_at) => {
                    prep.kick_at.store(kick_at, Ordering::Relaxed);
                    // An append that ended past the new mark before it was published did not kick.
                    if self.front() >= kick_at {
                        continue;
                    }
                    true
                }
            };
            let mut kicked = prep.kicked.lock();
            if !*kicked && !stop.load(Ordering::Acquire) {
                prep.wake.wait_for(&mut kicked, IDLE_POLL);
            }
            *kicked = false;
            drop(kicked);
            if wait_until_kicked {
                prep.kick_at.store(u64::MAX, Ordering::Relaxed);
            }
        }
    }

    /// Where appends have reached: nothing below is ever zeroed.
    fn front(&self) -> u64 {
        let claimed = self.log.prep.claimed.load(Ordering::SeqCst);
        claimed.max(self.log.written_offset())
    }

    fn step(&mut self) -> Step {
        let log = self.log;
        if log.poisoned().is_some() {
            return Step::Idle(u64::MAX);
        }
        let seg = log.segment_bytes;
        let front = self.front();
        // Where the next segment starts: after the last listed one, or where an empty log starts.
        let next_base = log
            .segments
            .read()
            .back()
            .map_or_else(|| log.written_offset(), |s| s.base + seg);
        let prepared = log
            .prep
            .next
            .lock()
            .as_ref()
            .is_some_and(|s| s.base == next_base);
        let ahead = self.warm.ahead();
        let create_at = next_base.saturating_sub((seg / CREATE_AT_FRACTION).min(SYNCED_AHEAD));
        if !prepared {
            if front >= create_at {
                return match log.prepare_segment(next_base) {
                    Ok(()) => Step::Worked,
                    Err(e) => {
                        tracing::warn!(base = next_base, error = %e, "cannot prepare the next commit-log segment; the roll will create it");
                        Step::Failed
                    }
                };
            }
            if self.warm == Warming::Off {
                return Step::Idle(create_at);
            }
        } else if self.warm == Warming::Off {
            // Wake again when the log moved on to this segment: then the one after is due.
            return Step::Idle(next_base);
        }
        // Warm up to the end of the files that exist.
        let limit = if prepared { next_base + seg } else { next_base };
        let target = front.saturating_add(ahead).min(limit);
        let from = self.warmed.max(front).next_multiple_of(4096);
        if from >= target {
            let low_water = self.warmed.saturating_sub(ahead / 2).max(front + 1);
            let wake_at = if prepared {
                low_water
            } else {
                low_water.min(create_at)
            };
            return Step::Idle(wake_at);
        }
        match self.warm_chunk(from, target) {
            Ok(()) => Step::Worked,
            Err(e) => {
                tracing::warn!(offset = from, error = %e, "warming the commit log failed");
                Step::Failed
            }
        }
    }

    /// Zeroes (and syncs, when `Synced`) one chunk from `from` (below `target`, within one segment).
    fn warm_chunk(&mut self, from: u64, target: u64) -> Result<()> {
        let log = self.log;
        let Some((file, listed)) = log.file_at(from) else {
            // The segment went away (retention) or is not there yet: nothing to warm.
            self.warmed = target;
            return Ok(());
        };
        let to = target
            .min(from + WARM_CHUNK)
            .min(file.base + log.segment_bytes);
        let prep = &log.prep;
        let zeroed = {
            let _zeroing = prep.zero_lock.lock();
            prep.zeroing_from.store(from, Ordering::SeqCst);
            let result = if prep.claimed.load(Ordering::SeqCst) > from {
                // A writer got there first; start again past it.
                None
            } else {
                #[allow(clippy::cast_possible_truncation)] // At most WARM_CHUNK.
                let len = (to - from) as usize;
                Some(file.file.prefill(from - file.base, &ZEROS[..len]))
            };
            prep.zeroing_from.store(u64::MAX, Ordering::SeqCst);
            result
        };
        let path = || log.segment_path(file.base);
        match zeroed {
            None => return Ok(()),
            Some(Err(e)) => return Err(StoreError::io(path(), e)),
            Some(Ok(())) => {}
        }
        if self.warm == Warming::Synced {
            self.sync_chunk(&file, listed)?;
        }
        self.warmed = to;
        Ok(())
    }

    fn sync_chunk(&self, file: &Segment, listed: bool) -> Result<()> {
        let log = self.log;
        let path = || log.segment_path(file.base);
        if let Err(e) = file.file.sync() {
            if listed {
                // This fdatasync may have consumed the error for records a writer put in the same
                // file: a later sync would report success without them. Refuse everything from now.
                log.poison(&format!("syncing warmed commit-log blocks failed: {e}"));
            }
            return Err(StoreError::io(path(), e));
        }
        Ok(())
    }
}

impl CommitLog {
    /// Creates the segment at `base` into the preparation slot, unless a roll listed it meanwhile.
    fn prepare_segment(&self, base: u64) -> Result<()> {
        let mut slot = self.prep.next.lock();
        let next_base = self
            .segments
            .read()
            .back()
            .map_or_else(|| self.written_offset(), |s| s.base + self.segment_bytes);
        if next_base != base || slot.as_ref().is_some_and(|s| s.base == base) {
            return Ok(());
        }
        *slot = Some(self.new_segment(base)?);
        tracing::debug!(base, "prepared the next commit-log segment");
        Ok(())
    }

    /// The segment (listed, or the prepared next one) holding `offset`, and whether it is listed.
    fn file_at(&self, offset: u64) -> Option<(Segment, bool)> {
        if let Some(s) = self.segment_at(offset) {
            return Some((s, true));
        }
        let slot = self.prep.next.lock();
        slot.as_ref()
            .filter(|s| s.base <= offset && offset < s.base + self.segment_bytes)
            .map(|s| (s.clone(), false))
    }

    /// The segment at `base` for a roll: the prepared one when it is ready, else a new one. Returns
    /// the slot guard too: the caller lists the segment before releasing it.
    pub(super) fn take_or_create(
        &self,
        base: u64,
    ) -> Result<(Segment, parking_lot::MutexGuard<'_, Option<Segment>>)> {
        let mut slot = self.prep.next.lock();
        if let Some(s) = slot.take() {
            if s.base == base {
                return Ok((s, slot));
            }
        }
        let seg = self.new_segment(base)?;
        Ok((seg, slot))
    }
}
