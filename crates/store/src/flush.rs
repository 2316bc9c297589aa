//! Making the commit log durable: group commit (`SYNC_FLUSH`) or periodic syncs (`ASYNC_FLUSH`), on one
//! thread owned by a [`Flusher`].
//!
//! `SYNC_FLUSH`: an appender asks [`Flusher::durable`] for its end offset; the flusher thread syncs
//! everything written so far with one fdatasync, completes every waiter that sync covered, and goes
//! again while waiters remain — so under load one sync serves every append that arrived during the
//! previous one. Hand-off latency matters as much as the sync (one fdatasync is ~150 µs), so both sides
//! spin briefly before parking, and after a sync that completed a crowd the flusher waits (at most
//! one sync's duration) for that crowd's next appends before syncing again (`Shared::gather`).
//!
//! A failed sync poisons the log ([`CommitLog::poison`]): every pending and later waiter fails, and no
//! sync is ever retried (after an fsync error Linux may have dropped the dirty pages and a retry would
//! report success for data that is gone).

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::commit_log::{CommitLog, Preparer, Warming};
use crate::completion::{Completion, Durable, InFlight, Outcome, WakeQueue, FAN_OUT};
use crate::config::{FlushMode, StoreConfig};
use crate::error::{Result, StoreError};
use crate::flush_stats::FlushStats;

/// `ASYNC_FLUSH` counts dirty data in pages of this size.
const PAGE: u64 = 4096;
/// How long the idle flusher polls for the next waiter before sleeping. Under load the next append
/// arrives within microseconds; a sleeping flusher costs a futex wake-up (tens of µs) per sync.
const SPIN: Duration = Duration::from_micros(50);
/// How long a waiter (a blocked thread, or an awaited future's first poll) polls before it sleeps when
/// it is (nearly) alone in flight: about one fdatasync on an SSD. A lone writer's throughput is one
/// sync plus the hand-off, and a park/unpark round trip (futex + waking an idle CPU, 20-60 µs in a
/// VM) would add a third to a 150 µs sync. With a crowd nobody spins: the CPUs (and, for tasks, the
/// executor threads) are better spent appending the next batch.
const SOLO_SPIN: Duration = Duration::from_micros(250);
/// Waiters spin only while at most this many appends are in flight, this one included (see
/// `completion::InFlight`).
pub(crate) const SOLO_WAITERS: usize = 2;

/// A sync that completed at least this many waiters makes the next one gather ([`Shared::gather`]).
const GATHER_CROWD: usize = 4;

/// What the last group-commit sync did, for the next one's gathering.
#[derive(Debug, Default)]
struct LastSync {
    /// Waiters it completed.
    completed: usize,
    /// Waiters queued right after it (appends that arrived while it ran).
    queued_after: usize,
    took: Duration,
}

/// Called with the new flushed offset after every successful sync.
pub type OnFlushed = Arc<dyn Fn(u64) + Send + Sync>;

/// Owns the flush thread and the segment [`Preparer`]; stopping them (shutdown or drop) syncs
/// everything written first.
pub struct Flusher {
    shared: Arc<Shared>,
    /// Taken by the first stop; the store's shared state owns the flusher, so stopping takes `&self`.
    thread: parking_lot::Mutex<Option<JoinHandle<Result<()>>>>,
    /// `None` when the OS refused its thread (rolls then create segments themselves) or once stopped.
    preparer: parking_lot::Mutex<Option<Preparer>>,
}

struct Shared {
    log: Arc<CommitLog>,
    mode: FlushMode,
    queue: Mutex<Queue>,
    wake: Condvar,
    /// Completed waiters' threads still to wake (see `completion`).
    woken_later: Arc<WakeQueue>,
    /// Number of queued waiters, readable without the lock by the spinning flusher.
    pending: AtomicUsize,
    /// `SYNC_FLUSH` appends whose `Durable` is not dropped yet.
    in_flight: Arc<AtomicUsize>,
    stop: AtomicBool,
    on_flushed: OnFlushed,
    stats: Arc<FlushStats>,
    interval: Duration,
    min_pages: u64,
    thorough: Duration,
}

