//! Consume-queue behaviour on the simulated disk and on a real temp folder.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::*;
use crate::config::IoMode;
use crate::error::StoreError;
use crate::io::{FileKind, FileLayer};
use crate::segment::DiskLayer;
use crate::sim::SimLayer;

mod model;
mod open_files;

const PER_FILE: u64 = 10;

/// Entry `i` of a test queue: records of 100 bytes laid end to end.
fn e(i: u64) -> CqEntry {
    CqEntry {
        physical_offset: i * 100,
        size: 100,
        tag_code: i64::try_from(i).unwrap_or(0) - 3,
    }
}

fn sim() -> (Arc<dyn FileLayer>, PathBuf) {
    (Arc::new(SimLayer::new()), PathBuf::from("/store"))
}

fn load(layer: &Arc<dyn FileLayer>, root: &Path) -> ConsumeQueues {
    ConsumeQueues::load(root, layer.clone(), PER_FILE, usize::MAX).expect("load")
}

fn fill(q: &ConsumeQueue, range: std::ops::Range<u64>) {
    for i in range {
        q.put(i, e(i)).expect("put");
    }
}

fn files_of(layer: &Arc<dyn FileLayer>, root: &Path, topic: &str, id: u32) -> Vec<String> {
    layer
        .list(&root.join("consumequeue").join(topic).join(id.to_string()))
        .expect("list")
}

#[test]
fn put_get_read_across_files() {
    let (layer, root) = sim();
    let cqs = load(&layer, &root);
    let q = cqs.get_or_create("T", 3).expect("create");
    assert_eq!(
        (
            q.min_offset(),
            q.max_offset(),
            q.last_physical_end().expect("end")
        ),
        (0, 0, 0)
    );
    fill(&q, 0..35);
    assert_eq!((q.min_offset(), q.max_offset()), (0, 35));
    assert_eq!(q.get(17).expect("get"), Some(e(17)));
    assert_eq!(q.get(35).expect("get"), None);
    let got = q.read(5, 20).expect("read");
    assert_eq!(got, (5..25).map(e).collect::<Vec<_>>());
    // Fewer at the end, none past it.
    assert_eq!(q.read(30, 100).expect("read").len(), 5);
    assert!(q.read(35, 10).expect("read").is_empty());
    assert_eq!(q.last_physical_end().expect("end"), 3500);
    assert_eq!(
        files_of(&layer, &root, "T", 3),
        [
            "00000000000000000000",
            "00000000000000000200",
            "00000000000000000400",
            "00000000000000000600"
        ]
    );
}

#[test]
fn reload_from_real_disk_keeps_bounds_and_entries() {
    let dir = tempfile::tempdir().expect("tempdir");
    let layer: Arc<dyn FileLayer> = Arc::new(DiskLayer::new(IoMode::Pwrite));
    {
        let cqs = load(&layer, dir.path());
        fill(
            &cqs.get_or_create("%RETRY%group|x", 0).expect("create"),
            0..23,
        );
        fill(&cqs.get_or_create("T", 1).expect("create"), 0..10);
        cqs.flush_all().expect("flush");
    }
    let cqs = load(&layer, dir.path());
    let q = cqs.get("%RETRY%group|x", 0).expect("loaded");
    assert_eq!((q.min_offset(), q.max_offset()), (0, 23));
    assert_eq!(
        q.read(0, 100).expect("read"),
        (0..23).map(e).collect::<Vec<_>>()
    );
    assert_eq!(q.last_physical_end().expect("end"), 2300);
    // A queue that exactly filled its file.
    let t = cqs.get("T", 1).expect("loaded");
    assert_eq!((t.min_offset(), t.max_offset()), (0, 10));
    let offsets = cqs.next_offsets();
    assert_eq!(offsets.get(&("T".to_owned(), 1)), Some(&10));
    assert_eq!(offsets.len(), 2);
    // Appending continues where it stopped.
    q.put(23, e(23)).expect("put");
    assert_eq!(q.max_offset(), 24);
}

