//! The runtime that rocketmq-client-rust requires its users to own.
//!
//! The client spawns nothing on a runtime of its own: the application creates a `RuntimeOwner`
//! (a multi-thread tokio runtime plus task groups), derives a `ClientRuntime` from it, and hands
//! that `Arc<ClientRuntime>` to every producer and consumer builder. [`ClientHarness`] does that,
//! and runs the test body (and the ferromq servers) on the same tokio runtime via
//! [`ClientHarness::block_on`].

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use rocketmq_client_rust::{ClientRuntime, ClientRuntimeConfig};
use rocketmq_observability::TelemetryRuntimeGuard;
use rocketmq_runtime::{RuntimeConfig, RuntimeOwner};

/// How long client shutdown may take before its report is returned as unhealthy.
const SHUTDOWN_BUDGET: Duration = Duration::from_secs(2);

/// Owns the tokio runtime, the client runtime and the (no-op) telemetry of one test or bench.
pub struct ClientHarness {
    owner: RuntimeOwner,
    client_runtime: Arc<ClientRuntime>,
    telemetry: TelemetryRuntimeGuard,
}

impl std::fmt::Debug for ClientHarness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientHarness").finish_non_exhaustive()
    }
}

impl ClientHarness {
    /// A runtime with the default worker count (one per core).
    ///
    /// # Errors
    /// When the runtime or the client runtime cannot be built.
    pub fn new(scope: &str) -> anyhow::Result<Self> {
        let mut config = RuntimeConfig {
            thread_name: format!("compat-{scope}"),
            // The client leaks a consume-worker task at shutdown and then waits out the whole
            // budget (30 s by default); nothing to wait for in tests.
            shutdown_timeout: SHUTDOWN_BUDGET,
            ..RuntimeConfig::default()
        };
        // Push listeners run on the metadata-io blocking lane, one task per consume request. Its
        // default queue (8 per core) overflows on a 2-core machine as soon as a few queues have
        // messages; the overflowing requests are treated as failed consumption and the messages
        // are sent back for retry (reconsumeTimes 1). Make the queue deep enough.
        config.blocking_lane_policies.metadata_io.max_queue_depth = 1 << 16;
        let owner = RuntimeOwner::plan(config)
            .map_err(|e| anyhow::anyhow!("runtime config: {e:?}"))?
            .build()
            .context("build the client's RuntimeOwner")?;
        let telemetry = TelemetryRuntimeGuard::noop();
        let client_runtime = ClientRuntime::try_new(
            owner.root_context().component("client"),
            ClientRuntimeConfig {
                shutdown_timeout: SHUTDOWN_BUDGET,
                ..ClientRuntimeConfig::default()
            },
            telemetry.handle(),
        )
        .map_err(|e| anyhow::anyhow!("ClientRuntime::try_new: {e}"))?;
        Ok(Self {
            owner,
            client_runtime,
            telemetry,
        })
    }

    /// What producer and consumer builders take.
    #[must_use]
    pub fn runtime(&self) -> Arc<ClientRuntime> {
        Arc::clone(&self.client_runtime)
    }

    /// Runs `future` on the owned tokio runtime (the client's tasks run there too).
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.owner.block_on(future)
    }

    /// Shuts the client runtime and the owner's tasks down, then the tokio runtime. Reports that
    /// are not healthy are returned as text (shutdown trouble is the client's, not ferromq's).
    #[must_use]
    pub fn shutdown(self) -> Vec<String> {
        let Self {
            owner,
            client_runtime,
            telemetry,
        } = self;
        let mut problems = Vec::new();
        let (client_report, owner_report) = owner.block_on(async {
            let c = client_runtime.shutdown().await;
            let o = owner.shutdown_tasks().await;
            (c, o)
        });
        if !client_report.is_healthy() {
            problems.push(client_report.to_json());
        }
        if !owner_report.is_healthy() {
            problems.push(owner_report.to_json());
        }
        drop(client_runtime);
        let background = owner.shutdown_background();
        if !background.is_healthy() {
            problems.push(background.to_json());
        }
        let t = telemetry.shutdown();
        if !t.is_healthy() {
            problems.push(t.to_json());
        }
        problems
    }
}
