//! A replica store following a source store through `replication_chunk` → `append_replicated`: the
//! two logs end byte for byte equal, the replica's consume queues and index serve the same messages,
//! bytes cut anywhere in transit are taken whole entries at a time, a bad byte is refused before it is
//! written, and a promoted replica continues every queue where the source left it. Also cutting a
//! closed store back to an offset (`truncate_log`). Real files in temp dirs.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use ferromq_model::properties::{self, keys};
use ferromq_model::record::RecordDraft;
use ferromq_store::{
    FlushMode, GetStatus, QueueRead, Store, StoreConfig, StoreError, StoreHandle, TagFilter,
};

const TOPICS: [&str; 3] = ["Orders", "Payments", "Audit"];
const QUEUES: u32 = 4;

fn config(dir: &Path, flush: FlushMode) -> StoreConfig {
    StoreConfig {
        commit_log_segment_bytes: 64 * 1024,
        max_message_bytes: 16 * 1024,
        consume_queue_entries_per_file: 64,
        flush_mode: flush,
        ..StoreConfig::new(dir)
    }
}

fn host() -> SocketAddr {
    "127.0.0.1:10911".parse().expect("addr")
}

/// Deterministic body of message `i`, of a size that varies so segments end at odd places.
fn body(i: usize) -> Vec<u8> {
    let len = 50 + (i * 37) % 1500;
    (0..len).map(|j| ((i * 31 + j) % 251) as u8).collect()
}

/// Puts `count` messages numbered from `first`, spread over topics and queues, keyed `k<i>`.
fn put_many(store: &Store, first: usize, count: usize) {
    for i in first..first + count {
        let props = properties::encode([(keys::KEYS, format!("k{i}").as_str())]);
        let b = body(i);
        let d = RecordDraft {
            topic: TOPICS[i % TOPICS.len()],
            queue_id: (i as u32 / 3) % QUEUES,
            flag: 0,
            sys_flag: 0,
            born_timestamp: 1_700_000_000_000,
            born_host: host(),
            store_host: host(),
            reconsume_times: 0,
            prepared_transaction_offset: 0,
            body: &b,
            properties: &props,
        };
        store.put(&d).expect("put").durable.wait().expect("durable");
    }
}

/// Copies everything `src` has that `dst` lacks, in chunks of about `chunk` bytes, each chunk also
/// cut at `cut` bytes to mimic a stream split anywhere; returns the number of calls that consumed
/// nothing (an incomplete entry waiting for more bytes).
fn replicate(src: &Store, dst: &Store, chunk: usize, cut: usize) -> usize {
    let mut next = dst.written_offset();
    let mut carry: Vec<u8> = Vec::new();
    let mut carry_at = next;
    let mut stalls = 0;
    loop {
        let (bytes, after) = src.replication_chunk(next, chunk).expect("chunk");
        if bytes.is_empty() && next == src.written_offset() && carry.is_empty() {
            return stalls;
        }
        next = after;
        // Deliver the chunk in two pieces cut at an arbitrary point, as a stream might.
        let split = cut.min(bytes.len());
        for piece in [&bytes[..split], &bytes[split..]] {
            carry.extend_from_slice(piece);
            let (done, _durable) = dst.append_replicated(carry_at, &carry).expect("append");
            if done.consumed == 0 && !carry.is_empty() {
                stalls += 1;
            }
            carry.drain(..done.consumed);
            carry_at = done.end_offset;
        }
    }
}

fn queue_messages(store: &Store, topic: &str, queue_id: u32) -> Vec<(u64, Vec<u8>)> {
    let filter = TagFilter::All;
    let mut out = Vec::new();
    let mut from = store.min_queue_offset(topic, queue_id);
    loop {
        let r = store
            .get_messages(&QueueRead {
                topic,
                queue_id,
                from,
                max_msgs: 32,
                max_bytes: 1 << 20,
                filter: &filter,
            })
            .expect("get");
        if r.status != GetStatus::Found {
            return out;
        }
        for (q, m) in r.queue_offsets.iter().zip(&r.messages) {
            out.push((*q, m.to_vec()));
        }
        from = r.next_offset;
    }
}

fn wait_dispatched(store: &Store) {
    assert!(store.wait_dispatched(store.written_offset(), Duration::from_secs(10)));
}

fn assert_same_log(a: &Store, b: &Store) {
    assert_eq!(a.written_offset(), b.written_offset(), "log ends");
    let mut at = a.min_physical_offset().max(b.min_physical_offset());
    while at < a.written_offset() {
        let (x, next_x) = a.replication_chunk(at, 256 * 1024).expect("chunk a");
        let (y, next_y) = b.replication_chunk(at, 256 * 1024).expect("chunk b");
        assert_eq!(x, y, "log bytes differ at {at}");
        assert_eq!(next_x, next_y);
        at = next_x;
    }
    wait_dispatched(a);
    wait_dispatched(b);
    for topic in TOPICS {
        for q in 0..QUEUES {
            assert_eq!(
                queue_messages(a, topic, q),
                queue_messages(b, topic, q),
                "{topic}/{q}"
            );
            assert_eq!(a.max_queue_offset(topic, q), b.max_queue_offset(topic, q));
        }
    }
}

