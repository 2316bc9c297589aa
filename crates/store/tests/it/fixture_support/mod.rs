//! The content and configuration of the on-disk format fixtures, shared by the generator example and
//! the test that reads them back.

use std::path::Path;

use ferromq_store::StoreConfig;

/// Configuration the fixtures were written with (small files so they fit the repository).
pub fn fixture_config(root: &Path) -> StoreConfig {
    StoreConfig {
        commit_log_segment_bytes: 64 * 1024,
        max_message_bytes: 16 * 1024,
        consume_queue_entries_per_file: 16,
        index_hash_slots: 64,
        index_max_entries: 256,
        ..StoreConfig::new(root)
    }
}

pub const TOPICS: [&str; 2] = ["FixtureA", "%RETRY%fixture_group"];
pub const MESSAGES: u32 = 120;

/// Message `i`: topic, queue id, tag, key, body.
pub fn message(i: u32) -> (&'static str, u32, String, String, Vec<u8>) {
    let topic = TOPICS[(i % 2) as usize];
    let queue = i % 3;
    let tag = format!("tag{}", i % 4);
    let key = format!("key-{i}");
    let body = (0..(i * 37 % 900 + 1))
        .map(|b| (b as u8).wrapping_mul(i as u8 | 1))
        .collect();
    (topic, queue, tag, key, body)
}
