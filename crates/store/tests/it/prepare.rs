//! Segment preparation: the next segment is made (and warmed) ahead of the roll, a crash during or
//! after its preparation leaves a log that opens and recovers, and a prepared segment nobody used does
//! not confuse recovery.

use crate::log_support;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferromq_store::commit_log::{segment_name, CommitLog, Preparer, Warming};
use ferromq_store::config::IoMode;
use ferromq_store::io::{FileKind, FileLayer};
use ferromq_store::segment::DiskLayer;
use ferromq_store::sim::SimLayer;
use log_support::{body_of, clock, config, draft, open_recovered};

const SEG: u64 = 64 * 1024;

fn names(layer: &dyn FileLayer, root: &Path) -> Vec<String> {
    layer.list(&root.join("commitlog")).expect("list")
}

/// Waits (bounded) until `cond` holds; the preparer works on its own thread.
fn eventually(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::yield_now();
    }
}

fn append_some(log: &CommitLog, from: u64, n: u64) {
    for id in from..from + n {
        let body = body_of(id, 3000);
        log.append(&[draft("T", 0, &body)]).expect("append");
    }
}

#[test]
fn next_segment_is_prepared_and_taken_at_the_roll() {
    for warm in [Warming::Off, Warming::Synced, Warming::Cached] {
        let layer = SimLayer::new();
        let root = Path::new("/store");
        let cfg = config(root, SEG);
        let (log, _) = open_recovered(&cfg, Arc::new(layer.clone()));
        let log = Arc::new(log);
        let prep = Preparer::start(log.clone(), warm).expect("thread");
        // An empty log: the first segment is prepared before the first append needs it.
        eventually("the first segment", || names(&layer, root).len() == 1);
        // Half full: the next one is due.
        while log.written_offset() < SEG / 2 {
            append_some(&log, 0, 1);
        }
        eventually("the second segment", || names(&layer, root).len() == 2);
        assert_eq!(log.segment_bases(), vec![0], "prepared but not listed yet");
        // Fill past the first roll: the prepared file becomes the active one, the next is prepared.
        while log.written_offset() < SEG + SEG / 2 {
            append_some(&log, 100, 1);
        }
        assert_eq!(log.segment_bases(), vec![0, SEG]);
        eventually("the third segment", || names(&layer, root).len() == 3);
        log.sync().expect("sync");
        prep.shutdown();
        let end = log.written_offset();
        drop(log);
        // Reopen: the unused prepared segment is removed; everything written is there.
        let (log, _) = open_recovered(&cfg, Arc::new(layer.clone()));
        assert_eq!(log.written_offset(), end);
        assert_eq!(log.segment_bases(), vec![0, SEG]);
        assert_eq!(
            names(&layer, root),
            vec![segment_name(0), segment_name(SEG)]
        );
    }
}

#[test]
fn a_crash_mid_preparation_recovers_every_synced_record() {
    for seed in 0..16u64 {
        let layer = SimLayer::new();
        let root = Path::new("/store");
        let cfg = config(root, SEG);
        let (log, _) = open_recovered(&cfg, Arc::new(layer.clone()));
        let log = Arc::new(log);
        let prep = Preparer::start(log.clone(), Warming::Synced).expect("thread");
        append_some(&log, 0, 10 + seed * 3);
        let synced = log.sync().expect("sync");
        append_some(&log, 1000, seed % 4);
        // Power cut while the preparer may be creating or zeroing the next segment.
        layer.crash(seed);
        prep.shutdown();
        drop(log);
        let (log, _) = open_recovered(&cfg, Arc::new(layer.clone()));
        assert!(
            log.written_offset() >= synced,
            "seed {seed}: lost synced records"
        );
        let bases = log.segment_bases();
        let listed: Vec<String> = bases.iter().map(|b| segment_name(*b)).collect();
        assert_eq!(names(&layer, root), listed, "seed {seed}: leftover files");
        append_some(&log, 2000, 3);
    }
}

#[test]
fn a_short_zero_last_segment_from_an_interrupted_creation_is_removed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let layer: Arc<dyn FileLayer> = Arc::new(DiskLayer::new(IoMode::Pwrite));
    let cfg = config(dir.path(), SEG);
    let (log, _) = open_recovered(&cfg, layer.clone());
    append_some(&log, 0, 4);
    log.sync().expect("sync");
    let end = log.written_offset();
    drop(log);
    // What a crash during fallocate of the next segment can leave: a short file of zeros.
    let next = dir.path().join("commitlog").join(segment_name(SEG));
    drop(
        layer
            .create(&next, SEG / 4, FileKind::CommitLog)
            .expect("create"),
    );
    let (log, _) = open_recovered(&cfg, layer.clone());
    assert_eq!(log.written_offset(), end);
    assert_eq!(log.segment_bases(), vec![0]);
    assert!(!next.exists());
    // A short last segment holding data is still refused.
    drop(log);
    let f = layer
        .create(&next, SEG / 4, FileKind::CommitLog)
        .expect("create");
    f.write_at(0, b"data").expect("write");
    drop(f);
    assert!(CommitLog::open(&cfg, layer, clock(1)).is_err());
}