#[test]
fn truncate_to_log_end_drops_the_lost_tail() {
    let (layer, root) = sim();
    let cqs = load(&layer, &root);
    let q = cqs.get_or_create("T", 0).expect("create");
    fill(&q, 0..27);
    q.truncate_to_log_end(2700).expect("no-op");
    assert_eq!(q.max_offset(), 27);
    // Record 14 ends at 1500: a log ending at 1450 keeps 0..14.
    q.truncate_to_log_end(1450).expect("truncate");
    assert_eq!(q.max_offset(), 14);
    assert_eq!(q.last_physical_end().expect("end"), 1400);
    assert_eq!(files_of(&layer, &root, "T", 0).len(), 2);
    assert!(q.get(14).expect("get").is_none());
    // The dropped tail is gone on disk too, so a reload agrees.
    q.flush().expect("flush");
    let again = load(&layer, &root);
    assert_eq!(again.get("T", 0).expect("q").max_offset(), 14);
    // Everything lost: the queue keeps its position.
    q.truncate_to_log_end(0).expect("truncate");
    assert_eq!(
        (
            q.min_offset(),
            q.max_offset(),
            q.last_physical_end().expect("end")
        ),
        (0, 0, 0)
    );
    fill(&q, 0..3);
    assert_eq!(q.read(0, 10).expect("read"), vec![e(0), e(1), e(2)]);
}

#[test]
fn redispatch_is_idempotent_and_overwrites_divergence() {
    let (layer, root) = sim();
    let cqs = load(&layer, &root);
    let q = cqs.get_or_create("T", 0).expect("create");
    fill(&q, 0..25);
    // Same entries again: nothing changes.
    fill(&q, 5..25);
    assert_eq!(q.max_offset(), 25);
    // A different entry at 12: overwritten, everything after dropped.
    let other = CqEntry {
        physical_offset: 99_999,
        size: 7,
        tag_code: 1,
    };
    q.put(12, other).expect("overwrite");
    assert_eq!(q.max_offset(), 13);
    assert_eq!(q.get(12).expect("get"), Some(other));
    assert_eq!(files_of(&layer, &root, "T", 0).len(), 2);
    // A gap is refused.
    let err = q.put(20, e(20)).expect_err("gap");
    assert!(
        matches!(err, StoreError::CorruptConsumeQueue { ref topic, queue_id: 0, .. } if topic == "T")
    );
    assert!(
        q.put(13, CqEntry { size: 0, ..e(13) }).is_err(),
        "size 0 is refused"
    );
}

#[test]
fn empty_queue_starts_at_the_first_put() {
    let (layer, root) = sim();
    let cqs = load(&layer, &root);
    let q = cqs.get_or_create("T", 0).expect("create");
    q.put(1234, e(1234)).expect("start mid-file");
    fill(&q, 1235..1250);
    assert_eq!((q.min_offset(), q.max_offset()), (1234, 1250));
    assert!(q.get(1233).expect("get").is_none());
    q.flush().expect("flush");
    let again = load(&layer, &root).get("T", 0).expect("q");
    assert_eq!((again.min_offset(), again.max_offset()), (1234, 1250));
    assert_eq!(
        again.read(1234, 3).expect("read"),
        vec![e(1234), e(1235), e(1236)]
    );
}

#[test]
fn offset_by_time_binary_searches_store_times() {
    let (layer, root) = sim();
    let cqs = load(&layer, &root);
    let q = cqs.get_or_create("T", 0).expect("create");
    fill(&q, 0..50);
    // Record i was stored at 1000 + 10 i; records below 500 are gone from the log.
    let store_time = |phys: u64, _size: u32| {
        (phys >= 500).then(|| 1000 + i64::try_from(phys / 100).unwrap_or(0) * 10)
    };
    assert_eq!(q.offset_by_time(1200, &store_time).expect("t"), 20);
    assert_eq!(q.offset_by_time(1201, &store_time).expect("t"), 21);
    assert_eq!(
        q.offset_by_time(5000, &store_time).expect("t"),
        50,
        "after everything: max"
    );
    assert_eq!(
        q.offset_by_time(0, &store_time).expect("t"),
        5,
        "unreadable records count as older"
    );
    q.delete_before_physical(0).expect("no-op");
    let all_readable =
        |phys: u64, _size: u32| Some(1000 + i64::try_from(phys / 100).unwrap_or(0) * 10);
    assert_eq!(
        q.offset_by_time(0, &all_readable).expect("t"),
        0,
        "before everything: min"
    );
}

