//! Black-box compatibility checks of ferromq with clients written by others.
//!
//! Nothing here is part of ferromq: this package starts a ferromq cluster in-process
//! ([`cluster::Cluster`], or a broker group under a failover controller:
//! [`controlled::ControlledGroup`]), drives it with a foreign client (rocketmq-client-rust, through
//! [`client::ClientHarness`]), and can record every frame on the wire ([`proxy`]).
//! The scenarios are in `tests/`; the end-to-end benchmark is `src/bin/e2e_bench.rs`.

pub mod client;
pub mod cluster;
pub mod controlled;
pub mod proxy;
pub mod raw;

use std::time::Duration;

/// Installs a tracing subscriber once per process, writing through the test harness's capture.
/// `RUST_LOG` overrides the default filter, which shows ferromq's warnings, the client's warnings
/// and every frame the proxies decode.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,ferromq_compat::wire=debug"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}

/// Polls `condition` every 20 ms until it holds or `timeout` passes; returns whether it held.
pub async fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls `condition` (an async probe) every 20 ms until it holds or `timeout` passes; returns
/// whether it held.
pub async fn wait_for(timeout: Duration, mut condition: impl AsyncFnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if condition().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
