//! Parked pulls. A pull that found nothing registers a waiter for its (topic, queue) *before* it
//! reads the queue again, so a message dispatched in between cannot be missed; the store's
//! dispatcher thread calls [`LongPoll::notify`] when the queue grows, which wakes every waiter of
//! that queue at once. Waiters re-run the pull; no timer polls the store.

use std::collections::HashMap;

use parking_lot::Mutex;
use tokio::sync::oneshot;

/// A parked pull's end of the wake-up channel, per (topic, queue id).
type Waiters = HashMap<(String, u32), Vec<oneshot::Sender<()>>>;

/// Waiters per (topic, queue id).
#[derive(Debug, Default)]
pub struct LongPoll {
    waiters: Mutex<Waiters>,
}

/// Resolves when the queue it was registered for receives a message (or the registry is dropped).
pub type Wakeup = oneshot::Receiver<()>;

impl LongPoll {
    /// Registers interest in the next arrival on the queue.
    pub fn register(&self, topic: &str, queue_id: u32) -> Wakeup {
        let (tx, rx) = oneshot::channel();
        let mut w = self.waiters.lock();
        let list = w.entry((topic.to_owned(), queue_id)).or_default();
        // Pulls that timed out or whose connection closed dropped their receiver.
        list.retain(|t| !t.is_closed());
        list.push(tx);
        rx
    }

    /// Wakes every pull parked on the queue. Called from the store's dispatcher thread.
    pub fn notify(&self, topic: &str, queue_id: u32) {
        let woken = self.waiters.lock().remove(&(topic.to_owned(), queue_id));
        for tx in woken.into_iter().flatten() {
            let _ = tx.send(());
        }
    }

    /// Number of parked pulls (for runtime info and tests).
    #[must_use]
    pub fn parked(&self) -> usize {
        self.waiters
            .lock()
            .values()
            .flatten()
            .filter(|t| !t.is_closed())
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn wakes_only_the_queue_that_grew() {
        let lp = LongPoll::default();
        let a = lp.register("T", 0);
        let mut b = lp.register("T", 1);
        assert_eq!(lp.parked(), 2);
        lp.notify("T", 0);
        a.await.expect("woken");
        assert!(b.try_recv().is_err());
        drop(b);
        assert_eq!(lp.parked(), 0);
    }
}
