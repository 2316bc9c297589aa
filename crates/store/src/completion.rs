//! [`Durable`]: a one-shot signal that an append's bytes reached the disk, to await (any executor, std
//! `Waker`) or to block on.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::error::{Result, StoreError};

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

/// The shared slot the flusher completes and a [`Durable`] watches.
#[derive(Debug, Default)]
pub(crate) struct Completion {
    outcome: OnceLock<Outcome>,
    waker: Mutex<Option<Waker>>,
}

impl Completion {
    pub(crate) fn new() -> Arc<Completion> {
        Arc::new(Completion::default())
    }

    /// Sets the outcome (the first one wins) and wakes the waiter.
    pub(crate) fn complete(&self, outcome: Outcome) {
        if self.outcome.set(outcome).is_ok() {
            // Taken after the outcome is visible: a waiter that registers later re-checks the outcome.
            let waker = self.waker.lock().take();
            if let Some(w) = waker {
                w.wake();
            }
        }
    }

    fn outcome(&self) -> Option<Result<()>> {
        self.outcome.get().map(|o| o.clone().into_result())
    }

    fn register(&self, waker: &Waker) {
        let mut slot = self.waker.lock();
        if !slot.as_ref().is_some_and(|w| w.will_wake(waker)) {
            *slot = Some(waker.clone());
        }
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
    /// `spin`: how long [`Durable::wait`] polls before parking the thread.
    Waiting(Arc<Completion>, Duration),
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

    /// Waits on `c`; a blocking wait polls for `spin` before parking (see `flush::SOLO_SPIN`).
    pub(crate) fn waiting(c: Arc<Completion>, spin: Duration) -> Durable {
        Durable {
            state: State::Waiting(c, spin),
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
        let (c, spin) = match self.state {
            State::Done(o) => return Some(o.into_result()),
            State::Waiting(c, spin) => (c, spin),
        };
        let spin_end = Instant::now() + spin;
        while Instant::now() < spin_end {
            if let Some(r) = c.outcome() {
                return Some(r);
            }
            // Yield rather than spin hard: on a busy machine the thread we wait for may need this CPU.
            thread::yield_now();
        }
        c.register(&Waker::from(Arc::new(ThreadWaker(thread::current()))));
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

impl Future for Durable {
    type Output = Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        match &self.get_mut().state {
            State::Done(o) => Poll::Ready(o.clone().into_result()),
            State::Waiting(c, _) => {
                if let Some(r) = c.outcome() {
                    return Poll::Ready(r);
                }
                c.register(cx.waker());
                // Re-check: the flusher may have completed between the first check and `register`.
                c.outcome().map_or(Poll::Pending, Poll::Ready)
            }
        }
    }
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

    #[test]
    fn completes_across_threads_and_times_out() {
        let c = Completion::new();
        let d = Durable::waiting(c.clone(), Duration::ZERO);
        let t = thread::spawn(move || d.wait());
        c.complete(Outcome::Durable);
        c.complete(Outcome::ShutDown); // ignored: the first outcome wins
        t.join().expect("waiter").expect("durable");

        let c = Completion::new();
        let err = Durable::waiting(c.clone(), Duration::ZERO)
            .wait_timeout(Duration::from_millis(1))
            .expect_err("times out");
        assert!(matches!(err, StoreError::FlushTimeout { millis: 1 }));
        c.complete(Outcome::Poisoned("disk gone".into()));
        let err = Durable::waiting(c, Duration::from_micros(5))
            .wait()
            .expect_err("poisoned");
        assert!(matches!(err, StoreError::Poisoned(r) if r == "disk gone"));
        Durable::ready().wait().expect("ready");
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
        let mut d = Durable::waiting(c.clone(), Duration::ZERO);
        assert!(Pin::new(&mut d).poll(&mut cx).is_pending());
        c.complete(Outcome::ShutDown);
        assert!(matches!(
            Pin::new(&mut d).poll(&mut cx),
            Poll::Ready(Err(StoreError::ShutDown))
        ));
    }
}
