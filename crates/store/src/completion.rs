//! [`Durable`]: a one-shot signal that an append's bytes reached the disk, to await (any executor, std
//! `Waker`) or to block on.
//!
//! Waking blocked threads is the expensive part of group commit: one fdatasync completes dozens of
//! waiters, and each thread wake-up is a futex call plus a scheduler enqueue (often an IPI) — done in
//! a row by the flusher, it delays the next fdatasync by as much as the sync itself. So the flusher
//! wakes only `FAN_OUT` blocked threads per sync and leaves the rest in a [`WakeQueue`]; every thread
//! that returns from a wait wakes `FAN_OUT` more before going on, so wake-ups spread over the CPUs as a
//! tree while the flusher is already syncing again. Futures are woken by the flusher directly (an
//! executor's wake is cheap and an executor thread never helps), and the flusher drains the queue
//! before it goes idle, so nobody depends on a helper that never comes. (Letting futures pass
//! wake-ups on as threads do, from their executor thread, measured no different with 64 tasks.)
//!
//! A waiter that is (nearly) alone in flight (`InFlight`) does not sleep at first: it polls for
//! about one sync, yielding the CPU between polls, so a single producer's append costs one sync and no
//! wake-up. A future does this in its first poll, on the executor thread (see `Durable::poll`).

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::error::{Result, StoreError};
use crate::flush::SOLO_WAITERS;

/// How a wait ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    Durable,
    Poisoned(String),
    ShutDown,
}

impl Outcome {
    fn into_result(self) -> Result<()> {
        match self {
            Outcome::Durable => Ok(()),
            Outcome::Poisoned(reason) => Err(StoreError::Poisoned(reason)),
            Outcome::ShutDown => Err(StoreError::ShutDown),
        }
    }
}

/// How many blocked threads the flusher, and then each woken thread, wakes.
pub(crate) const FAN_OUT: usize = 2;

/// Who is behind a registered waker.
#[derive(Debug)]
enum Waiter {
    /// A thread blocked in [`Durable::wait`]: it helps wake others once it runs.
    Thread(Waker),
    /// A task of some executor.
    Task(Waker),
}

/// The shared slot the flusher completes and a [`Durable`] watches.
#[derive(Debug, Default)]
pub(crate) struct Completion {
    outcome: OnceLock<Outcome>,
    waiter: Mutex<Option<Waiter>>,
}

impl Completion {
    pub(crate) fn new() -> Arc<Completion> {
        Arc::new(Completion::default())
    }

    /// Sets the outcome (the first one wins) and wakes the waiter.
    #[cfg(test)]
    pub(crate) fn complete(&self, outcome: Outcome) {
        let queue = WakeQueue::default();
        self.complete_into(outcome, &queue);
        queue.wake_all();
    }

    /// Sets the outcome (the first one wins); wakes a task at once, queues a blocked thread's waker.
    pub(crate) fn complete_into(&self, outcome: Outcome, queue: &WakeQueue) {
        if self.outcome.set(outcome).is_ok() {
            // Taken after the outcome is visible: a waiter that registers later re-checks the outcome.
            let waiter = self.waiter.lock().take();
            match waiter {
                Some(Waiter::Task(w)) => w.wake(),
                Some(Waiter::Thread(w)) => queue.push(w),
                None => {}
            }
        }
    }

    fn outcome(&self) -> Option<Result<()>> {
        self.outcome.get().map(|o| o.clone().into_result())
    }

    fn register(&self, waiter: Waiter) {
        let mut slot = self.waiter.lock();
        let same = match (slot.as_ref(), &waiter) {
            (Some(Waiter::Task(old)), Waiter::Task(new))
            | (Some(Waiter::Thread(old)), Waiter::Thread(new)) => old.will_wake(new),
            _ => false,
        };
        if !same {
            *slot = Some(waiter);
        }
    }
}

/// Wakers of blocked threads whose waits are over but who are not woken yet (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct WakeQueue {
    wakers: Mutex<VecDeque<Waker>>,
    /// Queue length, readable without the lock.
    len: AtomicUsize,
}

impl WakeQueue {
    fn push(&self, w: Waker) {
        let mut q = self.wakers.lock();
        q.push_back(w);
        self.len.store(q.len(), Ordering::Release);
    }

    /// Wakes up to `n` queued threads, oldest first.
    pub(crate) fn wake(&self, n: usize) {
        if self.len.load(Ordering::Acquire) == 0 {
            return;
        }
        let mut batch = [None, None, None, None];
        {
            let mut q = self.wakers.lock();
            for slot in batch.iter_mut().take(n) {
                *slot = q.pop_front();
            }
            self.len.store(q.len(), Ordering::Release);
        }
        // Outside the lock: a wake-up is a system call.
        for w in batch.into_iter().flatten() {
            w.wake();
        }
    }

    /// Wakes every queued thread.
    pub(crate) fn wake_all(&self) {
        let all = {
            let mut q = self.wakers.lock();
            self.len.store(0, Ordering::Release);
            std::mem::take(&mut *q)
        };
        for w in all {
            w.wake();
        }
    }
}

