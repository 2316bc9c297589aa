//! Commit log behaviour on real files (both I/O modes) and on the simulated disk: round trips, rolling,
//! queue offsets, recovery from clean and torn logs, file validation, retention primitives.

use crate::log_support;

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use ferromq_model::record::{
    self, Entry, SYSFLAG_TRANSACTION_PREPARED, SYSFLAG_TRANSACTION_ROLLBACK,
};
use ferromq_store::commit_log::{segment_name, CommitLog};
use ferromq_store::config::IoMode;
use ferromq_store::error::StoreError;
use ferromq_store::io::FileLayer;
use ferromq_store::segment::DiskLayer;
use ferromq_store::sim::SimLayer;
use log_support::{body_at, body_of, clock, config, draft, open_recovered};
use proptest::prelude::*;

const SEG: u64 = 64 * 1024;

fn layers() -> Vec<(&'static str, Arc<dyn FileLayer>)> {
    vec![
        ("pwrite", Arc::new(DiskLayer::new(IoMode::Pwrite))),
        ("mmap", Arc::new(DiskLayer::new(IoMode::Mmap))),
        ("sim", Arc::new(SimLayer::new())),
    ]
}

fn seg_path(root: &Path, base: u64) -> std::path::PathBuf {
    root.join("commitlog").join(segment_name(base))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    /// Random batches of random sizes read back identical, each batch contiguous in one segment, and
    /// survive a clean reopen with the same offsets.
    #[test]
    fn appends_round_trip_and_survive_reopen(batches in prop::collection::vec(1usize..6, 1..40), seed in any::<u64>()) {
        for (name, layer) in layers() {
            let dir = tempfile::tempdir().expect("tempdir");
            let cfg = config(dir.path(), SEG);
            let (log, _) = open_recovered(&cfg, layer.clone());
            let mut written = Vec::new();
            let mut id = seed;
            for n in &batches {
                let bodies: Vec<Vec<u8>> = (0..*n).map(|_| { id += 1; body_of(id, 9000) }).collect();
                let drafts: Vec<_> = bodies.iter().map(|b| draft("T", 0, b)).collect();
                let out = log.append(&drafts).expect("append");
                let first = out.records[0].physical_offset;
                prop_assert_eq!(first / SEG, (out.end_offset - 1) / SEG, "{}: batch spans segments", name);
                let mut at = first;
                for (r, b) in out.records.iter().zip(bodies) {
                    prop_assert_eq!(r.physical_offset, at);
                    at += u64::from(r.size);
                    written.push((r.physical_offset, r.size, b));
                }
                prop_assert_eq!(at, out.end_offset);
            }
            for (off, size, body) in &written {
                prop_assert_eq!(&body_at(&log, *off, *size), body);
            }
            let end = log.written_offset();
            drop(log);
            let (log, seen) = open_recovered(&cfg, layer);
            prop_assert_eq!(log.written_offset(), end, "{}", name);
            let expect: Vec<(u64, Vec<u8>)> = written.into_iter().map(|(o, _, b)| (o, b)).collect();
            prop_assert_eq!(seen, expect);
        }
    }
}

#[test]
fn rolls_with_blank_markers_and_reads_stay_in_one_segment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(dir.path(), SEG);
    let (log, _) = open_recovered(&cfg, Arc::new(DiskLayer::new(IoMode::Pwrite)));
    let body = vec![7u8; 10_000];
    let mut ends = Vec::new();
    for _ in 0..20 {
        ends.push(log.append(&[draft("T", 1, &body)]).expect("append"));
    }
    assert!(log.segment_bases().len() >= 3);
    assert_eq!(log.segment_bases()[1], SEG);
    // The first segment holds 6 records and ends with a blank marker covering the rest.
    let last_in_first = ends
        .iter()
        .rev()
        .find(|o| o.end_offset <= SEG)
        .expect("some")
        .end_offset;
    let chunk = log
        .read_chunk(last_in_first, 1 << 20, log.written_offset())
        .expect("chunk");
    assert_eq!(
        chunk.len() as u64,
        SEG - last_in_first,
        "a chunk stops at the segment end"
    );
    assert_eq!(
        record::read(&chunk, true),
        Ok(Entry::Blank {
            remaining: (SEG - last_in_first) as u32
        })
    );
    assert!(matches!(
        log.read(last_in_first, (SEG - last_in_first + 1) as usize),
        Err(StoreError::OffsetOutOfRange { .. })
    ));
    assert!(log
        .read_chunk(log.written_offset(), 100, log.written_offset())
        .expect("empty")
        .is_empty());
    assert!(matches!(
        log.read(log.written_offset(), 1),
        Err(StoreError::OffsetOutOfRange { .. })
    ));
    // Queue offsets continue across segments.
    let q: Vec<u64> = ends.iter().map(|o| o.records[0].queue_offset).collect();
    assert_eq!(q, (0..20).collect::<Vec<_>>());
}

