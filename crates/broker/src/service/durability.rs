//! Waiting until stored records are as durable as the broker's mode promises.

use std::time::Duration;

use ferromq_store::config::FlushMode;
use ferromq_store::{PutResult, StoreError};

use crate::error::BrokerError;
use crate::state::State;

/// SYNC_FLUSH: until the records are on disk, or FLUSH_DISK_TIMEOUT (the message is stored and the
/// client counts it as sent). ASYNC_FLUSH: not at all. SYNC_MASTER then waits for the replicas
/// (SLAVE_NOT_AVAILABLE, FLUSH_SLAVE_TIMEOUT: see `crate::ha`).
pub(super) async fn wait(s: &State, put: PutResult) -> Result<(), BrokerError> {
    let timeout = Duration::from_millis(s.config.sync_flush_timeout_ms.max(1));
    let outcome = match s.config.flush_disk_type {
        FlushMode::AsyncFlush => put.durable.await,
        FlushMode::SyncFlush => match tokio::time::timeout(timeout, put.durable).await {
            Ok(r) => r,
            Err(_) => Err(StoreError::FlushTimeout {
                millis: s.config.sync_flush_timeout_ms,
            }),
        },
    };
    let end = put
        .records
        .last()
        .map_or(0, |r| r.physical_offset + u64::from(r.size));
    let outcome = match outcome {
        Ok(()) if s.role.is_sync_master() => {
            let written = s.store.written_offset();
            s.replication
                .acks
                .wait_for(end, written, timeout)
                .await
                .map_err(BrokerError::from)
        }
        other => other.map_err(BrokerError::Store),
    };
    if let Err(err) = &outcome {
        tracing::warn!(error = %err, "stored message not durable");
    }
    outcome
}