/// Counts an append as in flight from its `Durable`'s creation to its drop: the number of appends
/// that may be waiting or about to run again. A waiter spins only while it is small; queue length is
/// no such signal, because right after a sync the queue is empty even under a crowd, and a task
/// spinning there would hold up the executor thread that should run the crowd's next appends.
#[derive(Debug)]
pub(crate) struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    /// Counts one more append in `count`; returns the guard and the count including it.
    pub(crate) fn enter(count: &Arc<AtomicUsize>) -> (InFlight, usize) {
        let n = count.fetch_add(1, Ordering::Relaxed) + 1;
        (InFlight(count.clone()), n)
    }

    fn count(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Resolves when the bytes of an append are durable (`SYNC_FLUSH`), or at once (`ASYNC_FLUSH`).
///
/// Fails with `Poisoned` when a flush failed, `ShutDown` when the flusher stopped first.
#[derive(Debug)]
#[must_use = "an append is only durable once its Durable resolves"]
pub struct Durable {
    state: State,
}

#[derive(Debug)]
enum State {
    Done(Outcome),
    /// `spin`: how long [`Durable::wait`] polls before parking the thread; `queue`: where it helps
    /// wake others once its own wait is over.
    Waiting {
        c: Arc<Completion>,
        spin: Duration,
        queue: Arc<WakeQueue>,
        /// Counts this append as in flight until the `Durable` is dropped.
        in_flight: InFlight,
        /// Set by the first poll, which spins (see `poll`).
        spun: bool,
    },
}

impl Durable {
    /// Already durable (or durability not requested).
    pub fn ready() -> Durable {
        Durable {
            state: State::Done(Outcome::Durable),
        }
    }

    pub(crate) fn failed(outcome: Outcome) -> Durable {
        Durable {
            state: State::Done(outcome),
        }
    }

    /// Waits on `c`; a blocking wait polls for `spin` before parking (see `flush::SOLO_SPIN`), and
    /// wakes threads from `queue` once it is over.
    pub(crate) fn waiting(
        c: Arc<Completion>,
        spin: Duration,
        queue: Arc<WakeQueue>,
        in_flight: InFlight,
    ) -> Durable {
        Durable {
            state: State::Waiting {
                c,
                spin,
                queue,
                in_flight,
                spun: false,
            },
        }
    }

    /// Blocks the calling thread until the outcome is known.
    ///
    /// # Errors
    /// `Poisoned` or `ShutDown`, see [`Durable`].
    pub fn wait(self) -> Result<()> {
        self.block(None)
            .unwrap_or(Err(StoreError::FlushTimeout { millis: u64::MAX }))
    }

    /// Blocks for at most `timeout`.
    ///
    /// # Errors
    /// `FlushTimeout` when the time runs out first (the append may still become durable later);
    /// otherwise as [`Durable::wait`].
    pub fn wait_timeout(self, timeout: Duration) -> Result<()> {
        let millis = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        self.block(Some(Instant::now() + timeout))
            .unwrap_or(Err(StoreError::FlushTimeout { millis }))
    }

    /// `None` when the deadline passed first.
    fn block(self, deadline: Option<Instant>) -> Option<Result<()>> {
        let (c, spin, queue, in_flight) = match self.state {
            State::Done(o) => return Some(o.into_result()),
            State::Waiting {
                c,
                spin,
                queue,
                in_flight,
                ..
            } => (c, spin, queue, in_flight),
        };
        let result = Self::block_on(&c, spin, &in_flight, deadline);
        queue.wake(FAN_OUT);
        result
    }

    fn block_on(
        c: &Completion,
        spin: Duration,
        in_flight: &InFlight,
        deadline: Option<Instant>,
    ) -> Option<Result<()>> {
        if let Some(r) = spin_on(c, spin, in_flight) {
            return Some(r);
        }
        c.register(Waiter::Thread(THREAD_WAKER.with(Waker::clone)));
        loop {
            if let Some(r) = c.outcome() {
                return Some(r);
            }
            match deadline {
                None => thread::park(),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return None;
                    }
                    thread::park_timeout(d - now);
                }
            }
        }
    }
}

/// Polls `c` for up to `spin`, yielding the CPU between polls (on a busy machine the flusher may
/// need it), while at most `SOLO_WAITERS` appends are in flight; `None` when it gave up.
fn spin_on(c: &Completion, spin: Duration, in_flight: &InFlight) -> Option<Result<()>> {
    if spin.is_zero() {
        return None;
    }
    let until = Instant::now() + spin;
    loop {
        if let Some(r) = c.outcome() {
            return Some(r);
        }
        if Instant::now() >= until || in_flight.count() > SOLO_WAITERS {
            return None;
        }
        thread::yield_now();
    }
}