#[test]
fn retention_deletes_whole_files_and_advances_min() {
    let (layer, root) = sim();
    let cqs = load(&layer, &root);
    let q = cqs.get_or_create("T", 0).expect("create");
    fill(&q, 0..35);
    // Records below 2,250 are gone: files 0 and 1 go, min moves to entry 23.
    q.delete_before_physical(2250).expect("retention");
    assert_eq!((q.min_offset(), q.max_offset()), (23, 35));
    assert_eq!(
        files_of(&layer, &root, "T", 0),
        ["00000000000000000400", "00000000000000000600"]
    );
    assert!(q.read(22, 5).expect("read").is_empty(), "below min");
    assert_eq!(q.read(23, 1).expect("read"), vec![e(23)]);
    // Everything gone: the last file stays so the queue keeps its max.
    q.delete_before_physical(1_000_000).expect("retention");
    assert_eq!((q.min_offset(), q.max_offset()), (35, 35));
    assert_eq!(files_of(&layer, &root, "T", 0), ["00000000000000000600"]);
    q.put(35, e(35)).expect("put continues");
    assert_eq!((q.min_offset(), q.max_offset()), (35, 36));
    // After a reload the min is recomputed from disk; re-applying retention restores it.
    q.flush().expect("flush");
    let again = load(&layer, &root).get("T", 0).expect("q");
    assert_eq!((again.min_offset(), again.max_offset()), (30, 36));
    again.delete_before_physical(3500).expect("retention");
    assert_eq!(again.min_offset(), 35);
}

#[test]
fn remove_topic_and_rebuild() {
    let (layer, root) = sim();
    let cqs = load(&layer, &root);
    let a0 = cqs.get_or_create("A", 0).expect("create");
    fill(&a0, 0..12);
    fill(&cqs.get_or_create("A", 1).expect("create"), 0..3);
    fill(&cqs.get_or_create("B", 0).expect("create"), 0..3);
    assert_eq!(cqs.queues_of("A").len(), 2);
    assert_eq!(cqs.all().len(), 3);
    cqs.remove_topic("A").expect("remove");
    assert!(cqs.get("A", 0).is_none());
    assert!(cqs.queues_of("A").is_empty());
    assert!(layer.list(&root.join("consumequeue")).expect("list") == ["B"]);
    // A stale handle does not resurrect the topic.
    a0.put(12, e(12)).expect("ignored");
    assert!(layer.list(&root.join("consumequeue")).expect("list") == ["B"]);

    let b = cqs.rebuild("B", 0).expect("rebuild");
    assert_eq!((b.min_offset(), b.max_offset()), (0, 0));
    assert!(files_of(&layer, &root, "B", 0).is_empty());
    b.put(2, e(2)).expect("restarts where the log says");
    assert_eq!(cqs.get("B", 0).expect("q").max_offset(), 3);
    assert!(cqs.get_or_create("../x", 0).is_err());
}

fn expect_foreign(layer: &Arc<dyn FileLayer>, root: &Path, path: &Path) {
    match ConsumeQueues::load(root, layer.clone(), PER_FILE, usize::MAX) {
        Err(StoreError::ForeignFile { path: p, .. }) => assert_eq!(p, path),
        other => panic!("expected ForeignFile for {}, got {other:?}", path.display()),
    }
}

fn expect_corrupt(layer: &Arc<dyn FileLayer>, root: &Path, needle: &str) {
    match ConsumeQueues::load(root, layer.clone(), PER_FILE, usize::MAX) {
        Err(StoreError::CorruptConsumeQueue {
            topic,
            queue_id: 0,
            detail,
        }) => {
            assert_eq!(topic, "T");
            assert!(
                detail.contains(needle),
                "{detail:?} should mention {needle:?}"
            );
        }
        other => panic!("expected CorruptConsumeQueue mentioning {needle:?}, got {other:?}"),
    }
}