#[test]
fn oversized_batches_and_records_are_refused_without_changing_the_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(dir.path(), SEG);
    let (log, _) = open_recovered(&cfg, Arc::new(DiskLayer::new(IoMode::Mmap)));
    let big = vec![0u8; 17 * 1024];
    assert!(matches!(
        log.append(&[draft("T", 0, &big)]),
        Err(StoreError::BadMessage(_))
    ));
    let body = vec![0u8; 15 * 1024];
    let batch: Vec<_> = (0..5).map(|_| draft("T", 0, &body)).collect();
    assert!(
        matches!(log.append(&batch), Err(StoreError::BadMessage(_))),
        "batch over one segment"
    );
    assert_eq!(log.written_offset(), 0);
    let out = log.append(&[draft("T", 0, b"ok")]).expect("append");
    assert_eq!(
        out.records[0].queue_offset, 0,
        "refused appends took no queue offsets"
    );
}

#[test]
fn queue_offsets_are_dense_per_queue_and_skip_prepared_transactions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(dir.path(), SEG);
    let (log, _) = open_recovered(&cfg, Arc::new(SimLayer::new()));
    let mut prepared = draft("T", 0, b"half");
    prepared.sys_flag = SYSFLAG_TRANSACTION_PREPARED;
    let mut rolled_back = draft("T", 0, b"rb");
    rolled_back.sys_flag = SYSFLAG_TRANSACTION_ROLLBACK;
    let batch = [
        draft("T", 0, b"a"),
        prepared,
        draft("T", 1, b"b"),
        draft("U", 0, b"c"),
        rolled_back,
        draft("T", 0, b"d"),
    ];
    let out = log.append(&batch).expect("append");
    let q: Vec<u64> = out.records.iter().map(|r| r.queue_offset).collect();
    assert_eq!(q, vec![0, 0, 0, 0, 0, 1]);
    let out = log
        .append(&[draft("T", 0, b"e"), draft("T", 1, b"f")])
        .expect("append");
    assert_eq!(
        out.records
            .iter()
            .map(|r| r.queue_offset)
            .collect::<Vec<_>>(),
        vec![2, 1]
    );
    // The stored record carries the offsets and the store timestamp.
    let r = out.records[0];
    let bytes = log.read(r.physical_offset, r.size as usize).expect("read");
    let Ok(Entry::Message(v)) = record::read(&bytes, true) else {
        panic!("record")
    };
    assert_eq!((v.queue_offset, v.store_timestamp), (2, 1_000));

    log.forget_topic("T");
    assert_eq!(
        log.append(&[draft("T", 0, b"g")]).expect("append").records[0].queue_offset,
        0
    );
    log.set_next_queue_offsets(HashMap::from([(("U".to_owned(), 0), 40)]));
    assert_eq!(
        log.append(&[draft("U", 0, b"h")]).expect("append").records[0].queue_offset,
        40
    );
}

/// Appends `n` records of varied sizes; returns (offset, size, body).
fn fill(log: &CommitLog, n: u64) -> Vec<(u64, u32, Vec<u8>)> {
    (0..n)
        .map(|i| {
            let body = body_of(i, 6000);
            let out = log.append(&[draft("T", 0, &body)]).expect("append");
            (out.records[0].physical_offset, out.records[0].size, body)
        })
        .collect()
}

