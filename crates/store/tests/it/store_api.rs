//! The store's facade as the broker uses it: queue reads and their statuses, tag filters, size limits,
//! time lookups, key queries without a hidden cap, retention, and bad state (full disk, foreign files,
//! damaged consume queues).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ferromq_model::hash::tag_code;
use ferromq_model::properties::{self, keys};
use ferromq_model::record::{self, Entry, RecordDraft};
use ferromq_store::clock::Clock;
use ferromq_store::retention::DeleteReason;
use ferromq_store::sim::SimLayer;
use ferromq_store::{
    FlushMode, GetStatus, QueueRead, Store, StoreConfig, StoreError, StoreHandle, TagFilter,
};

const HOUR: i64 = 3_600_000;

/// A clock the test moves by hand.
#[derive(Debug)]
struct ManualClock(AtomicI64);

impl Clock for ManualClock {
    fn now_millis(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

fn host() -> SocketAddr {
    "127.0.0.1:10911".parse().expect("addr")
}

fn config() -> StoreConfig {
    StoreConfig {
        commit_log_segment_bytes: 64 * 1024,
        max_message_bytes: 16 * 1024,
        consume_queue_entries_per_file: 32,
        index_hash_slots: 128,
        index_max_entries: 1024,
        delete_when: "04".into(),
        file_reserved_hours: 48,
        // The test runs retention passes itself.
        retention_check_interval_ms: 3_600_000,
        ..StoreConfig::new("/store")
    }
}

fn open(layer: &SimLayer, cfg: StoreConfig, clock: Arc<ManualClock>) -> StoreHandle {
    StoreHandle::open_with(cfg, Arc::new(layer.clone()), clock).expect("open")
}

/// Puts one message and waits until queue readers can see it.
fn put(store: &Store, topic: &str, queue: u32, tag: &str, key: &str, body: &[u8]) -> u64 {
    let props = properties::encode([(keys::TAGS, tag), (keys::KEYS, key)]);
    let d = RecordDraft {
        topic,
        queue_id: queue,
        flag: 0,
        sys_flag: 0,
        born_timestamp: 0,
        born_host: host(),
        store_host: host(),
        reconsume_times: 0,
        prepared_transaction_offset: 0,
        body,
        properties: &props,
    };
    let r = store.put(&d).expect("put");
    r.durable.wait().expect("durable");
    assert!(store.wait_dispatched(store.written_offset(), Duration::from_secs(10)));
    r.records[0].queue_offset
}

fn read<'a>(
    store: &Store,
    topic: &'a str,
    from: u64,
    max_msgs: usize,
    max_bytes: usize,
    filter: &'a TagFilter,
) -> ferromq_store::GetResult {
    store
        .get_messages(&QueueRead {
            topic,
            queue_id: 0,
            from,
            max_msgs,
            max_bytes,
            filter,
        })
        .expect("get")
}

fn bodies(r: &ferromq_store::GetResult) -> Vec<Vec<u8>> {
    r.messages
        .iter()
        .map(|m| match record::read(m, true).expect("record") {
            Entry::Message(v) => v.body.to_vec(),
            Entry::Blank { .. } => panic!("blank served"),
        })
        .collect()
}

#[test]
fn queue_reads_report_every_status_and_honour_filters_and_limits() {
    let disk = SimLayer::new();
    let clock = Arc::new(ManualClock(AtomicI64::new(1_000_000)));
    let h = open(&disk, config(), clock.clone());
    let s = h.store();
    let all = TagFilter::All;
    assert_eq!(
        read(s, "T", 0, 10, 1 << 20, &all).status,
        GetStatus::NoMatchedLogicQueue
    );
    for i in 0..20u8 {
        clock.0.fetch_add(1000, Ordering::SeqCst);
        let tag = if i % 2 == 0 { "even" } else { "odd" };
        assert_eq!(put(s, "T", 0, tag, "k", &[i; 100]), u64::from(i));
    }
    let r = read(s, "T", 0, 5, 1 << 20, &all);
    assert_eq!(r.status, GetStatus::Found);
    assert_eq!(
        bodies(&r),
        (0..5u8).map(|i| vec![i; 100]).collect::<Vec<_>>()
    );
    assert_eq!((r.next_offset, r.min_offset, r.max_offset), (5, 0, 20));
    assert_eq!(r.queue_offsets, vec![0, 1, 2, 3, 4]);

    // Tag filter by stored tag code: only the odd ones, and the next offset skips what was scanned.
    let odd = TagFilter::Codes([tag_code(Some("odd"))].into_iter().collect());
    let r = read(s, "T", 0, 3, 1 << 20, &odd);
    assert_eq!(
        bodies(&r),
        vec![vec![1u8; 100], vec![3u8; 100], vec![5u8; 100]]
    );
    assert_eq!(r.next_offset, 6);
    let none = TagFilter::Codes([tag_code(Some("nope"))].into_iter().collect());
    let r = read(s, "T", 0, 3, 1 << 20, &none);
    assert_eq!((r.status, r.next_offset), (GetStatus::NoMatchedMessage, 20));

    // A byte budget stops the batch (always at least one message).
    let one_record = s
        .get_messages(&QueueRead {
            topic: "T",
            queue_id: 0,
            from: 0,
            max_msgs: 1,
            max_bytes: 1 << 20,
            filter: &all,
        })
        .expect("get")
        .messages[0]
        .len();
    assert_eq!(read(s, "T", 0, 10, one_record * 3, &all).messages.len(), 3);
    assert_eq!(read(s, "T", 0, 10, 1, &all).messages.len(), 1);

    assert_eq!(
        read(s, "T", 20, 10, 1 << 20, &all).status,
        GetStatus::OffsetOverflowOne
    );
    let r = read(s, "T", 25, 10, 1 << 20, &all);
    assert_eq!(
        (r.status, r.next_offset),
        (GetStatus::OffsetOverflowBadly, 20)
    );

    // Time lookups: message i was stored at 1_000_000 + 1000 * (i + 1).
    assert_eq!(
        s.queue_offset_by_time("T", 0, 1_000_000 + 5_500)
            .expect("by time"),
        5
    );
    assert_eq!(s.queue_offset_by_time("T", 0, 0).expect("by time"), 0);
    assert_eq!(
        s.earliest_message_time("T", 0).expect("earliest"),
        Some(1_001_000)
    );
    h.shutdown().expect("shutdown");
}

#[test]
fn key_queries_honour_the_callers_max_without_a_hidden_cap() {
    let disk = SimLayer::new();
    let clock = Arc::new(ManualClock(AtomicI64::new(5_000_000)));
    let h = open(&disk, config(), clock.clone());
    let s = h.store();
    for i in 0..200u32 {
        clock.0.fetch_add(10, Ordering::SeqCst);
        put(s, "Orders", i % 4, "t", "order-42", &i.to_be_bytes());
        put(s, "Orders", i % 4, "t", "other", b"x");
    }
    let hits = s
        .query_by_key("Orders", "order-42", 1000, 0, i64::MAX)
        .expect("query");
    assert_eq!(hits.len(), 200, "every match, not a default cap of 64");
    let newest = s
        .query_by_key("Orders", "order-42", 10, 0, i64::MAX)
        .expect("query");
    let got: Vec<u32> = newest
        .iter()
        .map(|b| match record::read(b, true).expect("record") {
            Entry::Message(v) => u32::from_be_bytes(v.body.try_into().expect("4 bytes")),
            Entry::Blank { .. } => panic!("blank"),
        })
        .collect();
    assert_eq!(
        got,
        (190..200).rev().collect::<Vec<_>>(),
        "the ten newest, newest first"
    );
    assert!(s
        .query_by_key("Orders", "missing", 10, 0, i64::MAX)
        .expect("query")
        .is_empty());
    assert!(s
        .query_by_key("Other", "order-42", 10, 0, i64::MAX)
        .expect("query")
        .is_empty());
    h.shutdown().expect("shutdown");
}

#[test]
fn retention_deletes_expired_segments_at_the_delete_hour_and_queues_follow() {
    let disk = SimLayer::new();
    // 01:00 UTC on some day.
    let day = 20_000 * 24 * HOUR;
    let clock = Arc::new(ManualClock(AtomicI64::new(day + HOUR)));
    let h = open(&disk, config(), clock.clone());
    let s = h.store();
    let body = vec![7u8; 3000];
    for _ in 0..60 {
        put(s, "Old", 0, "t", "k", &body);
    }
    let old_max = s.max_queue_offset("Old", 0);
    // Three days later, at 02:00: expired but outside the delete hour.
    clock
        .0
        .store(day + 3 * 24 * HOUR + 2 * HOUR, Ordering::SeqCst);
    put(s, "New", 0, "t", "k", b"fresh");
    assert!(s.run_retention(false).expect("pass").deleted.is_empty());
    // At 04:00 every segment before the active one goes.
    clock
        .0
        .store(day + 3 * 24 * HOUR + 4 * HOUR, Ordering::SeqCst);
    let report = s.run_retention(false).expect("pass");
    assert!(!report.deleted.is_empty());
    assert!(report
        .deleted
        .iter()
        .all(|(_, why)| *why == DeleteReason::Expired));
    assert_eq!(s.min_physical_offset(), report.min_offset);
    let min = s.min_queue_offset("Old", 0);
    assert!(
        min > 0 && min <= old_max,
        "queue minimum follows the log: {min}"
    );
    let all = TagFilter::All;
    let r = read(s, "Old", 0, 10, 1 << 20, &all);
    assert_eq!((r.status, r.next_offset), (GetStatus::OffsetTooSmall, min));
    // What is left is still readable, and the new message too.
    if min < old_max {
        assert_eq!(
            read(s, "Old", min, 1, 1 << 20, &all).status,
            GetStatus::Found
        );
    }
    let fresh = s
        .get_messages(&QueueRead {
            topic: "New",
            queue_id: 0,
            from: 0,
            max_msgs: 1,
            max_bytes: 1 << 20,
            filter: &all,
        })
        .expect("get");
    assert_eq!(bodies(&fresh), vec![b"fresh".to_vec()]);
    h.shutdown().expect("shutdown");
    // After a restart the minimums are still right.
    let h = open(&disk, config(), clock);
    assert_eq!(h.store().min_queue_offset("Old", 0), min);
}

#[test]
fn a_full_disk_triggers_deletion_whatever_the_age() {
    let disk = SimLayer::new();
    let clock = Arc::new(ManualClock(AtomicI64::new(10 * HOUR)));
    let h = open(&disk, config(), clock);
    let s = h.store();
    for _ in 0..60 {
        put(s, "T", 0, "t", "k", &[1u8; 3000]);
    }
    disk.set_capacity(disk.used_bytes() + 1024);
    let report = s.run_retention(false).expect("pass");
    assert!(!report.deleted.is_empty());
    assert!(report
        .deleted
        .iter()
        .all(|(_, why)| *why == DeleteReason::DiskFull));
    h.shutdown().expect("shutdown");
}

#[test]
fn disk_full_is_a_typed_error_and_the_store_keeps_serving() {
    let disk = SimLayer::new();
    let clock = Arc::new(ManualClock(AtomicI64::new(HOUR)));
    let h = open(&disk, config(), clock);
    let s = h.store();
    put(s, "T", 0, "t", "k", b"before");
    disk.set_capacity(disk.used_bytes());
    // Fill until the next segment cannot be created.
    let mut err = None;
    for _ in 0..100 {
        let d = RecordDraft {
            topic: "T",
            queue_id: 0,
            flag: 0,
            sys_flag: 0,
            born_timestamp: 0,
            born_host: host(),
            store_host: host(),
            reconsume_times: 0,
            prepared_transaction_offset: 0,
            body: &[2u8; 4000],
            properties: "",
        };
        if let Err(e) = s.put(&d) {
            err = Some(e);
            break;
        }
    }
    assert!(
        matches!(err, Some(StoreError::DiskFull { .. })),
        "got {err:?}"
    );
    let all = TagFilter::All;
    let r = read(s, "T", 0, 1, 1 << 20, &all);
    assert_eq!(bodies(&r), vec![b"before".to_vec()]);
    disk.set_capacity(u64::MAX);
    put(s, "T", 0, "t", "k", b"after");
    h.shutdown().expect("shutdown");
}

#[test]
fn foreign_files_are_refused_with_their_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = StoreConfig {
        flush_mode: FlushMode::SyncFlush,
        ..StoreConfig {
            root_dir: dir.path().to_path_buf(),
            ..config()
        }
    };
    let h = StoreHandle::open(cfg.clone()).expect("open");
    put(h.store(), "T", 0, "t", "k", b"x");
    h.shutdown().expect("shutdown");
    std::fs::write(
        dir.path().join("commitlog").join("README.txt"),
        b"not a segment",
    )
    .expect("write");
    match StoreHandle::open(cfg) {
        Err(StoreError::ForeignFile { path, .. }) => {
            assert!(path.ends_with("commitlog/README.txt"))
        }
        other => panic!("expected ForeignFile, got {other:?}"),
    }
}