#[test]
fn foreign_files_are_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    let layer: Arc<dyn FileLayer> = Arc::new(DiskLayer::new(IoMode::Pwrite));
    let qdir = root.join("consumequeue/T/0");
    std::fs::create_dir_all(&qdir).expect("mkdir");
    let stray = qdir.join("notes.txt");
    std::fs::write(&stray, b"hi").expect("write");
    expect_foreign(&layer, root, &stray);
    std::fs::remove_file(&stray).expect("rm");
    let misaligned = qdir.join("00000000000000000020");
    std::fs::write(&misaligned, [0u8; 200]).expect("write");
    expect_foreign(&layer, root, &misaligned);
    std::fs::remove_file(&misaligned).expect("rm");
    let bad_id = root.join("consumequeue/T/q1");
    std::fs::create_dir_all(&bad_id).expect("mkdir");
    expect_foreign(&layer, root, &bad_id);
    std::fs::remove_dir(&bad_id).expect("rm");
    let file_as_topic = root.join("consumequeue/readme");
    std::fs::write(&file_as_topic, b"x").expect("write");
    expect_foreign(&layer, root, &file_as_topic);
    std::fs::remove_file(&file_as_topic).expect("rm");
    assert!(ConsumeQueues::load(root, layer.clone(), PER_FILE, usize::MAX).is_ok());
}

/// Writes raw bytes into a queue file on the simulated disk.
fn poke(layer: &Arc<dyn FileLayer>, root: &Path, name: &str, at: u64, bytes: &[u8]) {
    let path = root.join("consumequeue/T/0").join(name);
    let f = layer.open(&path, FileKind::ConsumeQueue).expect("open");
    f.write_at(at, bytes).expect("write");
}

/// A fresh simulated store holding queue T/0 with entries `0..n`, damaged by `damage`.
fn damaged(
    n: u64,
    damage: impl FnOnce(&Arc<dyn FileLayer>, &Path),
) -> (Arc<dyn FileLayer>, PathBuf) {
    let (layer, root) = sim();
    fill(
        &load(&layer, &root).get_or_create("T", 0).expect("create"),
        0..n,
    );
    damage(&layer, &root);
    (layer, root)
}

#[test]
fn corruption_is_reported_with_queue_and_file() {
    let tail = "00000000000000000400";
    // A hole inside the tail (entries 20..25 are in the last file).
    let (layer, root) = damaged(25, |l, r| poke(l, r, tail, 20, &[0u8; 20]));
    expect_corrupt(&layer, &root, "entry 21 is unwritten inside the queue");
    // An entry written after the end.
    let (layer, root) = damaged(25, |l, r| poke(l, r, tail, 8 * 20, &e(99).encode()));
    expect_corrupt(&layer, &root, "entry 28 is written after the end");
    // Size 0 with the other fields set.
    let (layer, root) = damaged(25, |l, r| poke(l, r, tail, 20 + 8, &[0u8; 4]));
    expect_corrupt(&layer, &root, "entry 21 has size 0");
    // Commit-log offsets going backwards.
    let (layer, root) = damaged(25, |l, r| poke(l, r, tail, 3 * 20, &e(1).encode()));
    expect_corrupt(&layer, &root, "entry 23 points at commit-log offset 100");
    // A hole at the head of a later file.
    let (layer, root) = damaged(25, |l, r| poke(l, r, "00000000000000000200", 0, &[0u8; 20]));
    expect_corrupt(&layer, &root, "00000000000000000200 starts unwritten");
    // A missing middle file.
    let (layer, root) = damaged(25, |l, r| {
        l.remove(&r.join("consumequeue/T/0/00000000000000000200"))
            .expect("rm");
    });
    expect_corrupt(&layer, &root, "no file for queue offsets 10..20");
    // A file of the wrong size (entries_per_file changed between runs); the detail names the file.
    let (layer, root) = damaged(5, |_, _| {});
    match ConsumeQueues::load(&root, layer.clone(), 5, usize::MAX) {
        Err(StoreError::CorruptConsumeQueue { detail, .. }) => {
            assert!(
                detail.contains("T/0/00000000000000000000 is 200 bytes, expected 100"),
                "{detail}"
            );
        }
        other => panic!("expected a size complaint, got {other:?}"),
    }
}