#[test]
fn a_replica_catches_up_from_zero_and_serves_the_same_messages() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src =
        StoreHandle::open(config(&dir.path().join("src"), FlushMode::AsyncFlush)).expect("src");
    let dst =
        StoreHandle::open(config(&dir.path().join("dst"), FlushMode::SyncFlush)).expect("dst");
    // Several segments' worth, so blank markers and rolls are replicated too.
    put_many(src.store(), 0, 400);
    assert!(src.store().written_offset() > 3 * 64 * 1024);
    replicate(src.store(), dst.store(), 16 * 1024, 5000);
    assert_same_log(src.store(), dst.store());
    // The index followed: a key lookup on the replica finds the record.
    let found = dst
        .store()
        .query_by_key("Payments", "k7", 10, 0, i64::MAX)
        .expect("query");
    assert_eq!(found.len(), 1);

    // More arrives later; small chunks split at tiny offsets this time.
    put_many(src.store(), 400, 120);
    let stalls = replicate(src.store(), dst.store(), 700, 3);
    assert!(
        stalls > 0,
        "pieces shorter than a header must wait for more bytes"
    );
    assert_same_log(src.store(), dst.store());
}

#[test]
fn a_replica_keeps_its_copy_across_a_restart_and_continues() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src =
        StoreHandle::open(config(&dir.path().join("src"), FlushMode::AsyncFlush)).expect("src");
    let dst_cfg = config(&dir.path().join("dst"), FlushMode::SyncFlush);
    put_many(src.store(), 0, 150);
    let dst = StoreHandle::open(dst_cfg.clone()).expect("dst");
    replicate(src.store(), dst.store(), 32 * 1024, 100);
    dst.shutdown().expect("shutdown");
    let dst = StoreHandle::open(dst_cfg).expect("reopen");
    put_many(src.store(), 150, 150);
    replicate(src.store(), dst.store(), 32 * 1024, 100);
    assert_same_log(src.store(), dst.store());
}

#[test]
fn a_promoted_replica_continues_every_queue_where_the_source_left_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src =
        StoreHandle::open(config(&dir.path().join("src"), FlushMode::AsyncFlush)).expect("src");
    let dst =
        StoreHandle::open(config(&dir.path().join("dst"), FlushMode::AsyncFlush)).expect("dst");
    put_many(src.store(), 0, 90);
    replicate(src.store(), dst.store(), 8 * 1024, 1000);
    // Both now take the same next messages as if they were one broker.
    put_many(src.store(), 90, 30);
    put_many(dst.store(), 90, 30);
    wait_dispatched(src.store());
    wait_dispatched(dst.store());
    for topic in TOPICS {
        for q in 0..QUEUES {
            let a: Vec<u64> = queue_messages(src.store(), topic, q)
                .into_iter()
                .map(|(o, _)| o)
                .collect();
            let b: Vec<u64> = queue_messages(dst.store(), topic, q)
                .into_iter()
                .map(|(o, _)| o)
                .collect();
            assert_eq!(a, b, "queue offsets of {topic}/{q}");
            assert_eq!(a, (0..a.len() as u64).collect::<Vec<_>>(), "dense");
        }
    }
}

#[test]
fn an_empty_replica_starts_at_the_sources_oldest_segment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src =
        StoreHandle::open(config(&dir.path().join("src"), FlushMode::AsyncFlush)).expect("src");
    let dst =
        StoreHandle::open(config(&dir.path().join("dst"), FlushMode::AsyncFlush)).expect("dst");
    put_many(src.store(), 0, 300);
    // As if the source's retention had removed its first two segments.
    let start = 2 * 64 * 1024;
    let (bytes, next) = src
        .store()
        .replication_chunk(start, 1 << 20)
        .expect("chunk");
    let (done, _) = dst.store().append_replicated(start, &bytes).expect("adopt");
    assert_eq!(done.consumed, bytes.len());
    assert_eq!(done.end_offset, next);
    assert_eq!(dst.store().min_physical_offset(), start);
    replicate(src.store(), dst.store(), 16 * 1024, 77);
    assert_eq!(dst.store().written_offset(), src.store().written_offset());
    // Both sides' queues are read below: wait for both dispatchers.
    wait_dispatched(src.store());
    wait_dispatched(dst.store());
    // The replica's queues hold exactly the records from `start` on, with the source's queue offsets.
    for topic in TOPICS {
        for q in 0..QUEUES {
            let theirs: Vec<_> = queue_messages(src.store(), topic, q)
                .into_iter()
                .filter(|(_, m)| physical_offset(m) >= start)
                .collect();
            assert_eq!(queue_messages(dst.store(), topic, q), theirs, "{topic}/{q}");
        }
    }
}

