//! A wake-up flag for the delivery threads: set by the store's arrival listener or by shutdown,
//! waited on with a deadline (the next due time).

use std::time::Duration;

use parking_lot::{Condvar, Mutex};

#[derive(Debug, Default)]
pub(crate) struct Wake {
    pending: Mutex<bool>,
    cond: Condvar,
}

impl Wake {
    pub(crate) fn notify(&self) {
        *self.pending.lock() = true;
        self.cond.notify_all();
    }

    /// Returns at once when notified since the last wait, else after a notification or `timeout`.
    pub(crate) fn wait(&self, timeout: Duration) {
        let mut pending = self.pending.lock();
        if !*pending {
            let _ = self.cond.wait_for(&mut pending, timeout);
        }
        *pending = false;
    }
}
