//! Group commit, power loss, full disks and failed syncs, on the simulated disk; concurrent appenders
//! on real files.

use crate::log_support;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::mpsc;
use std::sync::Arc;

use ferromq_model::record;
use ferromq_store::config::{FlushMode, IoMode, StoreConfig};
use ferromq_store::error::StoreError;
use ferromq_store::flush::Flusher;
use ferromq_store::io::FileLayer;
use ferromq_store::segment::DiskLayer;
use ferromq_store::sim::SimLayer;
use log_support::{body_at, body_of, config, draft, open_recovered};
use parking_lot::Mutex;
use proptest::prelude::*;

const SEG: u64 = 64 * 1024;

fn sim_config(mode: FlushMode) -> StoreConfig {
    StoreConfig {
        flush_mode: mode,
        flush_interval_ms: 1,
        flush_min_pages: 1,
        ..config(Path::new("/store"), SEG)
    }
}

fn no_report() -> Arc<dyn Fn(u64) + Send + Sync> {
    Arc::new(|_| {})
}

/// A record as (physical offset, body CRC).
type Written = (u64, u32);

/// Appends `batches` (size, wait for durability?) then cuts the power; returns (all records written in
/// order, how many were acknowledged durable, what recovery found).
fn write_then_crash(
    mode: FlushMode,
    batches: &[(usize, bool)],
    crash_seed: u64,
) -> (Vec<Written>, usize, Vec<Written>) {
    let sim = SimLayer::new();
    let layer: Arc<dyn FileLayer> = Arc::new(sim.clone());
    let cfg = sim_config(mode);
    let (log, _) = open_recovered(&cfg, layer.clone());
    let log = Arc::new(log);
    let flusher = Flusher::start(log.clone(), &cfg, no_report());
    let mut all = Vec::new();
    let mut acked = 0;
    let mut id = crash_seed;
    for &(n, wait) in batches {
        let bodies: Vec<Vec<u8>> = (0..n)
            .map(|_| {
                id += 1;
                body_of(id, 7000)
            })
            .collect();
        let drafts: Vec<_> = bodies.iter().map(|b| draft("T", 0, b)).collect();
        let out = log.append(&drafts).expect("append");
        all.extend(
            out.records
                .iter()
                .map(|r| r.physical_offset)
                .zip(bodies.iter().map(|b| record::body_crc(b))),
        );
        if wait {
            flusher.durable(out.end_offset, 1).wait().expect("durable");
            acked = all.len();
        }
    }
    sim.crash(crash_seed);
    // The flusher's final sync goes to the dead disk and fails; that is the point.
    drop(flusher);
    drop(log);
    // `sim` was the layer crashed, so it belongs to the new boot; `layer` is from before the cut.
    let (_, seen) = open_recovered(&cfg, Arc::new(sim.clone()));
    (
        all,
        acked,
        seen.into_iter()
            .map(|(o, b)| (o, record::body_crc(&b)))
            .collect(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// SYNC_FLUSH: every acknowledged append survives any power loss, and what survives is a prefix.
    #[test]
    fn acknowledged_appends_survive_power_loss(
        batches in prop::collection::vec((1usize..4, any::<bool>()), 1..40),
        crash_seed in any::<u64>(),
    ) {
        let (all, acked, seen) = write_then_crash(FlushMode::SyncFlush, &batches, crash_seed);
        prop_assert!(seen.len() >= acked, "lost acknowledged records: {} < {}", seen.len(), acked);
        prop_assert_eq!(&all[..seen.len()], &seen[..]);
    }

    /// ASYNC_FLUSH promises nothing about the tail, but recovery still yields a prefix of the log.
    #[test]
    fn async_flush_recovers_a_prefix(
        batches in prop::collection::vec((1usize..4, Just(false)), 1..40),
        crash_seed in any::<u64>(),
    ) {
        let (all, _, seen) = write_then_crash(FlushMode::AsyncFlush, &batches, crash_seed);
        prop_assert!(seen.len() <= all.len());
        prop_assert_eq!(&all[..seen.len()], &seen[..]);
    }
}

#[test]
fn a_full_disk_is_disk_full_and_the_log_stays_consistent() {
    let sim = SimLayer::new();
    let layer: Arc<dyn FileLayer> = Arc::new(sim.clone());
    let cfg = sim_config(FlushMode::SyncFlush);
    let (log, _) = open_recovered(&cfg, layer.clone());
    log.append(&[draft("T", 0, b"first")]).expect("append");
    sim.set_capacity(sim.used_bytes() + SEG + 100);
    let body = vec![3u8; 9000];
    let mut ok = Vec::new();
    let err = loop {
        match log.append(&[draft("T", 0, &body)]) {
            Ok(out) => ok.push(out.records[0]),
            Err(e) => break e,
        }
    };
    assert!(matches!(err, StoreError::DiskFull { .. }), "{err:?}");
    assert_eq!(log.segment_bases().len(), 2);
    // Under SYNC_FLUSH appends are staged until the sync that acknowledges them writes them.
    log.sync().expect("sync still works");
    let written = log.written_offset();
    assert!(matches!(
        log.append(&[draft("T", 0, &body)]),
        Err(StoreError::DiskFull { .. })
    ));
    assert_eq!(log.written_offset(), written);
    log.sync().expect("sync still works");
    assert_eq!(
        log.written_offset(),
        written,
        "the refused append left nothing"
    );
    for r in &ok {
        assert_eq!(body_at(&log, r.physical_offset, r.size), body);
    }
    // Space comes back: appends resume with the next queue offset and a new segment.
    sim.set_capacity(u64::MAX);
    let out = log.append(&[draft("T", 0, &body)]).expect("append");
    assert_eq!(
        out.records[0].queue_offset,
        ok.last().expect("some").queue_offset + 1
    );
    assert_eq!(out.records[0].physical_offset, 2 * SEG);
    drop(log);
    let (log, seen) = open_recovered(&cfg, layer);
    assert_eq!(seen.len(), ok.len() + 2);
    assert_eq!(log.written_offset(), out.end_offset);
}

#[test]
fn a_failed_sync_poisons_the_log_for_good() {
    let sim = SimLayer::new();
    let layer: Arc<dyn FileLayer> = Arc::new(sim.clone());
    let cfg = sim_config(FlushMode::SyncFlush);
    let (log, _) = open_recovered(&cfg, layer);
    let log = Arc::new(log);
    let flusher = Flusher::start(log.clone(), &cfg, no_report());
    let out = log.append(&[draft("T", 0, b"one")]).expect("append");
    flusher.durable(out.end_offset, 1).wait().expect("durable");
    sim.fail_next_sync();
    let out = log.append(&[draft("T", 0, b"two")]).expect("append");
    assert!(matches!(
        flusher.durable(out.end_offset, 1).wait(),
        Err(StoreError::Poisoned(_))
    ));
    assert!(flusher.poisoned().is_some());
    assert!(matches!(
        log.append(&[draft("T", 0, b"three")]),
        Err(StoreError::Poisoned(_))
    ));
    assert!(matches!(
        flusher.durable(out.end_offset, 1).wait(),
        Err(StoreError::Poisoned(_))
    ));
    assert!(
        matches!(log.sync(), Err(StoreError::Poisoned(_))),
        "never retried"
    );
    assert!(matches!(flusher.shutdown(), Err(StoreError::Poisoned(_))));
}

#[test]
fn concurrent_appenders_get_dense_queues_and_readable_records() {
    const THREADS: u64 = 8;
    const EACH: u64 = 300;
    for mode in [IoMode::Pwrite, IoMode::Mmap] {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = StoreConfig {
            flush_mode: FlushMode::SyncFlush,
            ..config(dir.path(), 256 * 1024)
        };
        let (log, _) = open_recovered(&cfg, Arc::new(DiskLayer::new(mode)));
        let log = Arc::new(log);
        let reports = Arc::new(Mutex::new(Vec::new()));
        let r = reports.clone();
        let flusher = Arc::new(Flusher::start(
            log.clone(),
            &cfg,
            Arc::new(move |f| r.lock().push(f)),
        ));
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let (log, flusher) = (log.clone(), flusher.clone());
                std::thread::spawn(move || {
                    let mut mine = Vec::new();
                    for i in 0..EACH {
                        let id = t * 1_000_000 + i;
                        let body = body_of(id, 3000);
                        let queue = u32::try_from(id % 3).expect("small");
                        let out = log
                            .append(&[draft("C", queue, &body), draft("D", 0, &body)])
                            .expect("append");
                        if i % 4 == 0 {
                            flusher.durable(out.end_offset, 1).wait().expect("durable");
                        }
                        mine.extend(out.records.iter().map(|r| (*r, body.clone())));
                    }
                    mine
                })
            })
            .collect();
        let all: Vec<_> = handles
            .into_iter()
            .flat_map(|h| h.join().expect("appender"))
            .collect();
        Arc::try_unwrap(flusher)
            .expect("sole owner")
            .shutdown()
            .expect("shutdown");
        assert_eq!(log.flushed_offset(), log.written_offset());
        let reports = reports.lock();
        assert!(
            reports.windows(2).all(|w| w[0] < w[1]),
            "on_flushed only moves forward"
        );
        assert_eq!(reports.last().copied(), Some(log.written_offset()));

        let mut by_offset = BTreeMap::new();
        for (r, body) in &all {
            assert_eq!(&body_at(&log, r.physical_offset, r.size), body);
            by_offset.insert(r.physical_offset, r.size);
        }
        let mut prev_end = 0;
        for (off, size) in &by_offset {
            assert!(*off >= prev_end, "records overlap at {off}");
            prev_end = off + u64::from(*size);
        }
        // Each record's queue offset, grouped by the queue the record went to (read back from disk).
        let mut queues: BTreeMap<(String, u32), Vec<u64>> = BTreeMap::new();
        for (r, _) in &all {
            let bytes = log.read(r.physical_offset, r.size as usize).expect("read");
            let Ok(ferromq_model::record::Entry::Message(v)) =
                ferromq_model::record::read(&bytes, true)
            else {
                panic!("record")
            };
            queues
                .entry((v.topic.to_owned(), v.queue_id))
                .or_default()
                .push(v.queue_offset);
        }
        for (q, mut offsets) in queues {
            offsets.sort_unstable();
            assert_eq!(
                offsets,
                (0..offsets.len() as u64).collect::<Vec<_>>(),
                "{q:?} not dense"
            );
        }
    }
}