#[test]
fn a_damaged_consume_queue_is_rebuilt_from_the_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = StoreConfig {
        root_dir: dir.path().to_path_buf(),
        ..config()
    };
    let h = StoreHandle::open(cfg.clone()).expect("open");
    for i in 0..50u8 {
        put(h.store(), "T", 0, "t", "k", &[i; 10]);
    }
    h.shutdown().expect("shutdown");
    // Scribble over the middle of the queue's first file.
    let qdir = dir.path().join("consumequeue").join("T").join("0");
    let first = std::fs::read_dir(&qdir)
        .expect("queue dir")
        .map(|e| e.expect("entry").path())
        .min()
        .expect("a file");
    let mut bytes = std::fs::read(&first).expect("read");
    bytes[20 * 3..20 * 6].fill(0);
    std::fs::write(&first, bytes).expect("write");
    let h = StoreHandle::open(cfg).expect("reopen rebuilds");
    assert!(h.recovery().rebuilt_queues);
    let all = TagFilter::All;
    let r = read(h.store(), "T", 0, 64, 1 << 20, &all);
    assert_eq!(
        bodies(&r),
        (0..50u8).map(|i| vec![i; 10]).collect::<Vec<_>>()
    );
}

#[test]
fn reading_a_record_at_a_guessed_offset_is_an_error_not_a_huge_read() {
    let disk = SimLayer::new();
    let clock = Arc::new(ManualClock(AtomicI64::new(HOUR)));
    let h = open(&disk, config(), clock);
    let s = h.store();
    // A body whose bytes look like a record header claiming a huge size with a valid magic.
    let mut body = vec![0u8; 64];
    body[..4].copy_from_slice(&0x7FFF_FFF0u32.to_be_bytes());
    body[4..8].copy_from_slice(&ferromq_model::record::MAGIC_V1.to_be_bytes());
    put(s, "T", 0, "t", "k", &body);
    let r = s
        .get_messages(&QueueRead {
            topic: "T",
            queue_id: 0,
            from: 0,
            max_msgs: 1,
            max_bytes: 1 << 20,
            filter: &TagFilter::All,
        })
        .expect("get");
    let Entry::Message(rec) = record::read(&r.messages[0], true).expect("record") else {
        panic!("blank")
    };
    let body_offset = rec.physical_offset
        + (r.messages[0].len() - rec.body.len() - rec.topic.len() - 1 - 2 - rec.properties.len())
            as u64;
    assert!(matches!(
        s.read_record(body_offset),
        Err(StoreError::CorruptRecord { .. })
    ));
    assert!(matches!(
        s.read_record(rec.physical_offset + 1),
        Err(StoreError::CorruptRecord { .. } | StoreError::OffsetOutOfRange { .. })
    ));
    assert!(s.read_record(rec.physical_offset).is_ok());
    h.shutdown().expect("shutdown");
}