#[test]
fn flushed_entries_survive_a_power_cut() {
    let root = PathBuf::from("/store");
    for seed in 0..20 {
        let sim = Arc::new(SimLayer::new());
        let layer: Arc<dyn FileLayer> = sim.clone();
        let cqs = load(&layer, &root);
        let q = cqs.get_or_create("T", 0).expect("create");
        fill(&q, 0..23);
        cqs.flush_all().expect("flush");
        fill(&q, 23..41);
        sim.crash(seed);
        // Flushed entries are all there; what came after may or may not be (a torn tail is
        // reported).
        match ConsumeQueues::load(&root, layer.clone(), PER_FILE, usize::MAX) {
            Ok(again) => {
                let q = again.get("T", 0).expect("q");
                assert!(q.max_offset() >= 23, "seed {seed}");
                assert_eq!(
                    q.read(0, 23).expect("read"),
                    (0..23).map(e).collect::<Vec<_>>()
                );
            }
            Err(StoreError::CorruptConsumeQueue { .. }) => {}
            Err(other) => panic!("seed {seed}: {other}"),
        }
    }
}

#[test]
fn queues_are_shareable_across_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<ConsumeQueue>();
    shareable::<ConsumeQueues>();
    let (layer, root) = sim();
    let cqs = Arc::new(load(&layer, &root));
    let writers: Vec<_> = (0..4u32)
        .map(|id| {
            let cqs = cqs.clone();
            std::thread::spawn(move || fill(&cqs.get_or_create("T", id).expect("create"), 0..30))
        })
        .collect();
    for w in writers {
        w.join().expect("writer");
    }
    assert_eq!(
        cqs.queues_of("T")
            .iter()
            .map(|q| q.max_offset())
            .collect::<Vec<_>>(),
        [30; 4]
    );
}

#[test]
fn runs_match_entry_by_entry_puts_across_files_and_survive_a_reload() {
    let (layer, root) = sim();
    let cqs = load(&layer, &root);
    let by_run = cqs.get_or_create("Runs", 0).expect("create");
    let by_entry = cqs.get_or_create("Entries", 0).expect("create");
    // Appends: within a file, across two file boundaries, then a single entry.
    let runs: [(u64, u64); 4] = [(0, 4), (4, 27), (27, 28), (28, 40)];
    for (from, to) in runs {
        let entries: Vec<CqEntry> = (from..to).map(e).collect();
        by_run.put_run(from, &entries).expect("run");
        fill(&by_entry, from..to);
    }
    // Not at the end: rewriting what is there is a no-op, a differing entry cuts the queue after it.
    by_run.put_run(10, &[e(10), e(11)]).expect("same entries");
    assert_eq!(by_run.max_offset(), 40);
    let changed = CqEntry {
        tag_code: 99,
        ..e(12)
    };
    by_run.put_run(12, &[changed]).expect("overwrite");
    by_entry.put(12, changed).expect("overwrite");
    for q in [&by_run, &by_entry] {
        assert_eq!((q.min_offset(), q.max_offset()), (0, 13));
    }
    // An empty run changes nothing.
    by_run.put_run(13, &[]).expect("empty run");
    by_run.put_run(13, &[e(13), e(14)]).expect("append again");
    by_entry.put_run(13, &[e(13), e(14)]).expect("append again");
    cqs.flush_all().expect("flush");
    for q in [&by_run, &by_entry] {
        let mut want: Vec<CqEntry> = (0..15).map(e).collect();
        want[12] = changed;
        assert_eq!(q.read(0, 100).expect("read"), want, "{}", q.topic());
    }
    drop((by_run, by_entry, cqs));
    let cqs = load(&layer, &root);
    let reloaded = cqs.get("Runs", 0).expect("reloaded");
    assert_eq!((reloaded.min_offset(), reloaded.max_offset()), (0, 15));
    assert_eq!(reloaded.get(12).expect("get"), Some(changed));
    assert_eq!(
        files_of(&layer, &root, "Runs", 0),
        files_of(&layer, &root, "Entries", 0)
    );
}
