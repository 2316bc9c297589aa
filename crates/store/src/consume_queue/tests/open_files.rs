//! The cap on open queue files: never more handles than the cap, and nothing lost or unsynced
//! because a handle was closed.

use std::sync::Arc;

use super::*;

/// Puts `rounds` entries into each of `queues` queues, round-robin (the dispatcher's pattern with
/// many busy queues), checking the cap after every put.
fn fill_round_robin(cqs: &ConsumeQueues, queues: u32, rounds: u64, cap: usize) {
    for i in 0..rounds {
        for id in 0..queues {
            let q = cqs.get_or_create("T", id).expect("create");
            q.put(i, e(i)).expect("put");
            let (c, open) = cqs.open_files();
            assert_eq!(c, cap);
            assert!(open <= cap, "{open} handles open, cap {cap}");
        }
    }
}

fn check_all(cqs: &ConsumeQueues, queues: u32, rounds: u64) {
    for id in 0..queues {
        let q = cqs.get("T", id).expect("queue");
        assert_eq!((q.min_offset(), q.max_offset()), (0, rounds), "queue {id}");
        assert_eq!(
            q.read(0, 1_000).expect("read"),
            (0..rounds).map(e).collect::<Vec<_>>(),
            "queue {id}"
        );
    }
}

#[test]
fn open_handles_never_exceed_the_cap_and_reads_see_every_entry() {
    let (layer, root) = sim();
    let cqs = ConsumeQueues::load(&root, layer.clone(), PER_FILE, 4).expect("load");
    // 25 entries per queue: three files each, so handles are also replaced when files roll.
    fill_round_robin(&cqs, 40, 25, 4);
    check_all(&cqs, 40, 25);
    assert!(cqs.open_files().1 <= 4);
    cqs.flush_all().expect("flush");
    drop(cqs);
    check_all(&load(&layer, &root), 40, 25);
}

#[test]
fn a_cap_of_one_still_works() {
    let (layer, root) = sim();
    let cqs = ConsumeQueues::load(&root, layer.clone(), PER_FILE, 1).expect("load");
    fill_round_robin(&cqs, 5, 12, 1);
    check_all(&cqs, 5, 12);
}

/// Entries written through handles the cap closed are synced by the next flush: after a power cut
/// right after it, every queue has every entry. Few dirty queues take the per-file path, many the
/// one-sync-for-the-file-system path; both are checked.
#[test]
fn entries_written_through_closed_handles_survive_a_power_cut() {
    let root = PathBuf::from("/store");
    for (queues, seed) in [(10u32, 1u64), (10, 2), (100, 3), (100, 4)] {
        let sim = Arc::new(SimLayer::new());
        let layer: Arc<dyn FileLayer> = sim.clone();
        let cqs = ConsumeQueues::load(&root, layer.clone(), PER_FILE, 3).expect("load");
        fill_round_robin(&cqs, queues, 7, 3);
        cqs.flush_all().expect("flush");
        drop(cqs);
        sim.crash(seed);
        let again = ConsumeQueues::load(&root, layer.clone(), PER_FILE, 3).expect("reload");
        check_all(&again, queues, 7);
    }
}

/// A failed sync of the whole file system is reported (so the caller keeps its checkpoint where it
/// was and recovery re-dispatches from there), the queues stay readable, and the next flush works.
#[test]
fn a_failed_filesystem_sync_is_reported() {
    let root = PathBuf::from("/store");
    let sim = Arc::new(SimLayer::new());
    let layer: Arc<dyn FileLayer> = sim.clone();
    let cqs = ConsumeQueues::load(&root, layer.clone(), PER_FILE, 8).expect("load");
    fill_round_robin(&cqs, 100, 3, 8);
    sim.fail_next_sync();
    assert!(matches!(cqs.flush_all(), Err(StoreError::Io { .. })));
    check_all(&cqs, 100, 3);
    cqs.flush_all().expect("second flush");
}

#[test]
fn the_cap_holds_on_a_real_disk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let layer: Arc<dyn FileLayer> = Arc::new(DiskLayer::new(IoMode::Pwrite));
    let cqs = ConsumeQueues::load(dir.path(), layer.clone(), PER_FILE, 16).expect("load");
    fill_round_robin(&cqs, 300, 3, 16);
    cqs.flush_all().expect("flush");
    check_all(&cqs, 300, 3);
    drop(cqs);
    check_all(
        &ConsumeQueues::load(dir.path(), layer, PER_FILE, 16).expect("reload"),
        300,
        3,
    );
}

/// Topic folders are scanned by several threads at start-up; a damaged queue among them is still
/// found and named, and a healthy set loads whole.
#[test]
fn a_parallel_load_names_the_damaged_queue() {
    let (layer, root) = sim();
    let cqs = load(&layer, &root);
    let topics: Vec<String> = (0..40).map(|t| format!("T{t:02}")).collect();
    for t in &topics {
        for id in 0..8 {
            fill(&cqs.get_or_create(t, id).expect("create"), 0..3);
        }
    }
    drop(cqs);
    let again = load(&layer, &root);
    for t in &topics {
        for id in 0..8 {
            let q = again.get(t, id).expect("queue");
            assert_eq!(
                q.read(0, 10).expect("read"),
                (0..3).map(e).collect::<Vec<_>>()
            );
        }
    }
    drop(again);
    // Queue T29/5's first file: a written entry after the tail.
    let path = root.join("consumequeue/T29/5/00000000000000000000");
    let f = layer.open(&path, FileKind::ConsumeQueue).expect("open");
    f.write_at(6 * 20, &e(6).encode()).expect("write");
    match ConsumeQueues::load(&root, layer.clone(), PER_FILE, usize::MAX) {
        Err(StoreError::CorruptConsumeQueue {
            topic, queue_id, ..
        }) => assert_eq!((topic.as_str(), queue_id), ("T29", 5)),
        other => panic!("expected queue T29/5 corrupt, got {other:?}"),
    }
}
