//! The power-loss model checked against its own documentation.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use parking_lot::Mutex;

use super::{SimLayer, ENOSPC, PAGE};
use crate::io::{FileKind, FileLayer};

fn setup() -> (SimLayer, PathBuf) {
    let sim = SimLayer::new();
    let dir = PathBuf::from("/store/commitlog");
    sim.create_dir_all(&dir).expect("mkdir");
    (sim, dir)
}

#[test]
fn synced_pages_survive_and_unsynced_may_not() {
    let (sim, dir) = setup();
    let path = dir.join("a");
    let f = sim
        .create(&path, 3 * PAGE as u64, FileKind::CommitLog)
        .expect("create");
    sim.sync_dir(&dir).expect("sync dir");
    f.write_at(0, b"durable").expect("write");
    f.sync().expect("sync");
    f.write_at(PAGE as u64, b"volatile").expect("write");
    let mut kept = BTreeSet::new();
    for seed in 0..64 {
        let copy = fork(&sim);
        copy.crash(seed);
        let g = copy
            .open(&path, FileKind::CommitLog)
            .expect("file survives: its entry was synced");
        let mut buf = [0u8; 8];
        g.read_at(0, &mut buf[..7]).expect("read");
        assert_eq!(&buf[..7], b"durable");
        g.read_at(PAGE as u64, &mut buf).expect("read");
        kept.insert(buf == *b"volatile");
        assert!(buf == *b"volatile" || buf == [0; 8]);
    }
    assert_eq!(kept.len(), 2, "both outcomes occur over 64 seeds");
    sim.crash(1);
    assert!(
        f.read_at(0, &mut [0u8; 1]).is_err(),
        "pre-crash handles are dead"
    );
}

/// An independent copy of the disk, so one state can be crashed with many seeds.
fn fork(sim: &SimLayer) -> SimLayer {
    let state = sim.state.lock().clone();
    let boot = state.boot;
    SimLayer {
        state: Arc::new(Mutex::new(state)),
        boot: std::sync::atomic::AtomicU64::new(boot),
    }
}

#[test]
fn unsynced_creation_may_vanish_and_capacity_is_enforced() {
    let (sim, dir) = setup();
    sim.set_capacity(2 * PAGE as u64);
    let f = sim
        .create(&dir.join("a"), PAGE as u64, FileKind::CommitLog)
        .expect("create");
    let err = sim
        .create(&dir.join("b"), 2 * PAGE as u64, FileKind::Index)
        .expect_err("full");
    assert_eq!(err.raw_os_error(), Some(ENOSPC));
    let q = sim
        .create(&dir.join("q"), 8 * PAGE as u64, FileKind::ConsumeQueue)
        .expect("sparse");
    q.write_at(0, b"x").expect("first page fits");
    assert_eq!(
        q.write_at(PAGE as u64, b"y")
            .expect_err("full")
            .raw_os_error(),
        Some(ENOSPC)
    );
    drop(f);
    let mut outcomes = BTreeSet::new();
    for seed in 0..32 {
        let copy = fork(&sim);
        copy.crash(seed);
        outcomes.insert(copy.list(&dir).expect("list").len());
    }
    assert!(
        outcomes.len() > 1,
        "unsynced creations sometimes survive, sometimes not"
    );
}

#[test]
fn a_ranged_sync_keeps_only_the_pages_of_its_range() {
    let (sim, dir) = setup();
    let f = sim
        .create(&dir.join("a"), 4 * PAGE as u64, FileKind::CommitLog)
        .expect("create");
    sim.sync_dir(&dir).expect("sync dir");
    f.write_at(10, b"kept").expect("write");
    f.write_at(PAGE as u64 + 10, b"kept too").expect("write");
    f.write_at(3 * PAGE as u64, b"lost").expect("write");
    // From inside the first page to inside the second: both pages, not the fourth.
    f.sync_range(10, PAGE as u64 + 4).expect("sync range");
    sim.crash(7);
    let g = sim.open(&dir.join("a"), FileKind::CommitLog).expect("open");
    let mut buf = [0u8; 8];
    g.read_at(10, &mut buf[..4]).expect("read");
    assert_eq!(&buf[..4], b"kept");
    g.read_at(PAGE as u64 + 10, &mut buf).expect("read");
    assert_eq!(&buf, b"kept too");
    g.read_at(3 * PAGE as u64, &mut buf[..4]).expect("read");
    assert_eq!(buf[..4], [0; 4], "outside the synced range");
}

#[test]
fn failed_sync_loses_the_pages() {
    let (sim, dir) = setup();
    let f = sim
        .create(&dir.join("a"), PAGE as u64, FileKind::CommitLog)
        .expect("create");
    sim.sync_dir(&dir).expect("sync dir");
    f.write_at(0, b"lost").expect("write");
    sim.fail_next_sync();
    assert_eq!(f.sync().expect_err("fails").raw_os_error(), Some(5));
    f.sync().expect("a later sync reports success");
    sim.crash(7);
    let g = sim.open(&dir.join("a"), FileKind::CommitLog).expect("open");
    let mut buf = [1u8; 4];
    g.read_at(0, &mut buf).expect("read");
    assert_eq!(buf, [0; 4], "the page never reached the durable image");
}