/// The physical-offset field of a stored record.
fn physical_offset(record: &[u8]) -> u64 {
    u64::from_be_bytes(record[28..36].try_into().expect("8 bytes"))
}

#[test]
fn bytes_at_the_wrong_offset_or_with_a_bad_byte_are_refused_unwritten() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src =
        StoreHandle::open(config(&dir.path().join("src"), FlushMode::AsyncFlush)).expect("src");
    let dst =
        StoreHandle::open(config(&dir.path().join("dst"), FlushMode::AsyncFlush)).expect("dst");
    put_many(src.store(), 0, 20);
    let (bytes, _) = src.store().replication_chunk(0, 1 << 20).expect("chunk");
    let first_len = u32::from_be_bytes(bytes[0..4].try_into().expect("4")) as usize;

    // A gap: the replica is at 0.
    match dst
        .store()
        .append_replicated(first_len as u64, &bytes[first_len..])
    {
        Err(StoreError::ReplicaOffset { expected: 0, got }) => assert_eq!(got, first_len as u64),
        other => panic!("expected ReplicaOffset, got {other:?}"),
    }
    // A flipped body byte in the second record: the first record is taken, the second refused.
    let mut bad = bytes.to_vec();
    // Records start with a 96-byte header (IPv4 hosts); this lands in the second record's body.
    bad[first_len + 100] ^= 0x5a;
    let (done, _) = dst.store().append_replicated(0, &bad).expect("first");
    assert_eq!(done.consumed, first_len);
    assert!(matches!(
        dst.store()
            .append_replicated(done.end_offset, &bad[first_len..]),
        Err(StoreError::CorruptRecord { .. })
    ));
    assert_eq!(dst.store().written_offset(), first_len as u64);
    // The good bytes then go through.
    let (done, _) = dst
        .store()
        .append_replicated(first_len as u64, &bytes[first_len..])
        .expect("rest");
    assert_eq!(done.consumed, bytes.len() - first_len);
    assert_same_log_prefix(src.store(), dst.store());
}

fn assert_same_log_prefix(a: &Store, b: &Store) {
    let end = b.written_offset();
    let x = a.read(0, u32::try_from(end).expect("small")).expect("a");
    let y = b.read(0, u32::try_from(end).expect("small")).expect("b");
    assert_eq!(x, y);
}

#[test]
fn a_cut_store_reopens_with_exactly_the_records_before_the_cut() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = config(&dir.path().join("s"), FlushMode::SyncFlush);
    let store = StoreHandle::open(cfg.clone()).expect("open");
    put_many(store.store(), 0, 200);
    let cut = store.store().written_offset();
    // Consume queues follow the log asynchronously; read them once they cover the cut.
    wait_dispatched(store.store());
    let before: Vec<_> = TOPICS
        .iter()
        .flat_map(|t| (0..QUEUES).map(move |q| (*t, q)))
        .map(|(t, q)| queue_messages(store.store(), t, q))
        .collect();
    // Past the cut: more than a segment's worth, which the cut must remove.
    put_many(store.store(), 200, 150);
    assert!(store.store().written_offset() > cut + 64 * 1024);
    store.shutdown().expect("shutdown");

    let removed = StoreHandle::truncate_log(&cfg, cut).expect("cut");
    assert!(removed > 64 * 1024);
    let store = StoreHandle::open(cfg).expect("reopen");
    assert_eq!(store.store().written_offset(), cut);
    wait_dispatched(store.store());
    let after: Vec<_> = TOPICS
        .iter()
        .flat_map(|t| (0..QUEUES).map(move |q| (*t, q)))
        .map(|(t, q)| queue_messages(store.store(), t, q))
        .collect();
    assert_eq!(before, after);
    // Keys of removed records are gone from the index; earlier ones remain.
    assert!(store
        .store()
        .query_by_key("Orders", "k300", 10, 0, i64::MAX)
        .expect("query")
        .is_empty());
    assert_eq!(
        store
            .store()
            .query_by_key("Orders", "k3", 10, 0, i64::MAX)
            .expect("query")
            .len(),
        1
    );
    // New appends continue each queue right after the cut.
    put_many(store.store(), 200, 3);
    wait_dispatched(store.store());
    let orders_q2 = queue_messages(store.store(), "Orders", 2);
    let offsets: Vec<u64> = orders_q2.iter().map(|(o, _)| *o).collect();
    assert_eq!(offsets, (0..offsets.len() as u64).collect::<Vec<_>>());
}