/// One `SYNC_FLUSH` append waiting for a sync.
struct Waiter {
    end: u64,
    /// Messages in the append, for the batch size histogram.
    messages: u64,
    completion: Arc<Completion>,
}

#[derive(Default)]
struct Queue {
    /// Per `SYNC_FLUSH` append not yet covered by a sync.
    waiters: Vec<Waiter>,
    /// The flusher is (about to be) blocked on `wake`.
    sleeping: bool,
}

impl fmt::Debug for Flusher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Flusher")
            .field("mode", &self.shared.mode)
            .field("pending", &self.shared.pending.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Flusher {
    /// Starts the flush thread for `log` in `cfg.flush_mode`, and the thread preparing its next
    /// segments (warming them with `cfg.warm_segments`: synced under SYNC_FLUSH, in the page cache
    /// under ASYNC_FLUSH).
    ///
    /// # Panics
    /// If the OS refuses to start the flush thread.
    #[must_use]
    pub fn start(log: Arc<CommitLog>, cfg: &StoreConfig, on_flushed: OnFlushed) -> Flusher {
        let warm = match (cfg.warm_segments, cfg.flush_mode) {
            (false, _) => Warming::Off,
            (true, FlushMode::SyncFlush) => Warming::Synced,
            (true, FlushMode::AsyncFlush) => Warming::Cached,
        };
        let preparer = Preparer::start(log.clone(), warm)
            .inspect_err(|e| tracing::warn!(error = %e, "cannot start the segment preparation thread; segments are created at each roll"))
            .ok();
        let shared = Arc::new(Shared {
            log,
            mode: cfg.flush_mode,
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
            woken_later: Arc::default(),
            pending: AtomicUsize::new(0),
            in_flight: Arc::default(),
            stop: AtomicBool::new(false),
            on_flushed,
            stats: Arc::default(),
            interval: cfg.flush_interval(),
            min_pages: cfg.flush_min_pages,
            thorough: Duration::from_millis(cfg.flush_thorough_interval_ms),
        });
        let s = shared.clone();
        let thread = thread::Builder::new()
            .name("ferromq-flush".into())
            .spawn(move || {
                let _guard = PanicGuard(&s);
                let mut reported = s.log.flushed_offset();
                match s.mode {
                    FlushMode::SyncFlush => s.run_group_commit(&mut reported),
                    FlushMode::AsyncFlush => s.run_periodic(&mut reported),
                }
                s.finish(&mut reported)
            })
            .expect("the OS refused to start the flush thread");
        Flusher {
            shared,
            thread: parking_lot::Mutex::new(Some(thread)),
            preparer: parking_lot::Mutex::new(preparer),
        }
    }

    /// `SYNC_FLUSH`: resolves once the flushed offset reaches `end_offset` (the end of an append of
    /// `messages` messages). `ASYNC_FLUSH`: already resolved.
    pub fn durable(&self, end_offset: u64, messages: u64) -> Durable {
        let s = &self.shared;
        if s.mode == FlushMode::AsyncFlush || s.log.flushed_offset() >= end_offset {
            return Durable::ready();
        }
        if let Some(reason) = s.log.poisoned() {
            return Durable::failed(Outcome::Poisoned(reason));
        }
        let c = Completion::new();
        let (in_flight, appends) = InFlight::enter(&s.in_flight);
        let spin = if appends <= SOLO_WAITERS {
            SOLO_SPIN
        } else {
            Duration::ZERO
        };
        let mut q = s.queue.lock();
        q.waiters.push(Waiter {
            end: end_offset,
            messages,
            completion: c.clone(),
        });
        s.pending.store(q.waiters.len(), Ordering::Release);
        let asleep = std::mem::take(&mut q.sleeping);
        drop(q);
        if asleep {
            s.wake.notify_one();
        }
        Durable::waiting(c, spin, s.woken_later.clone(), in_flight)
    }

    /// The sync histograms, shared with the flush thread that records them.
    #[must_use]
    pub fn stats(&self) -> &FlushStats {
        &self.shared.stats
    }

    /// Why the store refuses writes, once a sync failed.
    #[must_use]
    pub fn poisoned(&self) -> Option<String> {
        self.shared.log.poisoned()
    }

    /// Syncs everything written, completes the waiters and stops the thread.
    ///
    /// # Errors
    /// The final sync's error, or `Poisoned` when an earlier sync failed or the thread panicked.
    pub fn shutdown(&self) -> Result<()> {
        self.stop_thread()
    }

    fn stop_thread(&self) -> Result<()> {
        // First, so no zeros are being written while the last sync runs.
        if let Some(p) = self.preparer.lock().take() {
            p.shutdown();
        }
        let Some(thread) = self.thread.lock().take() else {
            return Ok(());
        };
        self.shared.stop.store(true, Ordering::Release);
        // Under the lock, so the flusher is either before its stop check or already waiting.
        let q = self.shared.queue.lock();
        self.shared.wake.notify_all();
        drop(q);
        thread
            .join()
            .unwrap_or_else(|_| Err(StoreError::Poisoned("the flush thread panicked".into())))
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        if let Err(e) = self.stop_thread() {
            tracing::error!(error = %e, "final commit-log flush failed");
        }
    }
}

impl Shared {
    /// `SYNC_FLUSH`: sync whenever someone waits.
    fn run_group_commit(&self, reported: &mut u64) {
        let mut last = LastSync::default();
        while self.await_waiters() {
            self.gather(&last);
            let began = Instant::now();
            match self.log.sync() {
                Ok(flushed) => {
                    last.took = began.elapsed();
                    self.stats
                        .synced(last.took, flushed.saturating_sub(*reported));
                    let (completed, messages) = self.complete(flushed, None);
                    last.completed = completed;
                    if messages > 0 {
                        self.stats.batch_messages.observe(messages);
                    }
                    last.queued_after = self.pending.load(Ordering::Acquire);
                    self.report(flushed, reported);
                }
                Err(e) => self.fail_all(&e),
            }
        }
    }

    /// After a sync that completed a crowd, waits briefly for that crowd's next appends before the
    /// next sync, so one sync covers them too.
    ///
    /// Why: appends that arrive during a sync wait for it and then for the next one. Without this,
    /// writers split into two cohorts that alternate: the one the last sync completed is still being
    /// woken when the next sync starts with the other one, so each append waits for about two syncs
    /// and each sync covers half the writers. Waiting until the woken crowd has queued again (as
    /// many waiters as were queued after the last sync, plus as many as it completed) lets one sync
    /// cover both; measured with 8 writers, +20-50% appends/s and a third less latency. The wait is
    /// bounded by the last sync's duration, the most a late append could gain, so writers that do
    /// not come back (producers pausing) cost at most one sync of latency. A lone writer or a few
    /// (fewer than `GATHER_CROWD` completed) never wait here.
    fn gather(&self, last: &LastSync) {
        if last.completed < GATHER_CROWD {
            return;
        }
        let want = last.queued_after + last.completed;
        let deadline = Instant::now() + last.took;
        while self.pending.load(Ordering::Acquire) < want {
            if Instant::now() >= deadline || self.stop.load(Ordering::Acquire) {
                return;
            }
            // Yield rather than spin hard: the writers we wait for need these CPUs.
            thread::yield_now();
        }
    }

    /// True when waiters are queued, false when asked to stop (and none are).
    fn await_waiters(&self) -> bool {
        if self.pending.load(Ordering::Acquire) > 0 {
            return true;
        }
        // Nothing to sync: finish the wake-ups nobody has done yet.
        self.woken_later.wake_all();
        let spin_end = Instant::now() + SPIN;
        while Instant::now() < spin_end {
            if self.pending.load(Ordering::Acquire) > 0 {
                return true;
            }
            if self.stop.load(Ordering::Acquire) {
                return false;
            }
            // Yield rather than spin hard: on a busy machine the thread we wait for may need this CPU.
            thread::yield_now();
        }
        let mut q = self.queue.lock();
        loop {
            if !q.waiters.is_empty() {
                return true;
            }
            if self.stop.load(Ordering::Acquire) {
                return false;
            }
            q.sleeping = true;
            self.wake.wait(&mut q);
        }
    }

    /// `ASYNC_FLUSH`: every interval, sync when enough pages are dirty or the thorough interval passed.
    fn run_periodic(&self, reported: &mut u64) {
        let mut last_sync = Instant::now();
        loop {
            {
                let mut q = self.queue.lock();
                if !self.stop.load(Ordering::Acquire) {
                    self.wake.wait_for(&mut q, self.interval);
                }
            }
            if self.stop.load(Ordering::Acquire) {
                return;
            }
            if self.log.poisoned().is_some() {
                continue;
            }
            let (written, flushed) = (self.log.written_offset(), self.log.flushed_offset());
            let dirty_pages = written / PAGE - flushed / PAGE;
            let due = dirty_pages >= self.min_pages || last_sync.elapsed() >= self.thorough;
            if written > flushed && due {
                let began = Instant::now();
                match self.log.sync() {
                    Ok(f) => {
                        self.stats
                            .synced(began.elapsed(), f.saturating_sub(*reported));
                        self.report(f, reported);
                    }
                    Err(e) => tracing::error!(error = %e, "periodic commit-log flush failed"),
                }
                last_sync = Instant::now();
            }
        }
    }

    /// The final sync at stop; completes or fails every remaining waiter.
    fn finish(&self, reported: &mut u64) -> Result<()> {
        let result = self.log.sync();
        match &result {
            Ok(flushed) => {
                self.complete(*flushed, Some(&Outcome::ShutDown));
                self.report(*flushed, reported);
            }
            Err(e) => self.fail_all(e),
        }
        result.map(|_| ())
    }

    fn report(&self, flushed: u64, reported: &mut u64) {
        if flushed > *reported {
            *reported = flushed;
            (self.on_flushed)(flushed);
        }
    }

    /// Completes the waiters `flushed` covers; the others get `rest` if given, else keep waiting.
    /// Returns how many waiters it completed as durable, and how many messages they held.
    fn complete(&self, flushed: u64, rest: Option<&Outcome>) -> (usize, u64) {
        let done: Vec<Waiter> = {
            let mut q = self.queue.lock();
            let (done, keep) = std::mem::take(&mut q.waiters)
                .into_iter()
                .partition(|w| w.end <= flushed || rest.is_some());
            q.waiters = keep;
            self.pending.store(q.waiters.len(), Ordering::Release);
            done
        };
        let (mut completed, mut messages) = (0, 0);
        for w in done {
            let outcome = if w.end <= flushed {
                completed += 1;
                messages += w.messages;
                Outcome::Durable
            } else {
                rest.cloned().unwrap_or(Outcome::ShutDown)
            };
            w.completion.complete_into(outcome, &self.woken_later);
        }
        if rest.is_some() {
            self.woken_later.wake_all();
        } else {
            self.woken_later.wake(FAN_OUT);
        }
        (completed, messages)
    }

    fn fail_all(&self, e: &StoreError) {
        let reason = self.log.poisoned().unwrap_or_else(|| e.to_string());
        let waiters = {
            let mut q = self.queue.lock();
            self.pending.store(0, Ordering::Release);
            std::mem::take(&mut q.waiters)
        };
        for w in waiters {
            w.completion
                .complete_into(Outcome::Poisoned(reason.clone()), &self.woken_later);
        }
        self.woken_later.wake_all();
    }
}

/// If the flush thread panics (a panicking `on_flushed`), poison the log and fail every waiter
/// instead of leaving them blocked forever.
struct PanicGuard<'a>(&'a Shared);

impl Drop for PanicGuard<'_> {
    fn drop(&mut self) {
        if thread::panicking() {
            self.0.log.poison("the flush thread panicked");
            self.0
                .fail_all(&StoreError::Poisoned("the flush thread panicked".into()));
        }
    }
}
