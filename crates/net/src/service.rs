//! `ServiceHandle`: the owner of a service's background tasks.

use std::future::Future;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Owns a group of tasks: they are spawned through it, observe its token, and
/// [`shutdown`](Self::shutdown) cancels the token and waits for every one of them.
#[derive(Debug, Default)]
pub struct ServiceHandle {
    token: CancellationToken,
    tracker: TaskTracker,
}

impl ServiceHandle {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Cancelled when shutdown starts; tasks select on it (or on a child of it) to stop.
    #[must_use]
    pub fn token(&self) -> &CancellationToken {
        &self.token
    }

    /// Spawns a task owned by this handle.
    pub fn spawn<F>(&self, task: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.tracker.spawn(task)
    }

    #[must_use]
    pub fn is_shutting_down(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Cancels the token and waits until every task has finished.
    pub async fn shutdown(self) {
        self.token.cancel();
        self.tracker.close();
        self.tracker.wait().await;
    }
}
