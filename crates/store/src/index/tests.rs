//! Index behaviour on the simulated disk and a real temp folder.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use ferromq_model::hash::java_string_hash;

use super::*;
use crate::config::IoMode;
use crate::io::FileKind;
use crate::segment::DiskLayer;
use crate::sim::SimLayer;

const EVERYTHING: (i64, i64) = (0, i64::MAX);

fn sim() -> (Arc<SimLayer>, Arc<dyn FileLayer>, PathBuf) {
    let sim = Arc::new(SimLayer::new());
    (sim.clone(), sim, PathBuf::from("/store"))
}

fn open(layer: &Arc<dyn FileLayer>, root: &Path, slots: u32, entries: u32) -> Index {
    Index::open(root, layer.clone(), slots, entries).expect("open")
}

fn query(ix: &Index, key: &str, max: usize) -> Vec<u64> {
    ix.query("T", key, max, EVERYTHING.0, EVERYTHING.1)
        .expect("query")
}

fn index_files(layer: &Arc<dyn FileLayer>, root: &Path) -> Vec<String> {
    layer.list(&root.join("index")).expect("list")
}

#[test]
fn key_hash_matches_java_on_the_joined_key() {
    for (t, k) in [
        ("T", "k"),
        ("TopicTest", "key-0001"),
        ("%RETRY%g", "ünïcode-😀"),
        ("", ""),
    ] {
        let java = java_string_hash(&format!("{t}#{k}"));
        assert_eq!(key_hash(t, k), java.checked_abs().unwrap_or(0), "{t}#{k}");
    }
    assert!(key_hash("a", "b") >= 0);
}

#[test]
fn put_and_query_newest_first_with_time_bounds() {
    let (_, layer, root) = sim();
    let ix = open(&layer, &root, 64, 1000);
    assert_eq!(ix.end_offset(), 0);
    // Record i at offset 100 i, stored at second i (ms timestamps); key "a" on even records.
    for i in 0..20u64 {
        let ts = 1_000_000 + i64::try_from(i).unwrap_or(0) * 1000;
        ix.put("T", &format!("u{i}"), i * 100, ts).expect("put");
        if i % 2 == 0 {
            ix.put("T", "a", i * 100, ts).expect("put");
        }
    }
    assert_eq!(ix.end_offset(), 1901);
    assert_eq!(query(&ix, "u7", 10), vec![700]);
    assert_eq!(
        query(&ix, "a", 100),
        (0..20)
            .rev()
            .filter(|i| i % 2 == 0)
            .map(|i| i * 100)
            .collect::<Vec<_>>()
    );
    assert!(query(&ix, "missing", 10).is_empty());
    // Another topic with the same key is another key.
    assert!(ix
        .query("U", "a", 10, 0, i64::MAX)
        .expect("query")
        .is_empty());
    // [second 4, second 10] holds records 4, 6, 8, 10.
    let got = ix
        .query("T", "a", 100, 1_004_000, 1_010_000)
        .expect("query");
    assert_eq!(got, vec![1000, 800, 600, 400]);
    assert!(ix
        .query("T", "a", 100, 2_000_000, 3_000_000)
        .expect("query")
        .is_empty());
    assert!(ix
        .query("T", "a", 0, 0, i64::MAX)
        .expect("query")
        .is_empty());
}

#[test]
fn max_is_honoured_without_a_hidden_cap() {
    let (_, layer, root) = sim();
    let ix = open(&layer, &root, 1024, 10_000);
    for i in 0..500u64 {
        ix.put("T", "hot", i * 10, 5_000).expect("put");
        ix.put("T", &format!("other{i}"), i * 10, 5_000)
            .expect("put");
    }
    let all = query(&ix, "hot", 1000);
    assert_eq!(all.len(), 500);
    assert_eq!(all, (0..500).rev().map(|i| i * 10).collect::<Vec<_>>());
    assert_eq!(
        query(&ix, "hot", 10),
        (490..500).rev().map(|i| i * 10).collect::<Vec<_>>()
    );
}

#[test]
fn collisions_are_resolved_by_the_callers_recheck() {
    let (_, layer, root) = sim();
    // Two slots: every chain is shared by many keys.
    let ix = open(&layer, &root, 2, 1000);
    let keys: HashMap<u64, String> = (0..200u64)
        .map(|i| (i * 10, format!("k{}", i % 7)))
        .collect();
    for i in 0..200u64 {
        ix.put("T", &keys[&(i * 10)], i * 10, 1).expect("put");
    }
    for k in 0..7 {
        let key = format!("k{k}");
        // The caller reads each record and keeps those that really carry the key.
        let found: Vec<u64> = query(&ix, &key, 1000)
            .into_iter()
            .filter(|off| keys[off] == key)
            .collect();
        let expected: Vec<u64> = (0..200u64)
            .rev()
            .filter(|i| i % 7 == k)
            .map(|i| i * 10)
            .collect();
        assert_eq!(found, expected, "{key}");
    }
}