impl Future for Durable {
    type Output = Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        match &mut self.get_mut().state {
            State::Done(o) => Poll::Ready(o.clone().into_result()),
            State::Waiting {
                c,
                spin,
                spun,
                in_flight,
                ..
            } => {
                if let Some(r) = c.outcome() {
                    return Poll::Ready(r);
                }
                if !*spun {
                    // A (nearly) lone appender, first poll: its sync ends within about `spin`, and a
                    // wake-up from the flusher thread would add a parked executor thread's futex round
                    // trip (tens of µs in a VM) to every append. So, once, poll as a blocked thread
                    // would: yielding the CPU (the flusher may need it) but not the executor thread.
                    // That holds up this thread's other tasks, so it happens only while at most
                    // `SOLO_WAITERS` appends are in flight, and stops when more start (their tasks
                    // ran on another executor thread).
                    *spun = true;
                    if let Some(r) = spin_on(c, *spin, in_flight) {
                        return Poll::Ready(r);
                    }
                }
                c.register(Waiter::Task(cx.waker().clone()));
                // Re-check: the flusher may have completed between the first check and `register`.
                c.outcome().map_or(Poll::Pending, Poll::Ready)
            }
        }
    }
}

thread_local! {
    /// This thread's waker, made once: a blocking wait per append would otherwise allocate one.
    static THREAD_WAKER: Waker = Waker::from(Arc::new(ThreadWaker(thread::current())));
}

/// Wakes a thread blocked in [`Durable::wait`].
struct ThreadWaker(Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The guard of an append that is alone in flight.
    fn alone() -> InFlight {
        InFlight::enter(&Arc::default()).0
    }

    #[test]
    fn completes_across_threads_and_times_out() {
        let c = Completion::new();
        let d = Durable::waiting(c.clone(), Duration::ZERO, Arc::default(), alone());
        let t = thread::spawn(move || d.wait());
        c.complete(Outcome::Durable);
        c.complete(Outcome::ShutDown); // ignored: the first outcome wins
        t.join().expect("waiter").expect("durable");

        let c = Completion::new();
        let err = Durable::waiting(c.clone(), Duration::ZERO, Arc::default(), alone())
            .wait_timeout(Duration::from_millis(1))
            .expect_err("times out");
        assert!(matches!(err, StoreError::FlushTimeout { millis: 1 }));
        c.complete(Outcome::Poisoned("disk gone".into()));
        let err = Durable::waiting(c, Duration::from_micros(5), Arc::default(), alone())
            .wait()
            .expect_err("poisoned");
        assert!(matches!(err, StoreError::Poisoned(r) if r == "disk gone"));
        Durable::ready().wait().expect("ready");
    }

    #[test]
    fn a_lone_future_spins_through_its_first_poll_instead_of_sleeping() {
        struct Count(AtomicUsize);
        impl Wake for Count {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let woken = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(woken.clone());
        let mut cx = Context::from_waker(&waker);
        // Completed by another thread while the first poll spins: ready, no wake-up needed.
        let c = Completion::new();
        let mut d = Durable::waiting(c.clone(), Duration::from_secs(90), Arc::default(), alone());
        let completer = thread::spawn(move || c.complete(Outcome::Durable));
        assert!(matches!(
            Pin::new(&mut d).poll(&mut cx),
            Poll::Ready(Ok(()))
        ));
        completer.join().expect("completer");
        assert_eq!(woken.0.load(Ordering::SeqCst), 0);
        // Not completed within the spin: pending, then woken once by the completion.
        let c = Completion::new();
        let mut d = Durable::waiting(c.clone(), Duration::from_micros(1), Arc::default(), alone());
        assert!(Pin::new(&mut d).poll(&mut cx).is_pending());
        assert!(
            Pin::new(&mut d).poll(&mut cx).is_pending(),
            "spins once only"
        );
        c.complete(Outcome::Durable);
        assert_eq!(woken.0.load(Ordering::SeqCst), 1);
        assert!(matches!(
            Pin::new(&mut d).poll(&mut cx),
            Poll::Ready(Ok(()))
        ));
        // With a crowd in flight nobody spins, however long the spin: pending at once.
        let count = Arc::default();
        let crowd: Vec<InFlight> = (0..SOLO_WAITERS)
            .map(|_| InFlight::enter(&count).0)
            .collect();
        let (guard, n) = InFlight::enter(&count);
        assert_eq!(n, SOLO_WAITERS + 1);
        let c = Completion::new();
        let mut d = Durable::waiting(c.clone(), Duration::from_secs(5_000), Arc::default(), guard);
        assert!(Pin::new(&mut d).poll(&mut cx).is_pending());
        drop(crowd);
        drop(d);
        assert_eq!(count.load(Ordering::SeqCst), 0, "every guard counted out");
    }

    #[test]
    fn polls_as_a_future() {
        struct Noop;
        impl Wake for Noop {
            fn wake(self: Arc<Self>) {}
        }
        let waker = Waker::from(Arc::new(Noop));
        let mut cx = Context::from_waker(&waker);
        let c = Completion::new();
        let mut d = Durable::waiting(c.clone(), Duration::ZERO, Arc::default(), alone());
        assert!(Pin::new(&mut d).poll(&mut cx).is_pending());
        c.complete(Outcome::ShutDown);
        assert!(matches!(
            Pin::new(&mut d).poll(&mut cx),
            Poll::Ready(Err(StoreError::ShutDown))
        ));
    }
}