fn damage(root: &Path, offset: u64, bytes: &[u8]) {
    let base = offset / SEG * SEG;
    let f = OpenOptions::new()
        .write(true)
        .open(seg_path(root, base))
        .expect("open segment");
    f.write_all_at(bytes, offset - base).expect("damage");
}

#[test]
fn torn_tails_are_cut_to_the_last_valid_record() {
    // How to damage the last record, given its size: offset within it and the bytes to write there.
    type Damage = fn(u32) -> (u64, Vec<u8>);
    let cases: [(&str, Damage); 4] = [
        ("cut", |size| {
            (u64::from(size) / 2, vec![0u8; size as usize / 2])
        }),
        ("garbage", |size| (0, vec![0xAB; size as usize])),
        ("flipped body byte", |size| {
            (u64::from(size) - 20, vec![0xFF])
        }),
        ("zero header", |_| (0, vec![0u8; 8])),
    ];
    for mode in [IoMode::Pwrite, IoMode::Mmap] {
        for (name, how) in cases {
            let dir = tempfile::tempdir().expect("tempdir");
            let cfg = config(dir.path(), SEG);
            let layer: Arc<dyn FileLayer> = Arc::new(DiskLayer::new(mode));
            let (log, _) = open_recovered(&cfg, layer.clone());
            let recs = fill(&log, 60);
            drop(log);
            let &(last_off, last_size, _) = recs.last().expect("records");
            let (at, bytes) = how(last_size);
            damage(dir.path(), last_off + at, &bytes);
            let (log, seen) = open_recovered(&cfg, layer.clone());
            assert_eq!(log.written_offset(), last_off, "{name}");
            assert_eq!(seen.len(), recs.len() - 1, "{name}");
            // New appends continue at the cut and read back; so does everything before it.
            let out = log.append(&[draft("T", 0, b"after")]).expect("append");
            assert_eq!(out.records[0].physical_offset, last_off);
            assert_eq!(body_at(&log, last_off, out.records[0].size), b"after");
            for (off, size, body) in &recs[..recs.len() - 1] {
                assert_eq!(&body_at(&log, *off, *size), body, "{name}");
            }
        }
    }
}

#[test]
fn corruption_mid_log_deletes_later_segments() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(dir.path(), SEG);
    let layer: Arc<dyn FileLayer> = Arc::new(DiskLayer::new(IoMode::Pwrite));
    let (log, _) = open_recovered(&cfg, layer.clone());
    let recs = fill(&log, 100);
    assert!(log.segment_bases().len() >= 4);
    drop(log);
    let (victim, ..) = recs
        .iter()
        .find(|r| r.0 > 20_000)
        .expect("a record in segment 0");
    damage(dir.path(), victim + 30, &[0x55; 4]); // inside the physical-offset field
    let log = CommitLog::open(&cfg, layer.clone(), clock(1)).expect("open");
    let report = log.recover(0, &mut |_, _| {}).expect("recover");
    assert_eq!(report.valid_end, *victim);
    assert!(report.truncated_bytes >= SEG * 3);
    assert_eq!(log.segment_bases(), vec![0]);
    assert_eq!(
        layer
            .list(&dir.path().join("commitlog"))
            .expect("list")
            .len(),
        1
    );
    let out = log.append(&[draft("T", 0, b"x")]).expect("append");
    assert_eq!(out.records[0].physical_offset, *victim);
}

