//! The revive timer: one task, owned by the broker's service handle, that runs the revive pass
//! (`BrokerService::revive`) whenever the next invisible delivery expires, within bounds, until
//! the broker shuts down.

use tokio_util::sync::CancellationToken;
use tracing::warn;

use crate::service::BrokerService;

/// Runs revive passes until cancelled. A pass may write to the store (dead-lettering), so it runs
/// on the blocking pool.
pub(crate) async fn run(service: BrokerService, token: CancellationToken) {
    loop {
        let pass = service.clone();
        let wait = match tokio::task::spawn_blocking(move || pass.revive()).await {
            Ok(wait) => wait,
            Err(e) => {
                warn!(error = %e, "POP revive pass failed");
                std::time::Duration::from_secs(1)
            }
        };
        tokio::select! {
            () = token.cancelled() => return,
            () = tokio::time::sleep(wait) => {}
        }
    }
}