#[test]
fn full_files_roll_over_and_queries_span_them() {
    let (_, layer, root) = sim();
    // 9 usable entries per file (entry 0 is never used).
    let ix = open(&layer, &root, 8, 10);
    for i in 0..40u64 {
        ix.put("T", "k", i, 1_000 + i64::try_from(i).unwrap_or(0))
            .expect("put");
    }
    assert_eq!(
        index_files(&layer, &root),
        [
            "00000000000000000000",
            "00000000000000000001",
            "00000000000000000002",
            "00000000000000000003",
            "00000000000000000004"
        ]
    );
    assert_eq!(query(&ix, "k", 100), (0..40).rev().collect::<Vec<_>>());
    assert_eq!(query(&ix, "k", 12), (28..40).rev().collect::<Vec<_>>());
    // Retention never deletes the newest file.
    ix.delete_before_physical(20).expect("retention");
    assert_eq!(index_files(&layer, &root).len(), 3);
    assert_eq!(query(&ix, "k", 100), (18..40).rev().collect::<Vec<_>>());
    ix.delete_before_physical(1000).expect("retention");
    assert_eq!(index_files(&layer, &root), ["00000000000000000004"]);
    ix.put("T", "k", 40, 2_000).expect("put continues");
    assert_eq!(query(&ix, "k", 3), vec![40, 39, 38]);
}

#[test]
fn reload_from_real_disk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let layer: Arc<dyn FileLayer> = Arc::new(DiskLayer::new(IoMode::Pwrite));
    {
        let ix = open(&layer, dir.path(), 16, 50);
        for i in 0..120u64 {
            ix.put("%RETRY%g|x", &format!("k{}", i % 3), i * 64, 77_000)
                .expect("put");
        }
        ix.flush().expect("flush");
    }
    let ix = open(&layer, dir.path(), 16, 50);
    assert_eq!(ix.end_offset(), 119 * 64 + 1);
    let got = ix
        .query("%RETRY%g|x", "k1", 1000, 0, i64::MAX)
        .expect("query");
    assert_eq!(
        got,
        (0..120u64)
            .rev()
            .filter(|i| i % 3 == 1)
            .map(|i| i * 64)
            .collect::<Vec<_>>()
    );
    // A clean reopen keeps everything: re-feed resumes at the log end.
    assert_eq!(
        ix.truncate_to_log_end(119 * 64 + 100).expect("truncate"),
        119 * 64 + 100
    );
    assert_eq!(ix.end_offset(), 119 * 64 + 1);
    // Files opened with another slot count keep their own.
    let other = open(&layer, dir.path(), 999, 7);
    assert_eq!(
        other
            .query("%RETRY%g|x", "k1", 2, 0, i64::MAX)
            .expect("query"),
        vec![118 * 64, 115 * 64]
    );
}

#[test]
fn replays_are_skipped() {
    let (_, layer, root) = sim();
    let ix = open(&layer, &root, 16, 100);
    for i in 0..10u64 {
        ix.put("T", &format!("u{i}"), i * 100, 1).expect("put");
        ix.put("T", "k", i * 100, 1).expect("put");
    }
    // The dispatcher replays from an earlier offset: nothing is duplicated, including the last
    // record.
    for i in 5..10u64 {
        ix.put("T", &format!("u{i}"), i * 100, 1).expect("replay");
        ix.put("T", "k", i * 100, 1).expect("replay");
    }
    assert_eq!(query(&ix, "k", 100).len(), 10);
    assert_eq!(query(&ix, "u9", 100), vec![900]);
    // A second key of the last record is still taken.
    ix.put("T", "late", 900, 1).expect("put");
    assert_eq!(query(&ix, "late", 10), vec![900]);
}