#[test]
fn async_flush_syncs_in_the_background_and_at_shutdown() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = StoreConfig {
        flush_mode: FlushMode::AsyncFlush,
        flush_interval_ms: 1,
        flush_min_pages: 0,
        ..config(dir.path(), SEG)
    };
    let (log, _) = open_recovered(&cfg, Arc::new(DiskLayer::new(IoMode::Pwrite)));
    let log = Arc::new(log);
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let flusher = Flusher::start(
        log.clone(),
        &cfg,
        Arc::new(move |f| {
            let _ = tx.lock().send(f);
        }),
    );
    let out = log.append(&[draft("T", 0, b"x")]).expect("append");
    flusher
        .durable(out.end_offset, 1)
        .wait()
        .expect("ASYNC_FLUSH does not wait");
    while rx.recv().expect("flusher alive") < out.end_offset {}
    let out = log.append(&[draft("T", 0, b"y")]).expect("append");
    flusher.shutdown().expect("shutdown");
    assert_eq!(log.flushed_offset(), out.end_offset);

    // Dropped without shutdown: the thread still stops (and syncs).
    let flusher = Flusher::start(log.clone(), &cfg, no_report());
    let out = log.append(&[draft("T", 0, b"z")]).expect("append");
    drop(flusher);
    assert_eq!(log.flushed_offset(), out.end_offset);
    log.append(&[draft("T", 0, b"w")]).expect("append");
}
