//! The expiry scan: every `scan_interval`, brokers not heard from within their timeout are removed
//! and their connections closed (Java's `scanNotActiveBroker`). Brokers whose connection closes are
//! removed at once by the handler's `on_disconnect`.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use crate::state::State;

/// Scans until `shutdown`; the first scan happens one interval after start, as in Java.
pub(crate) async fn run(state: Arc<State>, interval: Duration, shutdown: CancellationToken) {
    let mut ticker = tokio::time::interval_at(Instant::now() + interval, interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            _ = ticker.tick() => {}
        }
        scan(&state, Instant::now());
    }
}

/// Expires brokers as of `now`; returns how many.
pub(crate) fn scan(state: &State, now: Instant) -> usize {
    let expired = state.routes.write().expire(now);
    if expired.is_empty() {
        return 0;
    }
    {
        let conns = state.broker_conns.lock();
        for conn in expired
            .iter()
            .filter_map(|(_, id)| id.and_then(|id| conns.get(&id)))
        {
            conn.close();
        }
    }
    state.routes_changed();
    expired.len()
}
