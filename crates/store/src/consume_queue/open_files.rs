//! A cap on the consume-queue files held open at once.
//!
//! Each queue keeps the handle of its last ("active") file so the dispatcher's appends cost one
//! `pwrite` and no `open`. Unbounded, that is one descriptor per queue ever written: a broker with
//! 100,000 queues runs out of descriptors and can no longer accept a connection. So the active
//! handles form one cache over the whole store: past the cap, the least recently used handles are
//! closed (CLOCK, the "second chance" approximation of LRU: a use only sets a flag, and no lock is
//! taken per append). A closed handle loses nothing: its writes are in the page cache and the next
//! flush reopens the file to sync it (an `fdatasync` covers every write to the file, whatever
//! descriptor made it).

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;

use super::queue::ConsumeQueue;

/// The cache of active handles shared by every queue of a store.
pub(crate) struct OpenFiles {
    cap: usize,
    /// Handles open now (each held with a [`Ticket`]).
    open: AtomicUsize,
    /// Queues holding (or recently holding) a handle, in the order the clock hand visits them. A
    /// queue is in it at most once (`ConsumeQueue::in_ring`).
    ring: Mutex<VecDeque<Weak<ConsumeQueue>>>,
}

impl fmt::Debug for OpenFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenFiles")
            .field("cap", &self.cap)
            .field("open", &self.open())
            .finish_non_exhaustive()
    }
}

/// One open handle counted against the cap; dropping it (with the handle) gives the slot back.
#[derive(Debug)]
pub(crate) struct Ticket {
    files: Arc<OpenFiles>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.files.open.fetch_sub(1, Ordering::AcqRel);
    }
}

impl OpenFiles {
    /// At least one handle may be open, whatever `cap` says.
    pub(crate) fn new(cap: usize) -> Arc<OpenFiles> {
        Arc::new(OpenFiles {
            cap: cap.max(1),
            open: AtomicUsize::new(0),
            ring: Mutex::new(VecDeque::new()),
        })
    }

    /// How many active handles may be open at once.
    pub(crate) fn cap(&self) -> usize {
        self.cap
    }

    /// Active handles open now.
    pub(crate) fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    /// Counts a handle `queue` has just opened; `queue` joins the ring unless it is in it.
    pub(crate) fn admit(self: &Arc<Self>, queue: &ConsumeQueue, me: &Weak<ConsumeQueue>) -> Ticket {
        self.open.fetch_add(1, Ordering::AcqRel);
        if queue.join_ring() {
            self.ring.lock().push_back(me.clone());
        }
        Ticket {
            files: self.clone(),
        }
    }

    /// Closes least recently used handles until at most `cap` are open. Never blocks on a queue: one
    /// that is busy (its lock held, e.g. by the caller itself) is skipped, so the count may stay
    /// above the cap for a moment when every candidate is busy; the next admission tries again.
    pub(crate) fn make_room(&self) {
        let mut visits = self.ring.lock().len().saturating_mul(2);
        while self.open() > self.cap && visits > 0 {
            visits -= 1;
            let Some(weak) = self.ring.lock().pop_front() else {
                return;
            };
            let Some(queue) = weak.upgrade() else {
                continue;
            };
            // Closed (or nothing open any more), the queue has left the ring until it opens a file
            // again; recently used or busy, it gets a second chance.
            if !queue.try_close_active() {
                self.ring.lock().push_back(weak);
            }
        }
    }
}
