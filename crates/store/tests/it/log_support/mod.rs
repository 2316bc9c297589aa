//! Helpers shared by the commit-log test files.
#![allow(dead_code)] // Each test binary uses a different subset.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use ferromq_model::record::{self, Entry, RecordDraft};
use ferromq_store::clock::Clock;
use ferromq_store::commit_log::CommitLog;
use ferromq_store::config::StoreConfig;
use ferromq_store::io::FileLayer;

/// A clock tests move by hand.
#[derive(Debug, Default)]
pub struct ManualClock(pub AtomicI64);

impl Clock for ManualClock {
    fn now_millis(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

pub fn clock(at: i64) -> Arc<dyn Clock> {
    Arc::new(ManualClock(AtomicI64::new(at)))
}

pub fn config(root: &Path, segment_bytes: u64) -> StoreConfig {
    StoreConfig {
        commit_log_segment_bytes: segment_bytes,
        max_message_bytes: 16 * 1024,
        ..StoreConfig::new(root)
    }
}

pub fn host() -> SocketAddr {
    "127.0.0.1:10911".parse().expect("addr")
}

/// A draft whose body is `body`.
pub fn draft<'a>(topic: &'a str, queue_id: u32, body: &'a [u8]) -> RecordDraft<'a> {
    RecordDraft {
        topic,
        queue_id,
        flag: 0,
        sys_flag: 0,
        born_timestamp: 1,
        born_host: host(),
        store_host: host(),
        reconsume_times: 0,
        prepared_transaction_offset: 0,
        body,
        properties: "",
    }
}

/// Deterministic body for message `id`: length and bytes depend on it.
pub fn body_of(id: u64, max: usize) -> Vec<u8> {
    let len = usize::try_from(id.wrapping_mul(2_654_435_761) % max as u64).expect("small") + 1;
    (0..len)
        .map(|i| (id as usize).wrapping_mul(31).wrapping_add(i) as u8)
        .collect()
}

/// Opens and recovers from 0, collecting (offset, body) of every record scanned.
pub fn open_recovered(
    cfg: &StoreConfig,
    layer: Arc<dyn FileLayer>,
) -> (CommitLog, Vec<(u64, Vec<u8>)>) {
    let log = CommitLog::open(cfg, layer, clock(1_000)).expect("open");
    let mut seen = Vec::new();
    log.recover(0, &mut |off, rec| seen.push((off, rec.body.to_vec())))
        .expect("recover");
    (log, seen)
}

/// The body of the record at `offset`, read back through `read`.
pub fn body_at(log: &CommitLog, offset: u64, size: u32) -> Vec<u8> {
    let bytes = log.read(offset, size as usize).expect("read");
    match record::read(&bytes, true).expect("valid record") {
        Entry::Message(v) => {
            assert_eq!(v.physical_offset, offset);
            v.body.to_vec()
        }
        Entry::Blank { .. } => panic!("blank at {offset}"),
    }
}
