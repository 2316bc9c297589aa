//! Stores written by earlier versions keep opening: the committed fixture `fixtures/v1` (written by
//! `examples/make_fixture.rs`) is copied to a temp dir, opened, and every message is checked.

use crate::fixture_support;

use std::path::Path;

use ferromq_model::properties::{self, keys};
use ferromq_model::record::{self, Entry};
use ferromq_store::{QueueRead, StoreHandle, TagFilter};
use fixture_support::{fixture_config, message, MESSAGES, TOPICS};

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read fixture dir") {
        let e = e.expect("entry");
        let target = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_tree(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).expect("copy");
        }
    }
}

#[test]
fn version_1_store_opens_and_reads_back_every_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v1"),
        dir.path(),
    );
    let h = StoreHandle::open(fixture_config(dir.path())).expect("open v1 store");
    assert!(h.recovery().clean, "the fixture was shut down cleanly");
    let s = h.store();
    let filter = TagFilter::All;
    let mut seen = 0;
    for topic in TOPICS {
        for q in 0..3 {
            let r = s
                .get_messages(&QueueRead {
                    topic,
                    queue_id: q,
                    from: 0,
                    max_msgs: 1000,
                    max_bytes: 1 << 24,
                    filter: &filter,
                })
                .expect("read");
            let expected: Vec<u32> = (0..MESSAGES)
                .filter(|i| message(*i).0 == topic && message(*i).1 == q)
                .collect();
            assert_eq!(r.messages.len(), expected.len(), "{topic}/{q}");
            for (bytes, i) in r.messages.iter().zip(expected) {
                let Ok(Entry::Message(rec)) = record::read(bytes, true) else {
                    panic!("bad record")
                };
                let (_, _, tag, key, body) = message(i);
                assert_eq!(rec.body, body.as_slice());
                assert_eq!(rec.flag, i as i32);
                assert_eq!(
                    properties::get(rec.properties, keys::TAGS),
                    Some(tag.as_str())
                );
                let hits = s.query_by_key(topic, &key, 5, 0, i64::MAX).expect("query");
                assert_eq!(hits.len(), 1, "key {key}");
                seen += 1;
            }
        }
    }
    assert_eq!(seen, MESSAGES);
    h.shutdown().expect("shutdown");
}