#[test]
fn recovery_from_a_mid_log_offset_replays_only_what_follows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(dir.path(), SEG);
    let layer: Arc<dyn FileLayer> = Arc::new(SimLayer::new());
    let (log, _) = open_recovered(&cfg, layer.clone());
    let recs = fill(&log, 80);
    let end = log.written_offset();
    drop(log);
    for k in [0usize, 17, 40, 79] {
        let log = CommitLog::open(&cfg, layer.clone(), clock(1)).expect("open");
        let mut seen = Vec::new();
        let report = log
            .recover(recs[k].0, &mut |off, _| seen.push(off))
            .expect("recover");
        assert_eq!(report.valid_end, end);
        assert_eq!(report.truncated_bytes, 0);
        assert_eq!(seen, recs[k..].iter().map(|r| r.0).collect::<Vec<_>>());
    }
    // Past the end of the files: the last segment is rescanned; below the oldest: from the oldest.
    let log = CommitLog::open(&cfg, layer.clone(), clock(1)).expect("open");
    let last_base = *log.segment_bases().last().expect("segments");
    let mut seen = Vec::new();
    log.recover(u64::MAX / 2, &mut |off, _| seen.push(off))
        .expect("recover");
    assert_eq!(
        seen,
        recs.iter()
            .map(|r| r.0)
            .filter(|&o| o >= last_base)
            .collect::<Vec<_>>()
    );
    assert_eq!(log.written_offset(), end);
}

#[test]
fn foreign_names_wrong_sizes_and_gaps_are_typed_errors() {
    let layer: Arc<dyn FileLayer> = Arc::new(DiskLayer::new(IoMode::Pwrite));
    let check = |setup: &dyn Fn(&Path), what: &str| {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = config(dir.path(), SEG);
        let (log, _) = open_recovered(&cfg, layer.clone());
        fill(&log, 60);
        assert!(log.segment_bases().len() >= 3);
        drop(log);
        setup(dir.path());
        match CommitLog::open(&cfg, layer.clone(), clock(1)) {
            Err(StoreError::ForeignFile { detail, .. }) => {
                assert!(detail.contains(what), "{detail}")
            }
            other => panic!("expected ForeignFile for {what}, got {other:?}"),
        }
    };
    check(
        &|root| std::fs::write(root.join("commitlog/notes.txt"), b"x").expect("write"),
        "20 digits",
    );
    check(
        &|root| std::fs::write(root.join("commitlog/00000000000000000007"), b"x").expect("write"),
        "multiple",
    );
    check(
        &|root| {
            OpenOptions::new()
                .write(true)
                .open(seg_path(root, 0))
                .expect("open")
                .set_len(1000)
                .expect("cut")
        },
        "bytes but commit_log_segment_bytes",
    );
    check(
        &|root| std::fs::remove_file(seg_path(root, SEG)).expect("remove"),
        "missing",
    );
    // A different configured size is refused the same way.
    let dir = tempfile::tempdir().expect("tempdir");
    let (log, _) = open_recovered(&config(dir.path(), SEG), layer.clone());
    fill(&log, 3);
    drop(log);
    let err =
        CommitLog::open(&config(dir.path(), 2 * SEG), layer.clone(), clock(1)).expect_err("size");
    assert!(matches!(err, StoreError::ForeignFile { .. }));
}

#[test]
fn oldest_segments_are_removed_with_their_timestamps_known() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(dir.path(), SEG);
    let (log, _) = open_recovered(&cfg, Arc::new(DiskLayer::new(IoMode::Mmap)));
    let recs = fill(&log, 60);
    let bases = log.segment_bases();
    assert!(bases.len() >= 3);
    assert_eq!(log.first_store_timestamp(0), Some(1_000));
    assert_eq!(log.first_store_timestamp(7), None);
    assert_eq!(log.remove_oldest_segment().expect("remove"), Some(0));
    assert_eq!(log.min_offset(), SEG);
    assert!(matches!(
        log.read(recs[0].0, 10),
        Err(StoreError::OffsetOutOfRange { .. })
    ));
    assert!(!seg_path(dir.path(), 0).exists());
    while log.segment_bases().len() > 1 {
        log.remove_oldest_segment().expect("remove");
    }
    assert_eq!(
        log.remove_oldest_segment().expect("keeps the active one"),
        None
    );
    let last = recs.last().expect("records");
    assert_eq!(body_at(&log, last.0, last.1), last.2);
    drop(log);
    let (log, seen) = open_recovered(&cfg, Arc::new(DiskLayer::new(IoMode::Mmap)));
    assert_eq!(log.min_offset(), *bases.last().expect("bases"));
    assert_eq!(seen.last().map(|s| s.0), Some(last.0));
}