#[test]
fn truncate_to_log_end_cuts_and_asks_for_refeed() {
    let (_, layer, root) = sim();
    let ix = open(&layer, &root, 8, 10);
    for i in 0..25u64 {
        ix.put("T", "k", i * 10, 1).expect("put");
    }
    ix.flush().expect("flush");
    // The log ends at 125: records 130.. are gone, the index re-feeds from 125.
    assert_eq!(ix.truncate_to_log_end(125).expect("truncate"), 125);
    assert_eq!(ix.end_offset(), 121);
    assert_eq!(
        query(&ix, "k", 100),
        (0..13).rev().map(|i| i * 10).collect::<Vec<_>>()
    );
    assert_eq!(index_files(&layer, &root).len(), 2);
    ix.put("T", "k", 130, 1).expect("re-fed");
    assert_eq!(query(&ix, "k", 2), vec![130, 120]);
    // Entries never flushed are not trusted: they are dropped and re-fed.
    ix.put("T", "k", 140, 1).expect("put");
    assert_eq!(
        ix.truncate_to_log_end(1000).expect("truncate"),
        120,
        "from the last record kept"
    );
    assert_eq!(ix.end_offset(), 121);
    assert_eq!(ix.truncate_to_log_end(0).expect("truncate"), 0);
    assert_eq!(ix.end_offset(), 0);
    assert!(index_files(&layer, &root).is_empty());
}

#[test]
fn power_cut_keeps_flushed_entries_and_repairs_chains() {
    // Few slots (header, slots and early entries share a page) and many (slots span pages).
    for (slots, keys) in [(4u32, 11u64), (3000, 37)] {
        for seed in 0..40 {
            let (sim, layer, root) = sim();
            let key = |i: u64| format!("k{}", i % keys);
            let ix = open(&layer, &root, slots, 2000);
            for i in 0..300u64 {
                ix.put("T", &key(i), i * 10, 1).expect("put");
            }
            ix.flush().expect("flush");
            // After the checkpoint (dispatched = 3000) more puts, then the power goes.
            for i in 300..900u64 {
                ix.put("T", &key(i), i * 10, 1).expect("put");
            }
            sim.crash(seed);
            let ix = open(&layer, &root, slots, 2000);
            let refeed = ix.truncate_to_log_end(3000).expect("truncate");
            assert!(
                refeed == 3000 || refeed == 2990,
                "seed {seed}: re-feed from {refeed}"
            );
            for k in 0..keys {
                let expected: Vec<u64> = (0..300u64)
                    .rev()
                    .filter(|i| i % keys == k)
                    .map(|i| i * 10)
                    .collect();
                assert_eq!(
                    query(&ix, &key(k), 1000),
                    expected,
                    "slots {slots} seed {seed} key k{k}"
                );
            }
            // Re-feeding continues the chains.
            for i in 300..310u64 {
                ix.put("T", &key(i), i * 10, 1).expect("put");
            }
            let k0: Vec<u64> = (0..310u64)
                .rev()
                .filter(|i| i % keys == 0)
                .map(|i| i * 10)
                .take(3)
                .collect();
            assert_eq!(query(&ix, &key(0), 3), k0);
        }
    }
}

#[test]
fn foreign_and_damaged_files() {
    let (_, layer, root) = sim();
    {
        let ix = open(&layer, &root, 8, 10);
        for i in 0..30u64 {
            ix.put("T", "k", i, 1).expect("put");
        }
        ix.flush().expect("flush");
    }
    let stray = root.join("index/20240101000000000");
    layer.create(&stray, 10, FileKind::Index).expect("create");
    match Index::open(&root, layer.clone(), 8, 10) {
        Err(StoreError::ForeignFile { path, .. }) => assert_eq!(path, stray),
        other => panic!("expected ForeignFile, got {other:?}"),
    }
    layer.remove(&stray).expect("rm");
    // A damaged header in the second file: it and the newer ones go, the rest is re-fed.
    let f = layer
        .open(&root.join("index/00000000000000000001"), FileKind::Index)
        .expect("open");
    f.write_at(32, &[0xFF; 8]).expect("damage");
    let ix = open(&layer, &root, 8, 10);
    assert_eq!(index_files(&layer, &root), ["00000000000000000000"]);
    assert_eq!(ix.end_offset(), 9);
    assert_eq!(
        ix.truncate_to_log_end(30).expect("truncate"),
        8,
        "the last record still indexed"
    );
    assert!(
        Index::open(&root, layer.clone(), 0, 10).is_err(),
        "zero slots is a config error"
    );
}

#[test]
fn index_is_shareable_across_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<Index>();
    let (_, layer, root) = sim();
    let ix = Arc::new(open(&layer, &root, 64, 100));
    for i in 0..50u64 {
        ix.put("T", "k", i, 1).expect("put");
    }
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let ix = ix.clone();
            std::thread::spawn(move || query(&ix, "k", 1000).len())
        })
        .collect();
    for r in readers {
        assert_eq!(r.join().expect("reader"), 50);
    }
}
