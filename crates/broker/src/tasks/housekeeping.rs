//! Periodic upkeep: consumer offsets written to disk, silent clients expired.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::warn;

use crate::state::State;

/// How often clients are checked for expiry (Java: 10 s).
const CLIENT_SCAN_INTERVAL: Duration = Duration::from_secs(10);

/// Persists consumer offsets every `flushConsumerOffsetInterval` until cancelled.
pub(crate) async fn persist_offsets(state: Arc<State>, token: CancellationToken) {
    let period = Duration::from_millis(state.config.flush_consumer_offset_interval_ms);
    loop {
        tokio::select! {
            () = token.cancelled() => return,
            () = tokio::time::sleep(period) => {}
        }
        let s = state.clone();
        let result = tokio::task::spawn_blocking(move || s.offsets.persist()).await;
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => warn!(error = %e, "persisting consumer offsets failed"),
            Err(e) => warn!(error = %e, "offset persistence task failed"),
        }
    }
}

/// Drops clients that have not heart-beaten within `channelExpiredTimeout`, until cancelled.
pub(crate) async fn expire_clients(state: Arc<State>, token: CancellationToken) {
    let timeout = Duration::from_millis(state.config.client_channel_expired_ms);
    let interval = CLIENT_SCAN_INTERVAL.min(timeout.max(Duration::from_millis(100)));
    loop {
        tokio::select! {
            () = token.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
        }
        let groups = state.clients.expire(tokio::time::Instant::now(), timeout);
        state.notify_groups(groups);
    }
}
