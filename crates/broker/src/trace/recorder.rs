//! Collects trace events from every path (request handlers, delivery threads) without blocking them,
//! and writes them in batches to the trace topic, one stored message per batch whose KEYS are the
//! message ids it mentions, so the store's key index finds a message's events from its id alone.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ferromq_model::properties::{self, keys};
use ferromq_model::record::RecordDraft;
use ferromq_store::Store;
use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use super::TRACE_TOPIC;
use ferromq_model::trace::Event;

/// Events held before a write is due at once.
const BATCH: usize = 512;
/// Events held at most; past this, events are dropped (and counted) rather than slowing sends.
const CAPACITY: usize = 64 * 1024;
/// A batch is written at least this often.
const INTERVAL: Duration = Duration::from_millis(100);
/// Keys beyond this many per stored trace message go to the next one (a record's properties are
/// at most 32 KiB).
const MAX_KEY_BYTES: usize = 16 * 1024;

/// The broker's trace recorder. Cheap to call; `Send + Sync`.
#[derive(Debug, Default)]
pub struct Recorder {
    pending: Mutex<Vec<Event>>,
    due: Notify,
    dropped: AtomicU64,
    written: AtomicU64,
}

impl Recorder {
    /// Queues an event for the next batch.
    pub fn record(&self, event: Event) {
        let mut pending = self.pending.lock();
        if pending.len() >= CAPACITY {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        pending.push(event);
        if pending.len() == BATCH {
            self.due.notify_one();
        }
    }

    /// Events dropped because the writer fell behind.
    #[must_use]
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Events written to the trace topic.
    #[must_use]
    pub fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }

    /// Writes pending events now (also at shutdown).
    pub fn flush(&self, store: &Store, host: std::net::SocketAddr) {
        let events = std::mem::take(&mut *self.pending.lock());
        if store.is_read_only() {
            // Not the master (controller mode): this broker's events are not kept.
            return;
        }
        let mut rest = events.as_slice();
        while !rest.is_empty() {
            let n = write_batch(store, host, rest);
            self.written.fetch_add(n as u64, Ordering::Relaxed);
            rest = &rest[n..];
        }
    }
}

/// Stores one trace message holding a prefix of `events` (at least one); returns how many.
fn write_batch(store: &Store, host: std::net::SocketAddr, events: &[Event]) -> usize {
    let mut body = String::new();
    let mut ids: BTreeSet<&str> = BTreeSet::new();
    let mut key_bytes = 0;
    let mut taken = 0;
    for e in events {
        if !ids.contains(e.msg_id.as_str()) {
            if key_bytes + e.msg_id.len() + 1 > MAX_KEY_BYTES && taken > 0 {
                break;
            }
            key_bytes += e.msg_id.len() + 1;
            ids.insert(&e.msg_id);
        }
        e.encode(&mut body);
        taken += 1;
    }
    let keys_value = ids.into_iter().collect::<Vec<_>>().join(" ");
    let props = properties::encode([(keys::KEYS, keys_value.as_str())]);
    let now = super::now_ms();
    let draft = RecordDraft {
        topic: TRACE_TOPIC,
        queue_id: 0,
        flag: 0,
        sys_flag: 0,
        born_timestamp: now,
        born_host: host,
        store_host: host,
        reconsume_times: 0,
        prepared_transaction_offset: 0,
        body: body.as_bytes(),
        properties: &props,
    };
    if let Err(e) = store.put(&draft) {
        warn!(error = %e, events = taken, "writing broker trace events failed; they are lost");
    }
    taken
}

/// Writes batches until `token` is cancelled, then the rest.
pub async fn run(
    recorder: Arc<Recorder>,
    store: Store,
    host: std::net::SocketAddr,
    token: CancellationToken,
) {
    loop {
        tokio::select! {
            () = token.cancelled() => break,
            () = recorder.due.notified() => {}
            () = tokio::time::sleep(INTERVAL) => {}
        }
        recorder.flush(&store, host);
    }
    recorder.flush(&store, host);
}
